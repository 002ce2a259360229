/**
 * Login by code (allauth `flows/login_by_code`): a one-time code mailed to an address logs its
 * user in; also the second step of a login when `loginByCodeRequired` says so.
 *
 *  - request: no signal; an unknown address gets an "unknown account" mail and a flow that looks
 *    the same and can never succeed. Rests (persisted) in `awaitingCode`.
 *  - confirm: the code proves the address — `email_confirmed` when it was not yet verified —
 *    then the login pipeline: `user_logged_in`.
 *  - as a required stage the flow starts in `awaitingCode` with the parked login; the code
 *    completes that login.
 *  - wrong codes count; at the limit the flow is aborted and even the right code is refused.
 */
import { and, assign, enqueueActions, setup } from "xstate";
import type {
  ConfirmLoginCodeInput,
  ConfirmLoginCodeOutput,
  FlowInput,
  PendingLogin,
  RequestLoginCodeInput,
  ResendLoginCodeInput,
  SendLoginCodeOutput,
} from "./contracts.ts";
import { toFlowError } from "./errors.ts";
import { initialPipelineContext, loginPipelineActors, loginPipelineStates } from "./login-pipeline.ts";
import type { LoginPipelineContext } from "./login-pipeline.ts";
import { notProvided } from "./not-provided.ts";
import type { Secret } from "./secret.ts";
import type { AuthSignal } from "./signals.ts";

export interface LoginByCodeInput extends FlowInput {
  readonly maxAttempts: number;
  readonly maxResends: number;
  /** As a required second step: the login parked by the pipeline, and its code. */
  readonly stage: { readonly login: PendingLogin; readonly verificationId: string | null } | null;
}

export interface LoginByCodeContext extends LoginPipelineContext {
  readonly maxAttempts: number;
  readonly maxResends: number;
  readonly attempts: number;
  readonly resends: number;
  /** The parked login this code completes (stage mode), or null (a login by code). */
  readonly stageLogin: PendingLogin | null;
  readonly secret: Secret | null;
}

export type LoginByCodeEvent =
  | { readonly type: "REQUEST"; readonly email: string }
  | { readonly type: "CONFIRM"; readonly code: Secret }
  | { readonly type: "RESEND" };

type DoneConfirm = { readonly output: ConfirmLoginCodeOutput };

export const loginByCodeMachine = setup({
  types: {
    context: {} as LoginByCodeContext,
    events: {} as LoginByCodeEvent,
    input: {} as LoginByCodeInput,
    emitted: {} as AuthSignal,
  },
  actors: {
    requestLoginCode: notProvided<RequestLoginCodeInput, SendLoginCodeOutput>("requestLoginCode"),
    confirmLoginCode: notProvided<ConfirmLoginCodeInput, ConfirmLoginCodeOutput>("confirmLoginCode"),
    resendLoginCode: notProvided<ResendLoginCodeInput, SendLoginCodeOutput>("resendLoginCode"),
    ...loginPipelineActors,
  },
  guards: {
    isStage: ({ context }) => context.stageLogin !== null,
    isAuthenticated: ({ context }) => context.sessionUser !== null,
    isLastAttempt: ({ context }) => context.attempts + 1 >= context.maxAttempts,
    canResend: ({ context }) => context.resends < context.maxResends,
    /** An unknown address's flow has nobody to mail: it answers a resend as if it had. */
    isFake: ({ context }) => context.verificationId === null,
  },
  actions: {
    storeError: assign({ error: ({ event }) => toFlowError((event as unknown as { error: unknown }).error) }),
    storeConfirmed: assign(({ context, event }) => {
      const { output } = event as unknown as DoneConfirm;
      const login: PendingLogin = context.stageLogin ?? {
        userId: output.user.id,
        signup: false,
        emailAddressId: output.emailAddress.id,
        method: "code",
        email: output.emailAddress.email,
      };
      return {
        user: output.user,
        login,
        // The code verified its address when it could; the verification stage still checks.
        emailVerified: output.emailAddress.verified,
        codeVerified: true,
        secret: null,
        error: null,
      };
    }),
    emitConfirmed: enqueueActions(({ event, enqueue }) => {
      const { output } = event as unknown as DoneConfirm;
      if (output.verifiedNow) {
        enqueue.emit({ type: "email_confirmed", emailAddress: output.emailAddress });
      }
    }),
  },
}).createMachine({
  id: "login-by-code",
  context: ({ input }) => ({
    ...initialPipelineContext(input.settings, input.sessionUser),
    maxAttempts: input.maxAttempts,
    maxResends: input.maxResends,
    attempts: 0,
    resends: 0,
    stageLogin: input.stage?.login ?? null,
    verificationId: input.stage?.verificationId ?? null,
    secret: null,
  }),
  initial: "starting",
  states: {
    starting: {
      always: [{ guard: "isStage", target: "awaitingCode" }, { target: "idle" }],
    },
    idle: {
      on: {
        REQUEST: [{ guard: "isAuthenticated", target: "conflict" }, { target: "requesting" }],
      },
    },
    requesting: {
      invoke: {
        src: "requestLoginCode",
        input: ({ event }) => ({ email: (event as { email: string }).email }),
        onDone: {
          target: "awaitingCode",
          actions: assign({ verificationId: ({ event }) => event.output.verificationId }),
        },
        onError: { target: "rejected", actions: "storeError" },
      },
    },
    /** Rests here (persisted) until the code is confirmed. */
    awaitingCode: {
      tags: ["pending:login_by_code"],
      on: {
        CONFIRM: { target: "checkingCode", actions: assign({ secret: ({ event }) => event.code, error: null }) },
        RESEND: [
          {
            guard: and(["isFake", "canResend"]),
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
        src: "confirmLoginCode",
        input: ({ context }) => ({ verificationId: context.verificationId ?? "", code: context.secret! }),
        onDone: { target: "checkingActive", actions: ["storeConfirmed", "emitConfirmed"] },
        onError: [
          { guard: "isLastAttempt", target: "aborted", actions: ["storeError", assign({ secret: null })] },
          {
            guard: ({ event }) => toFlowError(event.error).code === "incorrect_code",
            target: "awaitingCode",
            actions: ["storeError", assign({ secret: null, attempts: ({ context }) => context.attempts + 1 })],
          },
          { target: "aborted", actions: ["storeError", assign({ secret: null })] },
        ],
      },
    },
    resending: {
      invoke: {
        src: "resendLoginCode",
        input: ({ context }) => ({ verificationId: context.verificationId! }),
        onDone: {
          target: "awaitingCode",
          actions: assign({
            verificationId: ({ event }) => event.output.verificationId,
            resends: ({ context }) => context.resends + 1,
          }),
        },
        onError: { target: "awaitingCode", actions: "storeError" },
      },
    },
    ...loginPipelineStates,
    /** Somebody is already logged in (HTTP 409). */
    conflict: { type: "final", tags: ["conflict"] },
    rejected: { type: "final", tags: ["rejected"] },
    /** Too many wrong codes, or expired: the flow is over. */
    aborted: { type: "final", tags: ["rejected"] },
  },
});
