/**
 * Email verification (allauth `flows/email_verification.verify_email`), by link key or, with
 * `account.emailVerificationByCodeEnabled`, by code.
 *
 * Confirming emits `email_added` (code-mode add only) → `email_confirmed` → `email_changed`
 * (with `account.changeEmail`). Then a parked login resumes through the login pipeline:
 * always in code mode; in link mode only with `account.loginOnEmailConfirmation`, in the session
 * that holds the parked login, when nobody is logged in.
 *
 * Code mode is a persisted flow: it rests in `awaitingCode` between requests, counts wrong codes
 * (the flow is aborted at the limit) and re-sends within its quota.
 */
import { assign, emit, enqueueActions, setup } from "xstate";
import type {
  ConfirmEmailCodeInput,
  ConfirmEmailKeyInput,
  ConfirmEmailOutput,
  FlowInput,
  PendingLogin,
} from "./contracts.ts";
import { toFlowError } from "./errors.ts";
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
  readonly attempts: number;
  readonly resends: number;
  /** The key or code between `VERIFY` and the actor that checks it; cleared before any rest. */
  readonly secret: Secret | null;
}

export type EmailVerificationEvent =
  | { readonly type: "VERIFY"; readonly key: Secret }
  | { readonly type: "RESEND" };

type DoneConfirm = { readonly output: ConfirmEmailOutput };

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
    ...loginPipelineActors,
  },
  guards: {
    isCodeMode: ({ context }) => context.mode === "code",
    canResend: ({ context }) => context.resends < context.settings.emailVerificationMaxResends,
    isLastAttempt: ({ context }) => context.attempts + 1 >= context.settings.emailVerificationMaxAttempts,
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
    forgetSecret: assign({ secret: null }),
    emitConfirmation: enqueueActions(({ context, event, enqueue }) => {
      const { output } = event as unknown as DoneConfirm;
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
    storeConfirmed: assign(({ context, event }) => {
      const { output } = event as unknown as DoneConfirm;
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
    attempts: 0,
    resends: 0,
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
        onDone: { target: "confirmed", actions: ["storeConfirmed", "emitConfirmation"] },
        onError: {
          target: "rejected",
          actions: [assign({ error: ({ event }) => toFlowError(event.error) }), "forgetSecret"],
        },
      },
    },
    /** Code mode: rests here between requests. */
    awaitingCode: {
      tags: ["pending:verify_email"],
      on: {
        VERIFY: { target: "checkingCode", actions: assign({ secret: ({ event }) => event.key, error: null }) },
        RESEND: [
          {
            // An enumeration-prevention fake flow answers as a real resend would, sending nothing.
            guard: ({ context }) =>
              context.pendingLogin === null && context.resends < context.settings.emailVerificationMaxResends,
            target: "awaitingCode",
            actions: assign({ error: null, resends: ({ context }) => context.resends + 1 }),
          },
          { guard: "canResend", target: "resending", actions: assign({ error: null }) },
          { target: "awaitingCode", actions: assign({ error: { code: "too_many_attempts" } }) },
        ],
      },
    },
    checkingCode: {
      invoke: {
        src: "confirmEmailCode",
        input: ({ context }) => ({ verificationId: context.verificationId!, code: context.secret! }),
        onDone: { target: "confirmed", actions: ["storeConfirmed", "emitConfirmation"] },
        onError: [
          {
            guard: { type: "isLastAttempt" },
            target: "aborted",
            actions: [assign({ error: ({ event }) => toFlowError(event.error) }), "forgetSecret"],
          },
          {
            guard: ({ event }) => toFlowError(event.error).code === "incorrect_code",
            target: "awaitingCode",
            actions: assign({
              error: ({ event }) => toFlowError(event.error),
              attempts: ({ context }) => context.attempts + 1,
              secret: null,
            }),
          },
          {
            target: "aborted",
            actions: [assign({ error: ({ event }) => toFlowError(event.error) }), "forgetSecret"],
          },
        ],
      },
    },
    resending: {
      invoke: {
        src: "sendVerificationEmail",
        input: ({ context }) => ({
          userId: context.pendingLogin!.userId,
          emailAddressId: context.pendingLogin!.emailAddressId,
          signup: context.pendingLogin!.signup,
        }),
        onDone: [
          {
            guard: ({ event }) => event.output.sent,
            target: "awaitingCode",
            actions: [
              assign({
                verificationId: ({ event }) => event.output.verificationId,
                resends: ({ context }) => context.resends + 1,
              }),
              emit(({ context, event }) => ({
                type: "email_confirmation_sent" as const,
                confirmation: event.output.confirmation!,
                signup: event.output.signup ?? context.pendingLogin!.signup,
              })),
            ],
          },
          { target: "awaitingCode", actions: assign({ error: { code: "rate_limited" } }) },
        ],
        onError: { target: "awaitingCode", actions: assign({ error: ({ event }) => toFlowError(event.error) }) },
      },
    },
    confirmed: {
      always: [{ guard: "canResumeLogin", target: "checkingActive" }, { target: "verified" }],
    },
    ...loginPipelineStates,
    /** The address is verified; no login resumed. */
    verified: { type: "final", tags: ["done"] },
    /** Bad or expired key. */
    rejected: { type: "final", tags: ["rejected"] },
    /** Code mode: too many wrong codes, or the code expired; the flow is over. */
    aborted: { type: "final", tags: ["rejected"] },
  },
});
