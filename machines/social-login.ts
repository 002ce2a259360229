/**
 * Social login and connect (allauth `socialaccount/internal/flows/login.py`, `connect.py`,
 * `signup.py`): one `COMPLETE` carries what the provider said (after the redirect's callback or
 * the app's token); the machine runs to rest in that step.
 *
 *  1. `lookingUp`: the account by provider + uid. A known account's data is refreshed and saved
 *     at once, so `social_account_updated` fires here, first, whatever follows (an abort, a
 *     `connected_other`). Else email authentication may match a user (no row, no signal).
 *  2. `preSocialLogin`: `pre_social_login` is emitted and its receivers run: they may abort the
 *     flow or connect the login to a user (`social_account_added`, then it goes on as that
 *     user's login).
 *  3. `connect`: only over a logged-in session; a new account is stored (`social_account_added`);
 *     one already mine changes nothing more; another user's is `connected_other`.
 *  4. `login`: a session's user is logged out first (`user_logged_out`). A known user goes through
 *     the login pipeline (email authentication may wipe an unverified match's password, and
 *     auto-connect adds the account); a new person signs up (`user_signed_up` with the social
 *     login, never `social_account_added`), or waits for the provider signup form, or — the
 *     address taken and hidden — gets the fake verification stage.
 */
import { assign, emit, setup } from "xstate";
import type { FlowInput } from "./contracts.ts";
import { toFlowError } from "./errors.ts";
import type { FlowError } from "./errors.ts";
import { initialPipelineContext, loginPipelineActors, loginPipelineStates } from "./login-pipeline.ts";
import type { LoginPipelineContext } from "./login-pipeline.ts";
import { notProvided } from "./not-provided.ts";
import type {
  AcceptLoginInput,
  AcceptLoginOutput,
  AssessSignupOutput,
  ConnectAccountInput,
  ConnectAccountOutput,
  CreateSocialUserInput,
  CreateSocialUserOutput,
  LookupOutput,
  PreSocialLoginOutput,
  SocialProfileData,
  SocialSettings,
} from "./social-contracts.ts";
import { socialLoginRef } from "./social-contracts.ts";
import type { AuthSignal, SocialAccountRef, SocialLoginRef, UserRef } from "./signals.ts";

export type SocialProcess = "login" | "connect";

export interface SocialLoginInput extends FlowInput {
  readonly process: SocialProcess;
  readonly social: SocialSettings;
  /** The adapter's `isOpenForSignup` for this request. */
  readonly openForSignup: boolean;
  /** Connect: the session must reauthenticate first (`reauthenticationRequired`). */
  readonly needsReauthentication: boolean;
}

export interface SocialLoginContext extends LoginPipelineContext {
  readonly process: SocialProcess;
  readonly social: SocialSettings;
  readonly openForSignup: boolean;
  readonly needsReauthentication: boolean;
  readonly profile: SocialProfileData | null;
  /** The stored account (found, connected or created), or null. */
  readonly account: SocialAccountRef | null;
  readonly byEmail: string | null;
  readonly socialLogin: SocialLoginRef | null;
  /** The address a new person signs up with. */
  readonly signupEmail: string | null;
}

export type SocialLoginEvent = { readonly type: "COMPLETE"; readonly profile: SocialProfileData };

export const socialLoginMachine = setup({
  types: {
    context: {} as SocialLoginContext,
    events: {} as SocialLoginEvent,
    input: {} as SocialLoginInput,
    emitted: {} as AuthSignal,
  },
  actors: {
    lookupSocialAccount: notProvided<SocialProfileData, LookupOutput>("lookupSocialAccount"),
    runPreSocialLogin: notProvided<SocialLoginRef, PreSocialLoginOutput>("runPreSocialLogin"),
    connectAccount: notProvided<ConnectAccountInput, ConnectAccountOutput>("connectAccount"),
    logOutFirst: notProvided<UserRef, void>("logOutFirst"),
    acceptLogin: notProvided<AcceptLoginInput, AcceptLoginOutput>("acceptLogin"),
    assessSocialSignup: notProvided<SocialProfileData, AssessSignupOutput>("assessSocialSignup"),
    createSocialUser: notProvided<CreateSocialUserInput, CreateSocialUserOutput>("createSocialUser"),
    sendAccountExistsMail: notProvided<{ readonly email: string }, void>("sendAccountExistsMail"),
    ...loginPipelineActors,
  },
  guards: {
    isConnect: ({ context }) => context.process === "connect",
    isAnonymous: ({ context }) => context.sessionUser === null,
    mustReauthenticate: ({ context }) => context.needsReauthentication,
    isOtherUsers: ({ context }) => context.user !== null && context.user.id !== context.sessionUser?.id,
    isConnectedAlready: ({ context }) => context.account !== null,
    isKnownUser: ({ context }) => context.user !== null,
    isSignupClosed: ({ context }) => !context.openForSignup,
    wasUpdated: (_, params: { readonly output: LookupOutput }) => params.output.account !== null,
    decided: (_, params: { readonly output: PreSocialLoginOutput; readonly kind: PreSocialLoginOutput["kind"] }) =>
      params.output.kind === params.kind,
    addedAccount: (_, params: { readonly output: AcceptLoginOutput }) => params.output.added !== null,
    isSignup: (_, params: { readonly output: AssessSignupOutput; readonly decision: AssessSignupOutput["decision"] }) =>
      params.output.decision === params.decision,
  },
  actions: {
    storeError: assign((_, params: FlowError) => ({ error: params })),
    storeFailure: assign((_, params: { readonly error: unknown }) => ({ error: toFlowError(params.error) })),
    storeLookup: assign(({ context }, params: { readonly output: LookupOutput }) => ({
      account: params.output.account,
      user: params.output.user,
      byEmail: params.output.byEmail,
      emailVerified: params.output.hasVerifiedEmail,
      // allauth's `is_existing`: the login has a saved user (a connected account, or an email match).
      socialLogin: socialLoginRef(context.profile!, params.output.user, params.output.user !== null),
    })),
    announceUpdated: emit(({ context }) => ({ type: "social_account_updated" as const, socialLogin: context.socialLogin! })),
    announcePreSocialLogin: emit(({ context }) => ({ type: "pre_social_login" as const, socialLogin: context.socialLogin! })),
    announceAdded: emit(({ context }) => ({ type: "social_account_added" as const, socialLogin: context.socialLogin! })),
    adoptUser: assign(({ context }, params: { readonly user: UserRef }) => ({
      user: params.user,
      socialLogin: { ...context.socialLogin!, userId: params.user.id, isExisting: true },
    })),
    storeAccount: assign(({ context }, params: { readonly account: SocialAccountRef; readonly hasVerifiedEmail?: boolean }) => ({
      account: params.account,
      socialLogin: { ...context.socialLogin!, userId: params.account.userId, isExisting: true },
      ...(params.hasVerifiedEmail === undefined ? {} : { emailVerified: params.hasVerifiedEmail }),
    })),
    startLogin: assign(({ context }) => ({
      login: {
        userId: context.user!.id,
        signup: false,
        emailAddressId: null,
        method: "socialaccount" as const,
        socialLogin: context.socialLogin!,
      },
    })),
    announceLogout: emit(({ context }) => ({ type: "user_logged_out" as const, user: context.sessionUser })),
    forgetSessionUser: assign({ sessionUser: null }),
    storeSignupEmail: assign((_, params: { readonly output: AssessSignupOutput }) => ({ signupEmail: params.output.email })),
    storeNewUser: assign(({ context }, params: { readonly output: CreateSocialUserOutput }) => {
      // Saved by now: allauth's `is_existing` reads true from here on.
      const socialLogin = { ...context.socialLogin!, userId: params.output.user.id, isExisting: true };
      return {
        user: params.output.user,
        account: params.output.account,
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
    announceSignedUp: emit(({ context }) => ({
      type: "user_signed_up" as const,
      user: context.user!,
      socialLogin: context.socialLogin!,
    })),
  },
}).createMachine({
  id: "social-login",
  context: ({ input }) => ({
    ...initialPipelineContext(input.settings, input.sessionUser),
    process: input.process,
    social: input.social,
    openForSignup: input.openForSignup,
    needsReauthentication: input.needsReauthentication,
    profile: null,
    account: null,
    byEmail: null,
    socialLogin: null,
    signupEmail: null,
  }),
  initial: "idle",
  states: {
    idle: {
      on: { COMPLETE: { target: "lookingUp", actions: assign({ profile: ({ event }) => event.profile }) } },
    },
    lookingUp: {
      invoke: {
        src: "lookupSocialAccount",
        input: ({ context }) => context.profile!,
        onDone: [
          {
            guard: { type: "wasUpdated", params: ({ event }) => ({ output: event.output }) },
            target: "preSocialLogin",
            actions: [{ type: "storeLookup", params: ({ event }) => ({ output: event.output }) }, "announceUpdated"],
          },
          { target: "preSocialLogin", actions: { type: "storeLookup", params: ({ event }) => ({ output: event.output }) } },
        ],
        onError: { target: "failed", actions: { type: "storeFailure", params: ({ event }) => ({ error: event.error }) } },
      },
    },
    preSocialLogin: {
      entry: "announcePreSocialLogin",
      invoke: {
        src: "runPreSocialLogin",
        input: ({ context }) => context.socialLogin!,
        onDone: [
          { guard: { type: "decided", params: ({ event }) => ({ output: event.output, kind: "abort" as const }) }, target: "aborted" },
          {
            guard: { type: "decided", params: ({ event }) => ({ output: event.output, kind: "connect" as const }) },
            target: "connectingForReceiver",
            actions: {
              type: "adoptUser",
              params: ({ event }) => ({ user: event.output.kind === "connect" ? event.output.user : null! }),
            },
          },
          { target: "routing" },
        ],
        onError: { target: "failed", actions: { type: "storeFailure", params: ({ event }) => ({ error: event.error }) } },
      },
    },
    /** A receiver connected the login to a user: stored now, then that user's login goes on. */
    connectingForReceiver: {
      invoke: {
        src: "connectAccount",
        input: ({ context }) => ({ userId: context.user!.id }),
        onDone: {
          target: "routing",
          actions: [
            { type: "storeAccount", params: ({ event }) => ({ account: event.output.account, hasVerifiedEmail: event.output.hasVerifiedEmail }) },
            "announceAdded",
          ],
        },
        onError: { target: "rejected", actions: { type: "storeFailure", params: ({ event }) => ({ error: event.error }) } },
      },
    },
    routing: {
      always: [{ guard: "isConnect", target: "connecting" }, { target: "logOutStage" }],
    },
    connecting: {
      initial: "checking",
      states: {
        checking: {
          always: [
            { guard: "isAnonymous", target: "#social-login.rejected", actions: { type: "storeError", params: { code: "permission_denied" } } },
            { guard: "mustReauthenticate", target: "#social-login.reauthenticate" },
            { guard: "isOtherUsers", target: "#social-login.rejected", actions: { type: "storeError", params: { code: "connected_other" } } },
            { guard: "isConnectedAlready", target: "#social-login.connected" },
            { target: "storing" },
          ],
        },
        storing: {
          invoke: {
            src: "connectAccount",
            input: ({ context }) => ({ userId: context.sessionUser!.id }),
            onDone: {
              target: "#social-login.connected",
              actions: [{ type: "storeAccount", params: ({ event }) => ({ account: event.output.account }) }, "announceAdded"],
            },
            onError: { target: "#social-login.rejected", actions: { type: "storeFailure", params: ({ event }) => ({ error: event.error }) } },
          },
        },
      },
    },
    logOutStage: {
      always: [{ guard: "isAnonymous", target: "identifying" }, { target: "loggingOutFirst" }],
    },
    /** allauth logs out whoever the session holds before a social login. */
    loggingOutFirst: {
      entry: "announceLogout",
      invoke: {
        src: "logOutFirst",
        input: ({ context }) => context.sessionUser!,
        onDone: { target: "identifying", actions: "forgetSessionUser" },
        onError: { target: "failed", actions: { type: "storeFailure", params: ({ event }) => ({ error: event.error }) } },
      },
    },
    identifying: {
      always: [{ guard: "isKnownUser", target: "accepting" }, { guard: "isSignupClosed", target: "signupClosed" }, { target: "assessingSignup" }],
    },
    accepting: {
      invoke: {
        src: "acceptLogin",
        input: ({ context }) => ({
          userId: context.user!.id,
          byEmail: context.account === null ? context.byEmail : null,
          connect: context.account === null && context.byEmail !== null && context.social.emailAuthenticationAutoConnect,
        }),
        onDone: [
          {
            guard: { type: "addedAccount", params: ({ event }) => ({ output: event.output }) },
            target: "checkingActive",
            actions: [
              { type: "storeAccount", params: ({ event }) => ({ account: event.output.added! }) },
              "announceAdded",
              assign({ user: ({ event }) => event.output.user }),
              "startLogin",
            ],
          },
          { target: "checkingActive", actions: [assign({ user: ({ event }) => event.output.user }), "startLogin"] },
        ],
        onError: { target: "failed", actions: { type: "storeFailure", params: ({ event }) => ({ error: event.error }) } },
      },
    },
    assessingSignup: {
      invoke: {
        src: "assessSocialSignup",
        input: ({ context }) => context.profile!,
        onDone: [
          {
            guard: { type: "isSignup", params: ({ event }) => ({ output: event.output, decision: "form" as const }) },
            target: "signupPending",
          },
          {
            guard: { type: "isSignup", params: ({ event }) => ({ output: event.output, decision: "hidden" as const }) },
            target: "mailingAccountExists",
            actions: { type: "storeSignupEmail", params: ({ event }) => ({ output: event.output }) },
          },
          { target: "creatingUser", actions: { type: "storeSignupEmail", params: ({ event }) => ({ output: event.output }) } },
        ],
        onError: { target: "failed", actions: { type: "storeFailure", params: ({ event }) => ({ error: event.error }) } },
      },
    },
    creatingUser: {
      invoke: {
        src: "createSocialUser",
        input: ({ context }) => ({ email: context.signupEmail, username: context.profile!.username }),
        onDone: {
          target: "checkingActive",
          actions: [{ type: "storeNewUser", params: ({ event }) => ({ output: event.output }) }, "announceSignedUp"],
        },
        onError: { target: "failed", actions: { type: "storeFailure", params: ({ event }) => ({ error: event.error }) } },
      },
    },
    mailingAccountExists: {
      invoke: {
        src: "sendAccountExistsMail",
        input: ({ context }) => ({ email: context.signupEmail! }),
        onDone: { target: "verificationPending" },
        onError: { target: "failed", actions: { type: "storeFailure", params: ({ event }) => ({ error: event.error }) } },
      },
    },
    ...loginPipelineStates,
    /** Connected (or already connected to this user): nothing more happens. */
    connected: { type: "final", tags: ["done"] },
    /** A new person waits for the provider signup form (`provider_signup`). */
    signupPending: { type: "final", tags: ["pending:provider_signup"] },
    /** A `pre_social_login` receiver answered itself. */
    aborted: { type: "final", tags: ["aborted"] },
    /** Connect needs a recent authentication. */
    reauthenticate: { type: "final", tags: ["reauthenticate"] },
    signupClosed: { type: "final", tags: ["signup_closed"] },
    /** `connected_other`, `permission_denied`, or a receiver's refused connect. */
    rejected: { type: "final", tags: ["rejected"] },
  },
});
