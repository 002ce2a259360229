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
 *  - the code is checked, and re-sent, by the shared code-verification process
 *    (`code-verification.ts`): wrong codes and resends are counted in the flow's row.
 */
import { assign, enqueueActions, setup } from "xstate";
import { codeVerificationActors, codeVerificationGuards, codeVerificationStates } from "./code-verification.ts";
import type { CodeVerificationEvent } from "./code-verification.ts";
import { codeErrorOf, failureOf, resendErrorOf, resendSignalOf, rightVerificationOf } from "./code-verification.ts";
import type {
  ConfirmLoginCodeInput,
  ConfirmLoginCodeOutput,
  FlowInput,
  PendingLogin,
  RequestLoginCodeInput,
  SendLoginCodeOutput,
} from "./contracts.ts";
import { initialPipelineContext, loginPipelineActors, loginPipelineStates } from "./login-pipeline.ts";
import type { LoginPipelineContext } from "./login-pipeline.ts";
import { notProvided } from "./not-provided.ts";
import type { Secret } from "./secret.ts";
import type { AuthSignal } from "./signals.ts";

export interface LoginByCodeInput extends FlowInput {
  /** As a required second step: the login parked by the pipeline, and its code. */
  readonly stage: { readonly login: PendingLogin; readonly verificationId: string | null } | null;
}

export interface LoginByCodeContext extends LoginPipelineContext {
  /** The parked login this code completes (stage mode), or null (a login by code). */
  readonly stageLogin: PendingLogin | null;
  readonly secret: Secret | null;
}

export type LoginByCodeEvent = { readonly type: "REQUEST"; readonly email: string } | CodeVerificationEvent;

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
    ...codeVerificationActors,
    ...loginPipelineActors,
  },
  guards: {
    ...codeVerificationGuards,
    isStage: ({ context }) => context.stageLogin !== null,
    isAuthenticated: ({ context }) => context.sessionUser !== null,
  },
  actions: {
    takeCode: assign({ secret: ({ event }) => (event.type === "CODE" ? event.code : null), error: null }),
    storeCodeResult: assign({
      secret: null,
      error: ({ event }) => codeErrorOf(event, "code"),
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
    storeConfirmed: assign(({ context }, output: ConfirmLoginCodeOutput) => {
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
    emitConfirmed: enqueueActions(({ enqueue }, output: ConfirmLoginCodeOutput) => {
      if (output.verifiedNow) {
        enqueue.emit({ type: "email_confirmed", emailAddress: output.emailAddress });
      }
    }),
  },
}).createMachine({
  id: "login-by-code",
  context: ({ input }) => ({
    ...initialPipelineContext(input.settings, input.sessionUser),
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
        input: ({ event }) => ({ email: event.type === "REQUEST" ? event.email : "" }),
        onDone: {
          target: "awaitingCode",
          actions: assign({ verificationId: ({ event }) => event.output.verificationId }),
        },
        onError: { target: "rejected", actions: "storeError" },
      },
    },
    ...codeVerificationStates,
    /** The code was right: it logs its user in (and verifies the address it was mailed to). */
    codeRight: {
      invoke: {
        src: "confirmLoginCode",
        input: ({ context }) => ({ verificationId: context.verificationId! }),
        onDone: {
          target: "checkingActive",
          actions: [
            { type: "storeConfirmed", params: ({ event }) => event.output },
            { type: "emitConfirmed", params: ({ event }) => event.output },
          ],
        },
        onError: { target: "codeGone", actions: "storeError" },
      },
    },
    ...loginPipelineStates,
    /** Somebody is already logged in (HTTP 409). */
    conflict: { type: "final", tags: ["conflict"] },
    /** The request was refused (a bad address). */
    rejected: { type: "final", tags: ["rejected"] },
  },
});
