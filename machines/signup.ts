/**
 * Local signup (allauth `flows/signup`): validate, create the user and its address, emit
 * `user_signed_up`, then run the login pipeline with `signup: true`.
 *
 * With a taken email, `account.preventEnumeration` decides (allauth `assess_unique_email`): on
 * (`true` or `"strict"`) with mandatory verification, a fake flow runs (an "account already
 * exists" mail, no user, the same pending response); `"strict"` otherwise lets the duplicate,
 * unverified account be created; anything else is `email_taken`.
 */
import { assign, emit, setup } from "xstate";
import type {
  CreateUserInput,
  CreateUserOutput,
  FlowInput,
  SendAccountExistsMailInput,
  SignupForm,
  ValidateSignupOutput,
} from "./contracts.ts";
import { toFlowError } from "./errors.ts";
import type { FlowError } from "./errors.ts";
import { initialPipelineContext, loginPipelineActors, loginPipelineStates } from "./login-pipeline.ts";
import type { LoginPipelineContext } from "./login-pipeline.ts";
import { notProvided } from "./not-provided.ts";
import type { Secret } from "./secret.ts";
import type { AuthSignal } from "./signals.ts";

export interface SignupContext extends LoginPipelineContext {
  readonly form: { readonly email: string | null; readonly username: string | null } | null;
  /**
   * The password between `SUBMIT` and the actor that hashes it; cleared before any rest. Null
   * also when the signup has no password (`signupFields` without `password1`).
   */
  readonly password: Secret | null;
}

export type SignupEvent = { readonly type: "SUBMIT" } & SignupForm;

export const signupMachine = setup({
  types: {
    context: {} as SignupContext,
    events: {} as SignupEvent,
    input: {} as FlowInput,
    emitted: {} as AuthSignal,
  },
  actors: {
    validateSignup: notProvided<SignupForm, ValidateSignupOutput>("validateSignup"),
    createUser: notProvided<CreateUserInput, CreateUserOutput>("createUser"),
    sendAccountExistsMail: notProvided<SendAccountExistsMailInput, void>("sendAccountExistsMail"),
    ...loginPipelineActors,
  },
  guards: {
    isAuthenticated: ({ context }) => context.sessionUser !== null,
    isEmailTakenAndHidden: ({ context }, params: { readonly emailTaken: boolean }) =>
      params.emailTaken &&
      context.settings.preventEnumeration !== false &&
      context.settings.emailVerification === "mandatory",
    isEmailTakenOnCreateAndHidden: ({ context }, params: { readonly error: FlowError }) =>
      params.error.code === "email_taken" &&
      context.settings.preventEnumeration !== false &&
      context.settings.emailVerification === "mandatory",
    isEmailTakenAndRefused: ({ context }, params: { readonly emailTaken: boolean }) =>
      params.emailTaken && context.settings.preventEnumeration !== "strict",
  },
  actions: {
    forgetPassword: assign({ password: null }),
    storeError: assign({ error: (_, error: FlowError) => error }),
  },
}).createMachine({
  id: "signup",
  context: ({ input }) => ({
    ...initialPipelineContext(input.settings, input.sessionUser),
    form: null,
    password: null,
  }),
  initial: "idle",
  states: {
    idle: {
      on: {
        SUBMIT: [
          { guard: "isAuthenticated", target: "conflict" },
          {
            target: "validating",
            actions: assign({
              form: ({ event }) => ({ email: event.email, username: event.username }),
              password: ({ event }) => event.password,
            }),
          },
        ],
      },
    },
    validating: {
      invoke: {
        src: "validateSignup",
        input: ({ context }) => ({
          email: context.form!.email,
          username: context.form!.username,
          password: context.password,
        }),
        onDone: [
          {
            guard: { type: "isEmailTakenAndHidden", params: ({ event }) => ({ emailTaken: event.output.emailTaken }) },
            target: "mailingAccountExists",
            actions: assign({ form: ({ event }) => ({ email: event.output.email, username: event.output.username }) }),
          },
          {
            guard: { type: "isEmailTakenAndRefused", params: ({ event }) => ({ emailTaken: event.output.emailTaken }) },
            target: "rejected",
            actions: { type: "storeError", params: { code: "email_taken", param: "email" } },
          },
          {
            target: "creatingUser",
            actions: assign({ form: ({ event }) => ({ email: event.output.email, username: event.output.username }) }),
          },
        ],
        onError: {
          target: "rejected",
          actions: assign({ error: ({ event }) => toFlowError(event.error) }),
        },
      },
    },
    mailingAccountExists: {
      invoke: {
        src: "sendAccountExistsMail",
        input: ({ context }) => ({ email: context.form!.email!, password: context.password }),
        onDone: { target: "verificationPending", actions: "forgetPassword" },
        onError: {
          target: "failed",
          actions: [assign({ error: ({ event }) => toFlowError(event.error) }), "forgetPassword"],
        },
      },
    },
    creatingUser: {
      invoke: {
        src: "createUser",
        input: ({ context }) => ({
          email: context.form!.email,
          username: context.form!.username,
          password: context.password,
        }),
        onDone: {
          target: "checkingActive",
          actions: [
            assign({
              user: ({ event }) => event.output.user,
              emailVerified: ({ event }) => event.output.emailAddress?.verified === true,
              login: ({ event }) => ({
                userId: event.output.user.id,
                signup: true,
                emailAddressId: event.output.emailAddress?.id ?? null,
                method: "password" as const,
                ...(event.output.emailAddress ? { email: event.output.emailAddress.email } : {}),
                ...(event.output.user.username === null ? {} : { username: event.output.user.username }),
              }),
            }),
            "forgetPassword",
            emit(({ event }) => ({ type: "user_signed_up" as const, user: event.output.user })),
          ],
        },
        onError: [
          {
            // A concurrent signup took the address first: hidden as a taken one would be.
            guard: { type: "isEmailTakenOnCreateAndHidden", params: ({ event }) => ({ error: toFlowError(event.error) }) },
            target: "mailingAccountExists",
          },
          {
            target: "rejected",
            actions: assign({ error: ({ event }) => toFlowError(event.error) }),
          },
        ],
      },
    },
    ...loginPipelineStates,
    /** Bad input, or an email taken where enumeration prevention does not hide it. */
    rejected: { type: "final", tags: ["rejected"], entry: "forgetPassword" },
    /** Somebody is already logged in (HTTP 409). */
    conflict: { type: "final", tags: ["conflict"] },
  },
});
