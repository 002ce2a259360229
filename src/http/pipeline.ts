/**
 * Turning a rested flow that ran the login pipeline into an outcome: a pending verification is
 * parked in the session (code mode also persists its email-verification flow), a login answers
 * 200, a rejection 400, a conflict 409. A flow that failed throws, and the step rolls back.
 */
import { emailVerificationMachine } from "../../machines/email-verification.ts";
import type { PendingLogin } from "../../machines/contracts.ts";
import type { FlowError } from "../../machines/errors.ts";
import type { ResolvedConfig } from "../config.ts";
import { flowSettings } from "../config.ts";
import { emailVerificationActors } from "../actors/email-verification.ts";
import { withActors } from "../runtime/bound-machine.ts";
import { runMachine } from "../runtime/run-machine.ts";
import { causedBy } from "../runtime/step.ts";
import type { Step } from "../runtime/step.ts";
import type { AuthenticationDraft } from "../runtime/session.ts";
import { recordAuthentication } from "../runtime/session.ts";
import type { UserRef } from "../../machines/signals.ts";
import type { ResumedFlow } from "./code-flow.ts";
import { emailVerificationFlowKind, emailVerificationSpec, keepCodeFlow } from "./code-flow.ts";
import { setCodeVerification } from "../storage/code-flows.ts";
import { parkLoginCode } from "./login-by-code.ts";
import { dropPending, savePending } from "./pending-flow.ts";
import type { Outcome } from "./responses.ts";

interface Rested {
  hasTag(tag: string): boolean;
  readonly context: {
    readonly error: FlowError | null;
    readonly login: PendingLogin | null;
    readonly verificationId: string | null;
  };
}

/** Parks a login at the email verification stage. `login` null parks a fake (enumeration) one. */
export async function parkLogin(
  step: Step,
  config: ResolvedConfig,
  login: PendingLogin | null,
  verificationId: string | null,
  counts: { readonly changes?: number } = {},
  /** The session's live process, kept (its start, attempts and resends) with a new code. */
  resumed: ResumedFlow | null = null,
): Promise<void> {
  const pending = { flow: "verify_email", login, kind: emailVerificationFlowKind, ...counts } as const;
  if (!config.account.emailVerificationByCodeEnabled) {
    await savePending(step, config, pending, null);
    return;
  }
  const flow = await runMachine(step, withActors(emailVerificationMachine, emailVerificationActors(step, config)), {
    input: {
      settings: flowSettings(config),
      sessionUser: step.session.user,
      mode: "code",
      pendingLogin: login,
      verificationId,
    },
  });
  await keepCodeFlow(step, config, emailVerificationSpec(config), login, flow.persisted, resumed, verificationId, counts);
  if (resumed !== null) {
    await step.write(setCodeVerification(resumed.row.id, verificationId));
  }
}

/** A confirmed login code: the code's address (the login's, or else the primary one). */
export function codeRecord(context: { readonly login: PendingLogin | null; readonly user: UserRef | null }): AuthenticationDraft {
  const email = context.login?.email ?? context.user?.email ?? null;
  return { method: "code", ...(email === null ? {} : { email }) };
}

/** A reset that logs in (`loginOnPasswordReset`): code mode names the address, link mode does not. */
export function resetRecord(config: ResolvedConfig, context: { readonly login: PendingLogin | null }): AuthenticationDraft | null {
  const login = context.login;
  if (login?.method !== "password_reset") {
    return null;
  }
  const email = config.account.passwordResetByCodeEnabled ? (login.email ?? null) : null;
  return { method: "password_reset", ...(email === null ? {} : { email }) };
}

/** Drops whatever login the session had parked. */
export async function clearPending(step: Step): Promise<void> {
  await dropPending(step, null);
}

/**
 * Turns a rested flow into an outcome. `record` is what the step that just completed records in
 * the session (allauth's `record_authentication`, ALLAUTH-ERRORS §26), before any login or park.
 */
/**
 * A pipeline actor's failure: a code mail over `confirm_email` answers 429, a login whose checked
 * password was changed before its session started answers the password error (the step keeps
 * nothing in both cases); anything else is a defect.
 */
export function failedOutcome(step: Step, error: FlowError | null): Outcome {
  if (error?.code === "rate_limited") {
    return { kind: "errors", errors: [error] };
  }
  if (error !== null && step.discardWrites && error.code === step.checkedPassword?.error.code) {
    return { kind: "errors", errors: [error] };
  }
  throw new Error(`flow failed: ${error?.code ?? "unexpected"}`, causedBy(step));
}

export async function settle(
  step: Step,
  config: ResolvedConfig,
  rested: Rested,
  record: AuthenticationDraft | null = null,
): Promise<Outcome> {
  if (rested.hasTag("failed")) {
    return failedOutcome(step, rested.context.error);
  }
  if (record !== null) {
    recordAuthentication(step, record);
  }
  if (rested.hasTag("conflict")) {
    return { kind: "status", status: 409 };
  }
  if (rested.hasTag("rejected")) {
    return { kind: "errors", errors: [rested.context.error ?? { code: "unexpected" }] };
  }
  if (rested.hasTag("pending:login_by_code") && rested.context.login !== null) {
    await parkLoginCode(step, config, rested.context.login, rested.context.verificationId);
    return { kind: "session" };
  }
  if (rested.hasTag("pending:verify_email")) {
    await parkLogin(step, config, rested.context.login, rested.context.verificationId);
    return { kind: "session" };
  }
  return { kind: "session" };
}
