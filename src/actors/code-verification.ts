/**
 * The code-verification process's two effects, shared by email verification, login by code and
 * password reset by code (allauth's `AbstractCodeVerificationProcess`). Both count in the flow's
 * row (`storage/code-flows.ts`), one atomic update each, inside the step's transaction.
 *
 * `checkCode`, one order for every flow:
 *  1. take an attempt — none left, timed out, or no flow: `gone` (nothing compared);
 *  2. the verification the process points at must still be unused and unexpired, else `gone`;
 *  3. compare: no code is `required`, a mismatch (or a flow that can never succeed) is
 *     `incorrect_code`, both counted; the attempt that reaches the limit says `last`;
 *  4. a right code gives its attempt back: only wrong codes count.
 */
import { Clock, Effect } from "effect";
import { fromPromise } from "xstate";
import type { CheckCodeInput, CheckCodeOutput, ResendCodeOutput } from "../../machines/contracts.ts";
import type { ConfirmationRef } from "../../machines/signals.ts";
import type { Step } from "../runtime/step.ts";
import { normalizeCode, Tokens } from "../services/tokens.ts";
import type { AppServices } from "../runtime/step.ts";
import { returnCodeAttempt, returnCodeResend, setCodeVerification, takeCodeAttempt, takeCodeResend } from "../storage/code-flows.ts";
import type { VerificationRow } from "../storage/verifications.ts";
import { findVerificationById } from "../storage/verifications.ts";

/** Which persisted flow a step checks codes of, and its caps. */
export interface CodeProcess {
  readonly flowId: string;
  /** The digest purpose of its codes (verification rows). */
  readonly purpose: string;
  readonly maxAttempts: number;
  readonly maxResends: number;
  /** When the flow started (its first mail, or for a flow that cannot succeed, its stand-in). */
  readonly startedAt: number;
}

/** What a flow's resend mailed: the new verification (null: none, a flow that cannot succeed). */
export interface Reissued {
  readonly verificationId: string | null;
  readonly confirmation: ConfirmationRef | null;
  readonly signup: boolean;
}

/** A flow's own resend: mail a new code for the verification the process points at. */
export type Reissue = (previous: VerificationRow | null) => Effect.Effect<Reissued | "rate_limited", never, AppServices>;

/** Codes are short; anything longer is wrong without being digested. */
const maxCodeLength = 64;

export const checkCode = (process: CodeProcess, code: string | null) =>
  Effect.gen(function* () {
    const tokens = yield* Tokens;
    const now = yield* Clock.currentTimeMillis;
    const taken = yield* takeCodeAttempt(process.flowId, process.maxAttempts, now);
    if (taken === null) {
      return { result: "gone" } satisfies CheckCodeOutput;
    }
    const found = taken.verificationId === null ? null : yield* findVerificationById(taken.verificationId);
    const verification = found?.purpose === process.purpose ? found : null;
    // A missing row was swept after it expired (`storage/sweep.ts`).
    const swept = taken.verificationId !== null && found === null;
    if (swept || (verification !== null && (verification.used_at !== null || verification.expires_at <= now))) {
      return { result: "gone" } satisfies CheckCodeOutput;
    }
    const raw = code ?? "";
    const given = normalizeCode(raw);
    const right =
      verification !== null &&
      given !== "" &&
      raw.length <= maxCodeLength &&
      tokens.equal(verification.digest, tokens.digest(process.purpose, given));
    if (right) {
      yield* returnCodeAttempt(process.flowId);
      return { result: "right", verificationId: verification.id } satisfies CheckCodeOutput;
    }
    return {
      result: "wrong",
      error: raw.trim() === "" ? "required" : "incorrect_code",
      last: taken.count >= process.maxAttempts,
    } satisfies CheckCodeOutput;
  });

/** Takes a resend, mails through `reissue`, and points the process at the new code. */
export const resendCode = (process: CodeProcess, reissue: Reissue) =>
  Effect.gen(function* () {
    const now = yield* Clock.currentTimeMillis;
    const taken = yield* takeCodeResend(process.flowId, process.maxResends, now);
    if (taken === null) {
      return { result: "exhausted" } satisfies ResendCodeOutput;
    }
    const previous = taken.verificationId === null ? null : yield* findVerificationById(taken.verificationId);
    const issued = yield* reissue(previous);
    if (issued === "rate_limited") {
      // allauth counts a resend only once its mail went out.
      yield* returnCodeResend(process.flowId);
      return { result: "rate_limited" } satisfies ResendCodeOutput;
    }
    if (issued.verificationId !== null) {
      yield* setCodeVerification(process.flowId, issued.verificationId);
    }
    return { result: "sent", confirmation: issued.confirmation, signup: issued.signup } satisfies ResendCodeOutput;
  });

/** The machines' `checkCode` and `resendCode` actors for the flow a step resumed (or none). */
export function codeVerificationActors(step: Step, process: CodeProcess | null, reissue: Reissue) {
  const live = (): CodeProcess => {
    if (process === null) {
      throw new Error("no code process in this step");
    }
    return process;
  };
  return {
    checkCode: fromPromise<CheckCodeOutput, CheckCodeInput>(({ input }) =>
      step.write(checkCode(live(), input.code === null ? null : input.code.reveal())),
    ),
    resendCode: fromPromise<ResendCodeOutput, undefined>(() => step.write(resendCode(live(), reissue))),
  };
}
