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

/** The row kind of a password reset by code (`code-flow.ts`). */
export const passwordResetFlowKind = "password-reset";

/** Where the session keeps a flow: the login's stage, or the password reset's own slot. */
type Slot = "pending" | "reset";
const slotOf = (flow: PendingStage["flow"]): Slot => (flow === "password_reset_by_code" ? "reset" : "pending");

/** The session's pending login stage, if it has one that has not timed out. */
export function pendingOf(session: SessionState, now: number): PendingStage | null {
  return liveIn(session, "pending", now);
}

/** The session's pending password reset by code, if it has not timed out. */
export function pendingResetOf(session: SessionState, now: number): PendingStage | null {
  return liveIn(session, "reset", now);
}

function liveIn(session: SessionState, slot: Slot, now: number): PendingStage | null {
  const pending = session.data[slot];
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
    [slotOf(pending.flow)]: {
      flow: pending.flow,
      login: pending.login,
      flowId,
      expiresAt,
      ...(pending.changes ? { changes: pending.changes } : {}),
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
  const pending = liveIn(step.session, slotOf(flow), now);
  if (pending === null || pending.flow !== flow || pending.flowId === null || step.session.id === null) {
    return null;
  }
  return step.run(findFlow(pending.flowId, step.session.id, now));
}

/**
 * Ends a pending stage and deletes its persisted flow: the password reset's when `row` is one,
 * or `flow` says so; else the login's.
 */
export async function dropPending(step: Step, row: FlowRow | null, flow: PendingStage["flow"] = "verify_email"): Promise<void> {
  if (row !== null) {
    await step.write(deleteFlow(row.id));
  }
  const slot = row?.kind === passwordResetFlowKind ? "reset" : slotOf(flow);
  if (step.session.data[slot] !== undefined && step.session.id !== null) {
    const rest = { ...step.session.data };
    delete rest[slot];
    await step.write(saveSessionData(step, rest));
  }
}
