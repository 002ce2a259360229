/**
 * Email verification (allauth `flows/email_verification.verify_email`), by link key or, with
 * `account.emailVerificationByCodeEnabled`, by code.
 *
 * Confirming emits `email_added` (code-mode add only) → `email_confirmed` → `email_changed`
 * (with `account.changeEmail`). Then a parked login resumes through the login pipeline:
 * always in code mode; in link mode only with `account.loginOnEmailConfirmation`, in the session
 * that holds the parked login, when nobody is logged in.
 *
 * Code mode is the shared code-verification process (`code-verification.ts`): it rests in
 * `awaitingCode` between requests; wrong codes and resends are counted in the flow's row.
 */
import { assign, enqueueActions, setup } from "xstate";
import { codeVerificationActors, codeVerificationGuards, codeVerificationStates } from "./code-verification.ts";
import type { CodeVerificationEvent } from "./code-verification.ts";
import { codeErrorOf, failureOf, resendErrorOf, resendSignalOf, rightVerificationOf } from "./code-verification.ts";
import type {
  ConfirmEmailCodeInput,
  ConfirmEmailKeyInput,
  ConfirmEmailOutput,
  FlowInput,
  PendingLogin,
} from "./contracts.ts";
import { initialPipelineContext, loginPipelineActors, loginPipelineStates } from "./login-pipeline.ts";
import type { LoginPipelineContext } from "./login-pipeline.ts";
import { notProvided } from "./not-provided.ts";
import type { Secret } from "./secret.ts";
import type { AuthSignal } from "./signals.ts";

export interface EmailVerificationInput extends FlowInput {
  readonly mode: "link" | "code";
  /** The login parked in this session by the verification stage, if any. */
  readonly pendingLogin: PendingLogin | null;
  /** Code mode: the verification that holds the code. */
  readonly verificationId: string | null;
}

export interface EmailVerificationContext extends LoginPipelineContext {
  readonly mode: "link" | "code";
  readonly pendingLogin: PendingLogin | null;
  /** The key or code between an event and the actor that checks it; cleared before any rest. */
  readonly secret: Secret | null;
}

/** `VERIFY` carries a link key (link mode); code mode takes `CODE` and `RESEND`. */
export type EmailVerificationEvent = { readonly type: "VERIFY"; readonly key: Secret } | CodeVerificationEvent;

export const emailVerificationMachine = setup({
  types: {
    context: {} as EmailVerificationContext,
    events: {} as EmailVerificationEvent,
    input: {} as EmailVerificationInput,
    emitted: {} as AuthSignal,
  },
  actors: {
    confirmEmailKey: notProvided<ConfirmEmailKeyInput, ConfirmEmailOutput>("confirmEmailKey"),
    confirmEmailCode: notProvided<ConfirmEmailCodeInput, ConfirmEmailOutput>("confirmEmailCode"),
    ...codeVerificationActors,
    ...loginPipelineActors,
  },
  guards: {
    ...codeVerificationGuards,
    isCodeMode: ({ context }) => context.mode === "code",
    canResumeLogin: ({ context }) => {
      const login = context.pendingLogin;
      if (login === null || context.user === null || login.userId !== context.user.id) {
        return false;
      }
      if (context.sessionUser !== null) {
        return false;
      }
      return context.mode === "code" || context.settings.loginOnEmailConfirmation;
    },
  },
  actions: {
    takeCode: assign({ secret: ({ event }) => (event.type === "CODE" ? event.code : null), error: null }),
    storeCodeResult: assign({
      secret: null,
      error: ({ event }) => codeErrorOf(event, "key"),
      verificationId: ({ context, event }) => rightVerificationOf(event) ?? context.verificationId,
    }),
    storeResendResult: assign({ error: ({ event }) => resendErrorOf(event) }),
    announceResend: enqueueActions(({ event, enqueue }) => {
      const signal = resendSignalOf(event);
      if (signal !== null) {
        enqueue.emit(signal);
      }
    }),
    storeError: assign({ secret: null, error: ({ event }) => failureOf(event) }),
    emitConfirmation: enqueueActions(({ context, enqueue }, output: ConfirmEmailOutput) => {
      if (output.added) {
        enqueue.emit({ type: "email_added", user: output.user, emailAddress: output.emailAddress });
      }
      enqueue.emit({ type: "email_confirmed", emailAddress: output.emailAddress });
      if (context.settings.changeEmail) {
        enqueue.emit({
          type: "email_changed",
          user: output.user,
          fromEmailAddress: output.fromEmailAddress,
          toEmailAddress: output.emailAddress,
        });
      }
    }),
    storeConfirmed: assign(({ context }, output: ConfirmEmailOutput) => {
      const parked = context.pendingLogin?.emailAddressId ?? null;
      return {
        user: output.user,
        // A login by email resumes only once that very address is verified (else the stage mails again).
        emailVerified: parked === null || parked === output.emailAddress.id,
        // A login parks at verification only after the login-code stage: it is not asked again.
        codeVerified: true,
        login: context.pendingLogin,
        secret: null,
        error: null,
      };
    }),
  },
}).createMachine({
  id: "email-verification",
  context: ({ input }) => ({
    ...initialPipelineContext(input.settings, input.sessionUser),
    mode: input.mode,
    pendingLogin: input.pendingLogin,
    verificationId: input.verificationId,
    secret: null,
  }),
  initial: "starting",
  states: {
    starting: {
      always: [{ guard: "isCodeMode", target: "awaitingCode" }, { target: "awaitingKey" }],
    },
    /** Link mode: one request, one key. */
    awaitingKey: {
      on: { VERIFY: { target: "confirmingKey", actions: assign({ secret: ({ event }) => event.key }) } },
    },
    confirmingKey: {
      invoke: {
        src: "confirmEmailKey",
        input: ({ context }) => ({ key: context.secret! }),
        onDone: {
          target: "confirmed",
          actions: [
            { type: "storeConfirmed", params: ({ event }) => event.output },
            { type: "emitConfirmation", params: ({ event }) => event.output },
          ],
        },
        onError: { target: "rejected", actions: "storeError" },
      },
    },
    ...codeVerificationStates,
    /** Code mode: the code was right; the address is verified now. */
    codeRight: {
      invoke: {
        src: "confirmEmailCode",
        input: ({ context }) => ({ verificationId: context.verificationId! }),
        onDone: {
          target: "confirmed",
          actions: [
            { type: "storeConfirmed", params: ({ event }) => event.output },
            { type: "emitConfirmation", params: ({ event }) => event.output },
          ],
        },
        // Refused (the address was verified by another account meanwhile): the flow stays.
        onError: { target: "awaitingCode", actions: "storeError" },
      },
    },
    confirmed: {
      always: [{ guard: "canResumeLogin", target: "checkingActive" }, { target: "verified" }],
    },
    ...loginPipelineStates,
    /** The address is verified; no login resumed. */
    verified: { type: "final", tags: ["done"] },
    /** Link mode: a bad or expired key. */
    rejected: { type: "final", tags: ["rejected"] },
  },
});
