/**
 * allauth's one code-verification process (`flows/code_verification`), shared by the three code
 * flows — email verification, login by code and password reset by code — as a state fragment
 * each of them spreads into its chart (as it spreads the login pipeline):
 *
 *  - `awaitingCode` rests (persisted) between requests; `CODE` checks a code, `RESEND` mails a
 *    new one.
 *  - `checkingCode` runs `checkCode`, which counts the attempt in the flow's database row (never
 *    in the snapshot): a right code goes on to the flow's own `codeRight` state; a wrong one
 *    rests again with `incorrect_code` (`required` when none was sent), and the attempt that
 *    reaches the limit still answers it but ends the flow (`codeAborted`); a flow that is no
 *    longer live (timed out, ended, out of attempts) ends at `codeGone`.
 *  - `resendingCode` runs `resendCode`, which counts the resend in the row too.
 *
 * A flow that spreads these states provides the actors `checkCode` and `resendCode`, the guards
 * below, a `codeRight` state, the pipeline's `failed` state, and the actions `takeCode`,
 * `storeCodeResult`, `storeResendResult`, `announceResend` and `storeError` (one line each, built
 * from the helpers here).
 */
import type { EventObject } from "xstate";
import type { CheckCodeInput, CheckCodeOutput, ResendCodeOutput } from "./contracts.ts";
import type { FlowError } from "./errors.ts";
import { toFlowError } from "./errors.ts";
import { notProvided } from "./not-provided.ts";
import type { Secret } from "./secret.ts";
import type { AuthSignal } from "./signals.ts";

/** The events every code flow accepts while it awaits a code. */
export type CodeVerificationEvent = { readonly type: "CODE"; readonly code: Secret | null } | { readonly type: "RESEND" };

/** The part of a code flow's context the fragment reads. */
export interface CodeVerificationContext {
  /** The code between `CODE` and `checkCode`; cleared before any rest. */
  readonly secret: Secret | null;
  readonly error: FlowError | null;
}

export const codeVerificationActors = {
  checkCode: notProvided<CheckCodeInput, CheckCodeOutput>("checkCode"),
  resendCode: notProvided<undefined, ResendCodeOutput>("resendCode"),
};

function isCheckOutput(value: unknown): value is CheckCodeOutput {
  return typeof value === "object" && value !== null && "result" in value && ["right", "wrong", "gone"].includes(String(value.result));
}

function isResendOutput(value: unknown): value is ResendCodeOutput {
  return typeof value === "object" && value !== null && "result" in value && ["sent", "exhausted", "rate_limited"].includes(String(value.result));
}

/** The `checkCode` result a done event carries, or null. */
export function checkResult(event: EventObject): CheckCodeOutput | null {
  return "output" in event && isCheckOutput(event.output) ? event.output : null;
}

/** The `resendCode` result a done event carries, or null. */
export function resendResult(event: EventObject): ResendCodeOutput | null {
  return "output" in event && isResendOutput(event.output) ? event.output : null;
}

/** The error a checked code leaves in context (`param` names the field the code came in). */
export function codeErrorOf(event: EventObject, param: string): FlowError | null {
  const result = checkResult(event);
  return result?.result === "wrong" ? { code: result.error, param } : null;
}

/** The verification a right code matched. */
export function rightVerificationOf(event: EventObject): string | null {
  const result = checkResult(event);
  return result?.result === "right" ? result.verificationId : null;
}

/** The error a resend leaves in context: `rate_limited` (429) or `flow_not_pending` (409). */
export function resendErrorOf(event: EventObject): FlowError | null {
  const result = resendResult(event);
  if (result?.result === "rate_limited") {
    return { code: "rate_limited" };
  }
  return result?.result === "exhausted" ? { code: "flow_not_pending" } : null;
}

/** `email_confirmation_sent` for a resend that mailed a verification code, else null. */
export function resendSignalOf(event: EventObject): AuthSignal | null {
  const result = resendResult(event);
  return result?.result === "sent" && result.confirmation !== null
    ? { type: "email_confirmation_sent", confirmation: result.confirmation, signup: result.signup }
    : null;
}

/** The flow error an actor's error event carries. */
export function failureOf(event: EventObject): FlowError {
  return toFlowError("error" in event ? event.error : null);
}

export const codeVerificationGuards = {
  isRightCode: ({ event }: { event: EventObject }) => checkResult(event)?.result === "right",
  isLastWrongCode: ({ event }: { event: EventObject }) => {
    const result = checkResult(event);
    return result?.result === "wrong" && result.last;
  },
  isWrongCode: ({ event }: { event: EventObject }) => checkResult(event)?.result === "wrong",
  isResent: ({ event }: { event: EventObject }) => resendResult(event)?.result === "sent",
};

export const codeVerificationStates = {
  /** Rests here (persisted) until a code is checked. */
  awaitingCode: {
    tags: ["code:pending"],
    on: {
      CODE: { target: "checkingCode", actions: "takeCode" },
      RESEND: { target: "resendingCode" },
    },
  },
  checkingCode: {
    invoke: {
      src: "checkCode",
      input: ({ context }: { context: CodeVerificationContext }) => ({ code: context.secret }),
      onDone: [
        { guard: "isRightCode", target: "codeRight", actions: "storeCodeResult" },
        { guard: "isLastWrongCode", target: "codeAborted", actions: "storeCodeResult" },
        { guard: "isWrongCode", target: "awaitingCode", actions: "storeCodeResult" },
        { target: "codeGone", actions: "storeCodeResult" },
      ],
      onError: { target: "failed", actions: "storeError" },
    },
  },
  resendingCode: {
    invoke: {
      src: "resendCode",
      onDone: [
        { guard: "isResent", target: "awaitingCode", actions: ["storeResendResult", "announceResend"] },
        { target: "awaitingCode", actions: "storeResendResult" },
      ],
      onError: { target: "failed", actions: "storeError" },
    },
  },
  /** The last allowed attempt was wrong: it answers `incorrect_code`, and the flow is over. */
  codeAborted: { type: "final", tags: ["rejected", "code:ended"] },
  /** No live process (timed out, already ended, out of attempts): HTTP 409. */
  codeGone: { type: "final", tags: ["code:gone", "code:ended"] },
} as const;
