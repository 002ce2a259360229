/**
 * The HTTP side of the code-verification process, shared by `auth/email/verify` (code mode),
 * `auth/code/*` and `auth/password/reset` (code mode): finding the session's pending flow and its
 * process (or answering 409), storing it again while it awaits a code, ending it, and turning a
 * rested code flow into an outcome.
 */
import { Clock } from "effect";
import type { Snapshot } from "xstate";
import type { PendingLogin } from "../../machines/contracts.ts";
import type { FlowError } from "../../machines/errors.ts";
import type { CodeProcess } from "../actors/code-verification.ts";
import { loginCodePurpose, verificationPurposes } from "../actors/login-pipeline.ts";
import { resetPurposes } from "../actors/password-reset.ts";
import type { ResolvedConfig } from "../config.ts";
import type { AuthenticationDraft } from "../runtime/session.ts";
import type { PendingStage, Step } from "../runtime/step.ts";
import type { FlowRow } from "../storage/sessions.ts";
import { deleteFlow } from "../storage/sessions.ts";
import { dropPending, loadPending, passwordResetFlowKind, savePending } from "./pending-flow.ts";
import { failedOutcome, settle } from "./pipeline.ts";
import type { Outcome } from "./responses.ts";

/** One of the three code flows: its pending stage, its row kind, and its process's caps. */
export interface CodeFlowSpec {
  readonly flow: PendingStage["flow"];
  readonly kind: string;
  readonly purpose: string;
  readonly maxAttempts: number;
  readonly maxResends: number;
  readonly timeoutInSeconds: number;
}

export const emailVerificationFlowKind = "email-verification";
export const loginByCodeFlowKind = "login-by-code";
export { passwordResetFlowKind };

export function emailVerificationSpec(config: ResolvedConfig): CodeFlowSpec {
  return {
    flow: "verify_email",
    kind: emailVerificationFlowKind,
    purpose: verificationPurposes.code,
    maxAttempts: config.account.emailVerificationByCodeMaxAttempts,
    maxResends: config.account.emailVerificationMaxResends,
    timeoutInSeconds: config.account.emailVerificationByCodeTimeout,
  };
}

export function loginByCodeSpec(config: ResolvedConfig): CodeFlowSpec {
  return {
    flow: "login_by_code",
    kind: loginByCodeFlowKind,
    purpose: loginCodePurpose,
    maxAttempts: config.account.loginByCodeMaxAttempts,
    maxResends: config.account.loginByCodeMaxResends,
    timeoutInSeconds: config.account.loginByCodeTimeout,
  };
}

export function passwordResetSpec(config: ResolvedConfig): CodeFlowSpec {
  return {
    flow: "password_reset_by_code",
    kind: passwordResetFlowKind,
    purpose: resetPurposes.code,
    maxAttempts: config.account.passwordResetByCodeMaxAttempts,
    maxResends: 0,
    timeoutInSeconds: config.account.passwordResetByCodeTimeout,
  };
}

/** A pending code flow found in the step's session. */
export interface ResumedFlow {
  readonly row: FlowRow;
  readonly process: CodeProcess;
  readonly snapshot: Snapshot<unknown>;
  /** The session the flow belongs to (a login rotates it). */
  readonly sessionId: string | null;
}

/**
 * The session's pending flow of `spec`, or null (the caller answers 409): none, another
 * stage, or one whose process timed out (it is ended then, as allauth aborts it).
 */
export async function resumeCodeFlow(step: Step, spec: CodeFlowSpec): Promise<ResumedFlow | null> {
  const row = await loadPending(step, spec.flow);
  if (row === null) {
    return null;
  }
  const now = await step.run(Clock.currentTimeMillis);
  if (row.code_expires_at == null || row.code_expires_at <= now) {
    await dropPending(step, row);
    return null;
  }
  return {
    row,
    process: {
      flowId: row.id,
      purpose: spec.purpose,
      maxAttempts: spec.maxAttempts,
      maxResends: spec.maxResends,
      startedAt: Number(row.created_at),
    },
    snapshot: JSON.parse(row.snapshot),
    sessionId: step.session.id,
  };
}

/**
 * Stores a flow that rests awaiting a code: the resumed row's snapshot (its counters stay), or a
 * new row whose process starts now with `verificationId`.
 */
export async function keepCodeFlow(
  step: Step,
  config: ResolvedConfig,
  spec: CodeFlowSpec,
  login: PendingLogin | null,
  persisted: unknown,
  resumed: ResumedFlow | null,
  verificationId: string | null,
  /** Email verification: how often the signup changed its address (allauth's `change_count`). */
  counts: { readonly changes?: number } = {},
): Promise<void> {
  const pending = { flow: spec.flow, login, kind: spec.kind, ...counts };
  await savePending(step, config, pending, persisted, resumed?.row ?? null, {
    verificationId,
    timeoutInSeconds: spec.timeoutInSeconds,
  });
}

/** Ends the flow: its row, and the stage the session held (unless a login replaced the session). */
export async function endCodeFlow(step: Step, resumed: ResumedFlow | null): Promise<void> {
  if (resumed !== null && step.session.id !== resumed.sessionId) {
    await step.write(deleteFlow(resumed.row.id));
    return;
  }
  await dropPending(step, resumed?.row ?? null);
}

/** What the edge needs of a rested code-flow machine. */
export interface RestedCodeFlow {
  hasTag(tag: string): boolean;
  readonly context: {
    readonly error: FlowError | null;
    readonly login: PendingLogin | null;
    readonly verificationId: string | null;
  };
}

/**
 * The outcome of one event of a resumed code flow: 409 once there is no live process (or no
 * resend left), 429 for the resend cooldown, the code's error (and `extra`, errors of the rest
 * of the input) while it still awaits a code, and — once it is over — the aborting error or what
 * the login pipeline decided (`record`: what the completed step records in the session).
 * `resting` is the flow's answer while it awaits a code.
 */
export async function settleCodeFlow(
  step: Step,
  config: ResolvedConfig,
  resumed: ResumedFlow,
  rested: RestedCodeFlow,
  keep: () => Promise<void>,
  resting: Outcome,
  extra: ReadonlyArray<FlowError> = [],
  record: AuthenticationDraft | null = null,
): Promise<Outcome> {
  const error = rested.context.error;
  if (rested.hasTag("failed")) {
    return failedOutcome(step, error);
  }
  if (rested.hasTag("code:gone")) {
    await endCodeFlow(step, resumed);
    return { kind: "status", status: 409 };
  }
  if (rested.hasTag("code:pending")) {
    // A refused resend changed nothing worth storing.
    if (error?.code === "rate_limited") {
      return { kind: "status", status: 429 };
    }
    if (error?.code === "flow_not_pending") {
      return { kind: "status", status: 409 };
    }
    await keep();
    const errors = [...(error === null ? [] : [error]), ...extra];
    return errors.length === 0 ? resting : { kind: "errors", errors };
  }
  await endCodeFlow(step, resumed);
  if (rested.hasTag("code:ended")) {
    // The last attempt was wrong: it still answers its error; the next call gets 409.
    return { kind: "errors", errors: [...(error === null ? [] : [error]), ...extra] };
  }
  return settle(step, config, rested, record);
}
