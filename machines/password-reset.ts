/**
 * Password reset (allauth `flows/password_reset`), by link key or, with
 * `account.passwordResetByCodeEnabled`, by code.
 *
 *  - request: no signal; a key or code is mailed (an unknown address gets the "unknown account"
 *    mail instead, with the same response). Code mode rests in `awaitingCode`, persisted.
 *  - by link: the key is checked and the new password hashed (a weak one is refused before
 *    anything happens); a different user logged in is logged out (`user_logged_out`); then
 *    `password_reset`.
 *  - by code (the shared code-verification process, `code-verification.ts`): the whole input is
 *    checked first — the new password against the policy, then the code, counted in the flow's
 *    row (a password error alone counts nothing and changes nothing). The right code verifies
 *    the address (`email_confirmed` when it was not yet verified), then `password_reset`.
 *  - with `loginOnPasswordReset`, the login pipeline follows (mandatory verification of an
 *    unverified address sends `email_confirmation_sent(signup=false)` instead of logging in).
 */
import { assign, emit, enqueueActions, setup } from "xstate";
import { codeVerificationActors, codeVerificationGuards, codeVerificationStates } from "./code-verification.ts";
import type { CodeVerificationEvent } from "./code-verification.ts";
import { codeErrorOf, failureOf, resendErrorOf, rightVerificationOf } from "./code-verification.ts";
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
import type { FlowError } from "./errors.ts";
import { toFlowError } from "./errors.ts";
import { initialPipelineContext, loginPipelineActors, loginPipelineStates } from "./login-pipeline.ts";
import type { LoginPipelineContext } from "./login-pipeline.ts";
import { notProvided } from "./not-provided.ts";
import type { Secret } from "./secret.ts";
import type { AuthSignal, EmailAddressRef } from "./signals.ts";

export interface PasswordResetInput extends FlowInput {
  readonly mode: "link" | "code";
  readonly loginOnPasswordReset: boolean;
}

export interface PasswordResetContext extends LoginPipelineContext {
  readonly mode: "link" | "code";
  readonly loginOnPasswordReset: boolean;
  readonly emailAddress: EmailAddressRef | null;
  /** The key or code, and the new password, between an event and the actor that uses them. */
  readonly secret: Secret | null;
  readonly password: Secret | null;
  /** The new password's hash between hashing and `resetting`; never at rest. */
  readonly passwordHash: Secret | null;
  /** Code mode: what is wrong with the new password, answered beside the code's error. */
  readonly passwordError: FlowError | null;
  /** A different user was logged in and is logged out by the reset. */
  readonly endsSession: boolean;
}

/**
 * `REQUEST` mails a key or code; `RESET` sets the new password with a key (link) or code (code
 * mode; `password` null when none was sent); code mode also takes `CODE` (a check, GET).
 */
export type PasswordResetEvent =
  | { readonly type: "REQUEST"; readonly email: string }
  | { readonly type: "RESET"; readonly key: Secret | null; readonly password: Secret | null }
  | CodeVerificationEvent;

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
    ...codeVerificationActors,
    ...loginPipelineActors,
  },
  guards: {
    ...codeVerificationGuards,
    isCodeMode: ({ context }) => context.mode === "code",
    isLinkMode: ({ context }) => context.mode === "link",
    isOtherUserLoggedIn: ({ context }) => context.sessionUser !== null && context.sessionUser.id !== context.user?.id,
    hasPassword: ({ context }) => context.password !== null,
    hasPasswordHash: ({ context }) => context.passwordHash !== null,
    hasPasswordError: ({ context }) => context.passwordError !== null,
    logsIn: ({ context }) => context.loginOnPasswordReset,
  },
  actions: {
    forgetSecrets: assign(forget),
    storeError: assign({ ...forget, error: ({ event }) => failureOf(event) }),
    takeCode: assign({
      secret: ({ event }) => (event.type === "CODE" ? event.code : null),
      error: null,
      passwordError: null,
    }),
    storeCodeResult: assign({
      secret: null,
      password: null,
      // The hash goes on to the reset only behind a right code; it never rests.
      passwordHash: ({ context, event }) => (rightVerificationOf(event) === null ? null : context.passwordHash),
      error: ({ event }) => codeErrorOf(event, "key"),
      verificationId: ({ context, event }) => rightVerificationOf(event) ?? context.verificationId,
    }),
    storeResendResult: assign({ error: ({ event }) => resendErrorOf(event) }),
    // Password reset by code has no resend (allauth neither); a resend announces nothing.
    announceResend: () => undefined,
  },
}).createMachine({
  id: "password-reset",
  context: ({ input }) => ({
    ...initialPipelineContext(input.settings, input.sessionUser),
    mode: input.mode,
    loginOnPasswordReset: input.loginOnPasswordReset,
    emailAddress: null,
    secret: null,
    password: null,
    passwordHash: null,
    passwordError: null,
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
        input: ({ event }) => ({ email: event.type === "REQUEST" ? event.email : "" }),
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
        onError: { target: "rejected", actions: "storeError" },
      },
    },
    /** Link mode: the new password is checked against the policy and hashed, before any write. */
    hashing: {
      invoke: {
        src: "hashNewPassword",
        input: ({ context }) => ({ verificationId: context.verificationId, password: context.password! }),
        onDone: {
          target: "keyChecked",
          actions: assign({ passwordHash: ({ event }) => event.output.passwordHash, password: null }),
        },
        onError: { target: "rejected", actions: "storeError" },
      },
    },
    ...codeVerificationStates,
    awaitingCode: {
      ...codeVerificationStates.awaitingCode,
      on: {
        ...codeVerificationStates.awaitingCode.on,
        RESET: {
          target: "checkingPassword",
          actions: assign({
            secret: ({ event }) => event.key,
            password: ({ event }) => event.password,
            error: null,
            passwordError: null,
          }),
        },
      },
    },
    /** Code mode: the whole input first — the password (policy, hash) before the code is counted. */
    checkingPassword: {
      always: [
        { guard: "hasPassword", target: "hashingForCode" },
        { target: "checkingCode", actions: assign({ passwordError: { code: "required", param: "password" } }) },
      ],
    },
    hashingForCode: {
      invoke: {
        src: "hashNewPassword",
        input: ({ context }) => ({ verificationId: context.verificationId, password: context.password! }),
        onDone: {
          target: "checkingCode",
          actions: assign({ passwordHash: ({ event }) => event.output.passwordHash, password: null }),
        },
        onError: {
          target: "checkingCode",
          actions: assign({ password: null, passwordError: ({ event }) => toFlowError(event.error) }),
        },
      },
    },
    /** The code was right. With a bad new password nothing happens (no attempt counted). */
    codeRight: {
      always: [{ guard: "hasPasswordError", target: "awaitingCode" }, { target: "confirmingCode" }],
    },
    /** The code proves the address: verified now (once), before the new password. */
    confirmingCode: {
      invoke: {
        src: "confirmResetCode",
        input: ({ context }) => ({ verificationId: context.verificationId! }),
        onDone: {
          target: "codeConfirmed",
          actions: [
            assign({ user: ({ event }) => event.output.user, emailAddress: ({ event }) => event.output.emailAddress }),
            enqueueActions(({ event, enqueue }) => {
              if (event.output.verifiedNow) {
                enqueue.emit({ type: "email_confirmed", emailAddress: event.output.emailAddress });
              }
            }),
          ],
        },
        onError: { target: "codeGone", actions: "storeError" },
      },
    },
    /** A check only (GET) rests for the new password; with it, the reset goes on. */
    codeConfirmed: {
      always: [{ guard: "hasPasswordHash", target: "keyChecked" }, { target: "awaitingCode" }],
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
        onError: { target: "rejected", actions: "storeError" },
      },
    },
    ...loginPipelineStates,
    /** Link mode request answered (whether or not the address is known). */
    requested: { type: "final", tags: ["done"] },
    /** The password is reset; nobody logged in. */
    reset: { type: "final", tags: ["done"] },
    /** Bad or expired key, weak password (link mode). */
    rejected: { type: "final", tags: ["rejected"] },
  },
});
