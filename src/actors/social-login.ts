/**
 * Actors of the `social-login` machine (allauth `SocialLogin.lookup`, `flows/login.py`,
 * `flows/connect.py`, `flows/signup.py:process_auto_signup`). The provider has already been
 * talked to: these only read and write the database, inside the step.
 */
import { Clock, Effect } from "effect";
import { fromPromise } from "xstate";
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
} from "../../machines/social-contracts.ts";
import type { SocialLoginRef, UserRef } from "../../machines/signals.ts";
import type { ResolvedConfig } from "../config.ts";
import { cleanEmail } from "../domain/email.ts";
import { endSession } from "../runtime/session.ts";
import type { Step } from "../runtime/step.ts";
import type { ProviderConfig, SocialProfile } from "../social/types.ts";
import { findSocialAccount, toSocialAccountRef, updateSocialAccountData } from "../storage/social.ts";
import { findEmailAddresses, findUserById, toUserRef } from "../storage/users.ts";
import { isAddressHeld } from "./email-claims.ts";
import { loginPipelineActors } from "./login-pipeline.ts";
import { createSocialUser, freeUsername, hasVerifiedAddress, keepTokens, storeSocialAccount } from "./social-account.ts";

/** What the edge gives the social actors besides the step: the provider, what it said, and the receivers' hook. */
export interface SocialLoginEdge {
  readonly provider: ProviderConfig;
  readonly profile: SocialProfile;
  /** Runs the `pre_social_login` receivers now and returns what they decided. */
  readonly preSocialLogin: (socialLogin: SocialLoginRef) => Promise<PreSocialLoginOutput>;
}

/** Whether email authentication is on for `provider` (its own setting, else the global one). */
function emailAuthentication(config: ResolvedConfig, provider: ProviderConfig): boolean {
  return provider.emailAuthentication ?? config.socialaccount.emailAuthentication;
}

/**
 * The user a provider-verified address belongs to, matching only local addresses that are
 * themselves verified: an unverified local address cannot pre-claim an account.
 */
const userByVerifiedEmail = (config: ResolvedConfig, profile: SocialProfile) =>
  Effect.gen(function* () {
    for (const said of profile.emailAddresses.filter((a) => a.verified)) {
      const email = cleanEmail(said.email, config.account.emailMaxLength);
      if (email === null) {
        continue;
      }
      const match = (yield* findEmailAddresses(email)).find((row) => Number(row.verified) === 1);
      if (match !== undefined) {
        return { userId: match.user_id, email };
      }
    }
    return null;
  });

export function socialLoginActors(step: Step, config: ResolvedConfig, edge: SocialLoginEdge) {
  const { profile, provider } = edge;
  const social = config.socialaccount;
  const connectMail = (user: UserRef) =>
    config.account.emailNotifications && user.email !== null
      ? step.mail({ kind: "account_connected", to: user.email, userId: user.id, provider: provider.name })
      : undefined;
  return {
    ...loginPipelineActors(step, config),
    lookupSocialAccount: fromPromise<LookupOutput, SocialProfileData>(() =>
      step.write(
        Effect.gen(function* () {
          const now = yield* Clock.currentTimeMillis;
          const row = yield* findSocialAccount(profile.provider, profile.uid);
          if (row !== null) {
            // Saved now, whatever follows (allauth's `_lookup_by_socialaccount`).
            yield* updateSocialAccountData(row.id, JSON.stringify(profile.extraData), now);
            yield* keepTokens(config, row.id, profile);
            const user = toUserRef((yield* findUserById(row.user_id))!);
            return { account: toSocialAccountRef(row), user, byEmail: null, hasVerifiedEmail: yield* hasVerifiedAddress(user.id) };
          }
          const match = emailAuthentication(config, provider) ? yield* userByVerifiedEmail(config, profile) : null;
          if (match === null) {
            return { account: null, user: null, byEmail: null, hasVerifiedEmail: false };
          }
          const user = toUserRef((yield* findUserById(match.userId))!);
          return { account: null, user, byEmail: match.email, hasVerifiedEmail: true };
        }),
      ),
    ),
    runPreSocialLogin: fromPromise<PreSocialLoginOutput, SocialLoginRef>(({ input }) => edge.preSocialLogin(input)),
    connectAccount: fromPromise<ConnectAccountOutput, ConnectAccountInput>(async ({ input }) => {
      const result = await step.write(
        Effect.gen(function* () {
          const account = yield* storeSocialAccount(config, input.userId, profile);
          const user = toUserRef((yield* findUserById(input.userId))!);
          return { account, user, hasVerifiedEmail: yield* hasVerifiedAddress(input.userId) };
        }),
      );
      connectMail(result.user);
      return { account: result.account, hasVerifiedEmail: result.hasVerifiedEmail };
    }),
    logOutFirst: fromPromise<void, UserRef>(() => step.write(endSession(step))),
    acceptLogin: fromPromise<AcceptLoginOutput, AcceptLoginInput>(async ({ input }) => {
      const result = await step.write(
        Effect.gen(function* () {
          const added = input.connect ? yield* storeSocialAccount(config, input.userId, profile) : null;
          return { user: toUserRef((yield* findUserById(input.userId))!), added };
        }),
      );
      if (result.added !== null) {
        connectMail(result.user);
      }
      return result;
    }),
    assessSocialSignup: fromPromise<AssessSignupOutput, SocialProfileData>(() =>
      step.run(
        Effect.gen(function* () {
          const said = profile.emailAddresses[0] ?? null;
          const email = said === null ? null : cleanEmail(said.email, config.account.emailMaxLength);
          if (!social.autoSignup) {
            return { decision: "form" as const, email };
          }
          if (email === null) {
            return { decision: social.emailRequired ? ("form" as const) : ("auto" as const), email: null };
          }
          if (!config.account.uniqueEmail || !(yield* isAddressHeld(email))) {
            return { decision: "auto" as const, email };
          }
          // allauth's `assess_unique_email`: hidden behind mandatory verification, else the form.
          const hidden = config.account.preventEnumeration !== false && config.account.emailVerification === "mandatory";
          return { decision: hidden ? ("hidden" as const) : ("form" as const), email };
        }),
      ),
    ),
    createSocialUser: fromPromise<CreateSocialUserOutput, CreateSocialUserInput>(({ input }) =>
      step.write(
        Effect.gen(function* () {
          const needsUsername = config.account.signupUsername === "required" || config.account.loginMethods.includes("username");
          const username = needsUsername ? yield* freeUsername(config, input.username ?? profile.username, input.email) : null;
          return yield* createSocialUser(config, profile, { ...input, username });
        }),
      ),
    ),
    sendAccountExistsMail: fromPromise<void, { readonly email: string }>(async ({ input }) => {
      step.mail({ kind: "account_exists", to: input.email, userId: null });
    }),
  };
}
