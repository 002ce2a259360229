/**
 * Password login (allauth `flows/login`): authenticate by email or username, then run the login
 * pipeline with `signup: false`. A wrong password and an unknown account end with the same
 * error; an unknown account still costs one hash.
 */
import { assign, setup } from "xstate";
import type {
  AuthenticateOutput,
  FlowInput,
  LoginForm,
} from "./contracts.ts";
import { toFlowError } from "./errors.ts";
import { initialPipelineContext, loginPipelineActors, loginPipelineStates } from "./login-pipeline.ts";
import type { LoginPipelineContext } from "./login-pipeline.ts";
import { notProvided } from "./not-provided.ts";
import type { Secret } from "./secret.ts";
import type { AuthSignal } from "./signals.ts";

export interface LoginContext extends LoginPipelineContext {
  readonly form: { readonly email: string | null; readonly username: string | null } | null;
  /** The password between `SUBMIT` and the actor that verifies it; cleared before any rest. */
  readonly password: Secret | null;
}

export type LoginEvent = { readonly type: "SUBMIT" } & LoginForm;

export const loginMachine = setup({
  types: {
    context: {} as LoginContext,
    events: {} as LoginEvent,
    input: {} as FlowInput,
    emitted: {} as AuthSignal,
  },
  actors: {
    authenticatePassword: notProvided<LoginForm, AuthenticateOutput>("authenticatePassword"),
    ...loginPipelineActors,
  },
  guards: {
    isAuthenticated: ({ context }) => context.sessionUser !== null,
  },
  actions: {
    forgetPassword: assign({ password: null }),
  },
}).createMachine({
  id: "login",
  context: ({ input }) => ({
    ...initialPipelineContext(input.settings, input.sessionUser),
    form: null,
    password: null,
  }),
  initial: "idle",
  states: {
    idle: {
      on: {
        // As allauth's LoginInput: the credentials are checked (and failures counted) first;
        // only valid ones meet the 409 of an already logged-in session.
        SUBMIT: {
          target: "authenticating",
          actions: assign({
            form: ({ event }) => ({ email: event.email, username: event.username }),
            password: ({ event }) => event.password,
          }),
        },
      },
    },
    authenticating: {
      invoke: {
        src: "authenticatePassword",
        input: ({ context }) => ({
          email: context.form!.email,
          username: context.form!.username,
          password: context.password!,
        }),
        onDone: [
          { guard: "isAuthenticated", target: "conflict", actions: "forgetPassword" },
          {
          target: "checkingActive",
          actions: [
            assign({
              user: ({ event }) => event.output.user,
              emailVerified: ({ event }) =>
                event.output.emailAddress === null
                  ? event.output.hasVerifiedEmail
                  : event.output.emailAddress.verified,
              login: ({ event }) => ({
                userId: event.output.user.id,
                signup: false,
                emailAddressId: event.output.emailAddress?.id ?? null,
                method: "password" as const,
                ...(event.output.emailAddress === null
                  ? { username: event.output.user.username ?? "" }
                  : { email: event.output.emailAddress.email }),
              }),
            }),
            "forgetPassword",
          ],
          },
        ],
        onError: {
          target: "rejected",
          actions: [assign({ error: ({ event }) => toFlowError(event.error) }), "forgetPassword"],
        },
      },
    },
    ...loginPipelineStates,
    /** Wrong credentials (one error for wrong password and unknown account), or throttled. */
    rejected: { type: "final", tags: ["rejected"] },
    /** Somebody is already logged in (HTTP 409). */
    conflict: { type: "final", tags: ["conflict"] },
  },
});
