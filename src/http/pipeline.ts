/**
 * Turning a rested flow that ran the login pipeline into an outcome: a pending verification is
 * parked in the session (code mode also persists its email-verification flow), a login answers
 * 200, a rejection 400, a conflict 409. A flow that failed throws, and the step rolls back.
 */
import { Clock, Effect } from "effect";
import { emailVerificationMachine } from "../../machines/email-verification.ts";
import type { PendingLogin } from "../../machines/contracts.ts";
import type { FlowError } from "../../machines/errors.ts";
import type { ResolvedConfig } from "../config.ts";
import { flowSettings } from "../config.ts";
import { emailVerificationActors } from "../actors/email-verification.ts";
import { runMachine } from "../runtime/run-machine.ts";
import { saveSessionData } from "../runtime/session.ts";
import type { Step } from "../runtime/step.ts";
import { Tokens } from "../services/tokens.ts";
import { saveFlow } from "../storage/sessions.ts";
import type { Outcome } from "./responses.ts";

interface Rested {
  hasTag(tag: string): boolean;
  readonly context: { readonly error: FlowError | null; readonly login: PendingLogin | null; readonly verificationId: string | null };
}

export const emailVerificationFlowKind = "email-verification";

/** Parks a login at the email verification stage. `login` null parks a fake (enumeration) one. */
export async function parkLogin(
  step: Step,
  config: ResolvedConfig,
  login: PendingLogin | null,
  verificationId: string | null,
): Promise<void> {
  const now = await step.run(Clock.currentTimeMillis);
  const expiresAt = now + config.account.loginTimeout * 1000;
  if (!config.account.emailVerificationByCodeEnabled) {
    await step.write(saveSessionData(step, { ...step.session.data, pending: { flow: "verify_email", login, flowId: null, expiresAt } }));
    return;
  }
  const flow = await runMachine(step, emailVerificationMachine.provide({ actors: emailVerificationActors(step, config) }), {
    input: {
      settings: flowSettings(config),
      sessionUser: step.session.user,
      mode: "code",
      pendingLogin: login,
      verificationId: verificationId ?? "",
    },
  });
  const flowId = await step.run(Effect.map(Tokens, (t) => t.id()));
  await step.write(saveSessionData(step, { ...step.session.data, pending: { flow: "verify_email", login, flowId, expiresAt } }));
  await step.write(
    saveFlow({
      id: flowId,
      kind: emailVerificationFlowKind,
      session_id: step.session.id!,
      snapshot: JSON.stringify(flow.persisted),
      created_at: now,
      expires_at: expiresAt,
    }),
  );
}

/** Drops whatever login the session had parked. */
export async function clearPending(step: Step): Promise<void> {
  if (step.session.data.pending !== undefined && step.session.id !== null) {
    const { pending: _dropped, ...rest } = step.session.data;
    await step.write(saveSessionData(step, rest));
  }
}

export async function settle(step: Step, config: ResolvedConfig, rested: Rested): Promise<Outcome> {
  if (rested.hasTag("failed")) {
    throw new Error(`flow failed: ${rested.context.error?.code ?? "unexpected"}`);
  }
  if (rested.hasTag("conflict")) {
    return { kind: "status", status: 409 };
  }
  if (rested.hasTag("rejected")) {
    return { kind: "errors", errors: [rested.context.error ?? { code: "unexpected" }] };
  }
  if (rested.hasTag("pending:verify_email")) {
    await parkLogin(step, config, rested.context.login, rested.context.verificationId);
    return { kind: "session" };
  }
  return { kind: "session" };
}
