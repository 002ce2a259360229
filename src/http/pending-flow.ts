/**
 * Flows that span requests (code-mode email verification, password reset by code, login by
 * code) are persisted snapshots keyed by a flow id; the session names the one pending flow.
 * Only resting snapshots are stored, and a flow is readable only from the session that owns it.
 */
import { Clock, Effect } from "effect";
import type { PendingLogin } from "../../machines/contracts.ts";
import type { ResolvedConfig } from "../config.ts";
import { saveSessionData } from "../runtime/session.ts";
import type { PendingStage, SessionState, Step } from "../runtime/step.ts";
import { Tokens } from "../services/tokens.ts";
import { deleteFlow, findFlow, insertFlow, updateFlowSnapshot } from "../storage/sessions.ts";
import type { FlowRow } from "../storage/sessions.ts";

/** The session's pending stage, if it has one that has not timed out. */
export function pendingOf(session: SessionState, now: number): PendingStage | null {
  const pending = session.data.pending;
  return pending !== undefined && pending.expiresAt > now ? pending : null;
}

/** A new code flow's process: the verification holding its code, and its timeout. */
export interface NewCodeProcess {
  readonly verificationId: string | null;
  readonly timeoutInSeconds: number;
}

/**
 * Makes `flow` the session's pending stage (creating an anonymous session row if needed) and,
 * when a snapshot is given, stores it: a new flow row (with `code`, its process), or the
 * existing one's snapshot replaced (its counters untouched).
 */
export async function savePending(
  step: Step,
  config: ResolvedConfig,
  pending: {
    readonly flow: PendingStage["flow"];
    readonly login: PendingLogin | null;
    readonly kind: string;
    readonly changes?: number;
    readonly resends?: number;
  },
  persisted: unknown | null,
  existing: FlowRow | null = null,
  code: NewCodeProcess | null = null,
): Promise<void> {
  const now = await step.run(Clock.currentTimeMillis);
  const expiresAt = existing?.expires_at ?? now + config.account.loginTimeout * 1000;
  const flowId = persisted === null ? null : (existing?.id ?? (await step.run(Effect.map(Tokens, (t) => t.id()))));
  const data = {
    ...step.session.data,
    pending: {
      flow: pending.flow,
      login: pending.login,
      flowId,
      expiresAt,
      ...(pending.changes ? { changes: pending.changes } : {}),
      ...(pending.resends ? { resends: pending.resends } : {}),
    },
  };
  if (existing !== null && flowId !== null) {
    // The flow's row first, then the session's: every step that holds both takes them in this
    // order (a code check locks the flow row at its first statement), so none waits in a cycle.
    await step.write(updateFlowSnapshot(existing.id, JSON.stringify(persisted)));
    await step.write(saveSessionData(step, data));
    return;
  }
  await step.write(saveSessionData(step, data));
  if (flowId === null) {
    return;
  }
  await step.write(
    insertFlow({
      id: flowId,
      kind: pending.kind,
      session_id: step.session.id!,
      snapshot: JSON.stringify(persisted),
      created_at: now,
      expires_at: expiresAt,
      verification_id: code?.verificationId ?? null,
      code_expires_at: code === null ? null : now + code.timeoutInSeconds * 1000,
    }),
  );
}

/** The persisted flow of the session's pending stage `flow`, or null. */
export async function loadPending(step: Step, flow: PendingStage["flow"]): Promise<FlowRow | null> {
  const now = await step.run(Clock.currentTimeMillis);
  const pending = pendingOf(step.session, now);
  if (pending === null || pending.flow !== flow || pending.flowId === null || step.session.id === null) {
    return null;
  }
  return step.run(findFlow(pending.flowId, step.session.id, now));
}

/** Ends the session's pending stage and deletes its persisted flow. */
export async function dropPending(step: Step, row: FlowRow | null): Promise<void> {
  if (row !== null) {
    await step.write(deleteFlow(row.id));
  }
  if (step.session.data.pending !== undefined && step.session.id !== null) {
    const { pending: _dropped, ...rest } = step.session.data;
    await step.write(saveSessionData(step, rest));
  }
}
