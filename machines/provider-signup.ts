/**
 * The provider signup form (allauth `socialaccount/internal/flows/signup.py:signup_by_form`): a
 * social login that could not sign up on its own (no address, a taken one, `autoSignup` off)
 * waits in the session; `SUBMIT` brings the missing email and username. Then as an automatic
 * social signup: `user_signed_up` with the social login, then the login pipeline. An address
 * taken behind enumeration prevention gets the fake verification stage, as a local signup does.
 */
import { assign, emit, setup } from "xstate";
import type { FlowInput } from "./contracts.ts";
import { toFlowError } from "./errors.ts";
import { initialPipelineContext, loginPipelineActors, loginPipelineStates } from "./login-pipeline.ts";
import type { LoginPipelineContext } from "./login-pipeline.ts";
import { notProvided } from "./not-provided.ts";
import type {
  CreateSocialUserInput,
  CreateSocialUserOutput,
  ProviderSignupForm,
  SocialProfileData,
  ValidateProviderSignupOutput,
} from "./social-contracts.ts";
import { socialLoginRef } from "./social-contracts.ts";
import type { AuthSignal, SocialLoginRef } from "./signals.ts";

export interface ProviderSignupInput extends FlowInput {
  readonly profile: SocialProfileData;
}

export interface ProviderSignupContext extends LoginPipelineContext {
  readonly profile: SocialProfileData;
  readonly form: ValidateProviderSignupOutput | null;
  readonly socialLogin: SocialLoginRef;
}

export type ProviderSignupEvent = { readonly type: "SUBMIT" } & ProviderSignupForm;

export const providerSignupMachine = setup({
  types: {
    context: {} as ProviderSignupContext,
    events: {} as ProviderSignupEvent,
    input: {} as ProviderSignupInput,
    emitted: {} as AuthSignal,
  },
  actors: {
    validateProviderSignup: notProvided<ProviderSignupForm, ValidateProviderSignupOutput>("validateProviderSignup"),
    createSocialUser: notProvided<CreateSocialUserInput, CreateSocialUserOutput>("createSocialUser"),
    sendAccountExistsMail: notProvided<{ readonly email: string }, void>("sendAccountExistsMail"),
    ...loginPipelineActors,
  },
  guards: {
    isHidden: (_, params: { readonly output: ValidateProviderSignupOutput }) => params.output.hidden,
  },
  actions: {
    storeForm: assign((_, params: { readonly output: ValidateProviderSignupOutput }) => ({ form: params.output })),
    storeFailure: assign((_, params: { readonly error: unknown }) => ({ error: toFlowError(params.error) })),
    storeNewUser: assign(({ context }, params: { readonly output: CreateSocialUserOutput }) => {
      const socialLogin = { ...context.socialLogin, userId: params.output.user.id, isExisting: true };
      return {
        user: params.output.user,
        socialLogin,
        emailVerified: params.output.emailAddress?.verified ?? false,
        login: {
          userId: params.output.user.id,
          signup: true,
          emailAddressId: params.output.emailAddress?.id ?? null,
          method: "socialaccount" as const,
          socialLogin,
          ...(params.output.emailAddress === null ? {} : { email: params.output.emailAddress.email }),
        },
      };
    }),
    announceSignedUp: emit(({ context }) => ({ type: "user_signed_up" as const, user: context.user!, socialLogin: context.socialLogin })),
  },
}).createMachine({
  id: "provider-signup",
  context: ({ input }) => ({
    ...initialPipelineContext(input.settings, input.sessionUser),
    profile: input.profile,
    form: null,
    socialLogin: socialLoginRef(input.profile, null, false),
  }),
  initial: "idle",
  states: {
    idle: {
      on: { SUBMIT: { target: "validating" } },
    },
    validating: {
      invoke: {
        src: "validateProviderSignup",
        input: ({ event }) => ({ email: event.type === "SUBMIT" ? event.email : null, username: event.type === "SUBMIT" ? event.username : null }),
        onDone: [
          {
            guard: { type: "isHidden", params: ({ event }) => ({ output: event.output }) },
            target: "mailingAccountExists",
            actions: { type: "storeForm", params: ({ event }) => ({ output: event.output }) },
          },
          { target: "creatingUser", actions: { type: "storeForm", params: ({ event }) => ({ output: event.output }) } },
        ],
        onError: { target: "rejected", actions: { type: "storeFailure", params: ({ event }) => ({ error: event.error }) } },
      },
    },
    mailingAccountExists: {
      invoke: {
        src: "sendAccountExistsMail",
        input: ({ context }) => ({ email: context.form!.email! }),
        onDone: { target: "verificationPending" },
        onError: { target: "failed", actions: { type: "storeFailure", params: ({ event }) => ({ error: event.error }) } },
      },
    },
    creatingUser: {
      invoke: {
        src: "createSocialUser",
        input: ({ context }) => ({ email: context.form!.email, username: context.form!.username }),
        onDone: {
          target: "checkingActive",
          actions: [{ type: "storeNewUser", params: ({ event }) => ({ output: event.output }) }, "announceSignedUp"],
        },
        onError: { target: "rejected", actions: { type: "storeFailure", params: ({ event }) => ({ error: event.error }) } },
      },
    },
    ...loginPipelineStates,
    /** The form's errors (`email_taken` with the provider's name, username rules, …). */
    rejected: { type: "final", tags: ["rejected"] },
  },
});
