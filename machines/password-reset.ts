/**
 * Password reset (allauth `flows/password_reset`), by link key or, with
 * `account.passwordResetByCodeEnabled`, by code.
 *
 *  - request: no signal; a key or code is mailed (an unknown address gets the "unknown account"
 *    mail instead, with the same response). Code mode rests in `awaitingCode`, persisted.
 *  - by link: the key is checked and the new password hashed (a weak one is refused before
 *    anything happens); a different user logged in is logged out (`user_logged_out`); then
 *    `password_reset`.
 *  - by code: confirming the code verifies the address (`email_confirmed` when it was not yet
 *    verified), before the new password; then `password_reset`.
 *  - with `loginOnPasswordReset`, the login pipeline follows (mandatory verification of an
 *    unverified address sends `email_confirmation_sent(signup=false)` instead of logging in).
 */
import { assign, emit, enqueueActions, setup } from "xstate";
import type {
  CheckResetKeyInput,
  CheckResetKeyOutput,
  ConfirmResetCodeInput,
  ConfirmResetCodeOutput,
  FlowInput,
  HashNewPasswordInput,
  HashNewPasswordOutput,
  RequestPasswordResetInput,
  RequestPasswordResetOutput,
  ResetPasswordInput,
  ResetPasswordOutput,
} from "./contracts.ts";
import { toFlowError } from "./errors.ts";
import { initialPipelineContext, loginPipelineActors, loginPipelineStates } from "./login-pipeline.ts";
import type { LoginPipelineContext } from "./login-pipeline.ts";
import { notProvided } from "./not-provided.ts";
import type { Secret } from "./secret.ts";
import type { AuthSignal, EmailAddressRef, UserRef } from "./signals.ts";

export interface PasswordResetInput extends FlowInput {
  readonly mode: "link" | "code";
  readonly loginOnPasswordReset: boolean;
  /** Code mode: wrong codes allowed before the flow is aborted (allauth: 3). */
  readonly maxAttempts: number;
}

export interface PasswordResetContext extends LoginPipelineContext {
  readonly mode: "link" | "code";
  readonly loginOnPasswordReset: boolean;
  readonly maxAttempts: number;
  readonly attempts: number;
  readonly emailAddress: EmailAddressRef | null;
  /** The key or code, and the new password, between an event and the actor that uses them. */
  readonly secret: Secret | null;
  readonly password: Secret | null;
  /** The new password's hash between `hashing` and `resetting`; never at rest. */
  readonly passwordHash: Secret | null;
  /** A different user was logged in and is logged out by the reset. */
  readonly endsSession: boolean;
}

export type PasswordResetEvent =
  | { readonly type: "REQUEST"; readonly email: string }
  | { readonly type: "CONFIRM"; readonly code: Secret }
  | { readonly type: "RESET"; readonly key: Secret; readonly password: Secret };

const forget = { secret: null, password: null, passwordHash: null } as const;

export const passwordResetMachine = setup({
  types: {
    context: {} as PasswordResetContext,
    events: {} as PasswordResetEvent,
    input: {} as PasswordResetInput,
    emitted: {} as AuthSignal,
  },
  actors: {
    requestPasswordReset: notProvided<RequestPasswordResetInput, RequestPasswordResetOutput>("requestPasswordReset"),
    checkResetKey: notProvided<CheckResetKeyInput, CheckResetKeyOutput>("checkResetKey"),
    confirmResetCode: notProvided<ConfirmResetCodeInput, ConfirmResetCodeOutput>("confirmResetCode"),
    hashNewPassword: notProvided<HashNewPasswordInput, HashNewPasswordOutput>("hashNewPassword"),
    resetPassword: notProvided<ResetPasswordInput, ResetPasswordOutput>("resetPassword"),
    ...loginPipelineActors,
  },
  guards: {
    isCodeMode: ({ context }) => context.mode === "code",
    isLinkMode: ({ context }) => context.mode === "link",
    isOtherUserLoggedIn: ({ context }) => context.sessionUser !== null && context.sessionUser.id !== context.user?.id,
    hasPassword: ({ context }) => context.password !== null,
    logsIn: ({ context }) => context.loginOnPasswordReset,
    isLastAttempt: ({ context }) => context.attempts + 1 >= context.maxAttempts,
  },
  actions: {
    forgetSecrets: assign(forget),
    storeError: assign({ error: ({ event }) => toFlowError((event as unknown as { error: unknown }).error) }),
  },
}).createMachine({
  id: "password-reset",
  context: ({ input }) => ({
    ...initialPipelineContext(input.settings, input.sessionUser),
    mode: input.mode,
    loginOnPasswordReset: input.loginOnPasswordReset,
    maxAttempts: input.maxAttempts,
    attempts: 0,
    emailAddress: null,
    secret: null,
    password: null,
    passwordHash: null,
    endsSession: false,
  }),
  initial: "idle",
  states: {
    idle: {
      on: {
        REQUEST: { target: "requesting" },
        RESET: {
          guard: "isLinkMode",
          target: "checkingKey",
          actions: assign({ secret: ({ event }) => event.key, password: ({ event }) => event.password }),
        },
      },
    },
    requesting: {
      invoke: {
        src: "requestPasswordReset",
        input: ({ event }) => ({ email: (event as { email: string }).email }),
        onDone: [
          {
            guard: "isCodeMode",
            target: "awaitingCode",
            actions: assign({ verificationId: ({ event }) => event.output.verificationId }),
          },
          { target: "requested" },
        ],
        onError: { target: "rejected", actions: "storeError" },
      },
    },
    checkingKey: {
      invoke: {
        src: "checkResetKey",
        input: ({ context }) => ({ key: context.secret! }),
        onDone: {
          target: "hashing",
          actions: assign({
            user: ({ event }) => event.output.user,
            verificationId: ({ event }) => event.output.verificationId,
            emailAddress: ({ event }) => event.output.emailAddress,
            secret: null,
          }),
        },
        onError: { target: "rejected", actions: ["storeError", "forgetSecrets"] },
      },
    },
    /** Code mode: rests here (persisted) until the code is confirmed. */
    awaitingCode: {
      tags: ["pending:password_reset_by_code"],
      on: {
        CONFIRM: { target: "checkingCode", actions: assign({ secret: ({ event }) => event.code, error: null }) },
        RESET: {
          target: "checkingCode",
          actions: assign({ secret: ({ event }) => event.key, password: ({ event }) => event.password, error: null }),
        },
      },
    },
    checkingCode: {
      invoke: {
        src: "confirmResetCode",
        input: ({ context }) => ({ verificationId: context.verificationId ?? "", code: context.secret! }),
        onDone: {
          target: "codeConfirmed",
          actions: [
            assign({
              user: ({ event }) => event.output.user,
              emailAddress: ({ event }) => event.output.emailAddress,
              secret: null,
            }),
            enqueueActions(({ event, enqueue }) => {
              if (event.output.verifiedNow) {
                enqueue.emit({ type: "email_confirmed", emailAddress: event.output.emailAddress });
              }
            }),
          ],
        },
        onError: [
          { guard: "isLastAttempt", target: "aborted", actions: ["storeError", "forgetSecrets"] },
          {
            guard: ({ event }) => toFlowError(event.error).code === "incorrect_code",
            target: "awaitingCode",
            actions: ["storeError", "forgetSecrets", assign({ attempts: ({ context }) => context.attempts + 1 })],
          },
          { target: "aborted", actions: ["storeError", "forgetSecrets"] },
        ],
      },
    },
    codeConfirmed: {
      always: [{ guard: "hasPassword", target: "hashing" }, { target: "awaitingPassword" }],
    },
    /** Code mode: the code was right; waiting for the new password (persisted). */
    awaitingPassword: {
      tags: ["pending:password_reset_by_code"],
      on: {
        RESET: { target: "hashing", actions: assign({ password: ({ event }) => event.password, error: null }) },
      },
    },
    /** The new password is checked against the policy and hashed, before anything is written. */
    hashing: {
      invoke: {
        src: "hashNewPassword",
        input: ({ context }) => ({ verificationId: context.verificationId!, password: context.password! }),
        onDone: {
          target: "keyChecked",
          actions: assign({ passwordHash: ({ event }) => event.output.passwordHash, password: null }),
        },
        onError: [
          // A weak password leaves a code flow waiting for a better one.
          {
            guard: ({ context, event }) => context.mode === "code" && toFlowError(event.error).param === "password",
            target: "awaitingPassword",
            actions: ["storeError", assign({ password: null })],
          },
          { target: "rejected", actions: ["storeError", "forgetSecrets"] },
        ],
      },
    },
    keyChecked: {
      always: [
        {
          // Another user is logged in: they are logged out first (the reset ends their session,
          // after hashing, in the same transaction).
          guard: "isOtherUserLoggedIn",
          target: "resetting",
          actions: [
            emit(({ context }) => ({ type: "user_logged_out" as const, user: context.sessionUser })),
            assign({ endsSession: true, sessionUser: null }),
          ],
        },
        { target: "resetting" },
      ],
    },
    resetting: {
      invoke: {
        src: "resetPassword",
        input: ({ context }) => ({
          verificationId: context.verificationId!,
          passwordHash: context.passwordHash!,
          endSession: context.endsSession,
        }),
        onDone: [
          {
            guard: "logsIn",
            target: "checkingActive",
            actions: [
              assign(({ context, event }) => ({
                ...forget,
                user: event.output.user,
                emailVerified: context.emailAddress?.verified === true || context.mode === "code",
                login: {
                  userId: event.output.user.id,
                  signup: false,
                  emailAddressId: context.emailAddress?.id ?? null,
                  method: "password_reset" as const,
                  ...(context.emailAddress === null ? {} : { email: context.emailAddress.email }),
                },
              })),
              emit(({ event }) => ({ type: "password_reset" as const, user: event.output.user })),
            ],
          },
          {
            target: "reset",
            actions: [
              assign({ ...forget, user: ({ event }) => event.output.user }),
              emit(({ event }) => ({ type: "password_reset" as const, user: event.output.user })),
            ],
          },
        ],
        onError: { target: "rejected", actions: ["storeError", "forgetSecrets"] },
      },
    },
    ...loginPipelineStates,
    /** Link mode request answered (whether or not the address is known). */
    requested: { type: "final", tags: ["done"] },
    /** The password is reset; nobody logged in. */
    reset: { type: "final", tags: ["done"] },
    /** Bad or expired key, weak password. */
    rejected: { type: "final", tags: ["rejected"] },
    /** Code mode: too many wrong codes, or expired. */
    aborted: { type: "final", tags: ["rejected"] },
  },
});
