/**
 * Running a social login inside a step, shared by the browser callback, the dummy provider's
 * page and `auth/provider/token`: the `social-login` machine with its actors, the
 * `pre_social_login` receivers run at their moment, and the rested machine turned into an
 * outcome plus allauth's error code for the frontend's callback URL (`?error=`).
 */
import { Clock } from "effect";
import { socialLoginMachine } from "../../machines/social-login.ts";
import type { SocialProcess } from "../../machines/social-login.ts";
import type { PreSocialLoginOutput, SocialProfileData } from "../../machines/social-contracts.ts";
import { socialLoginActors } from "../actors/social-login.ts";
import type { ResolvedConfig } from "../config.ts";
import { flowSettings } from "../config.ts";
import { withActors } from "../runtime/bound-machine.ts";
import { runMachine } from "../runtime/run-machine.ts";
import type { SignalBus } from "../runtime/signal-bus.ts";
import { saveSessionData } from "../runtime/session.ts";
import type { Step } from "../runtime/step.ts";
import { sealTokens } from "../social/token-box.ts";
import type { ProviderConfig, SocialProfile } from "../social/types.ts";
import { findUserById, toUserRef } from "../storage/users.ts";
import { needsReauthentication } from "./manage-email.ts";
import { settle } from "./pipeline.ts";
import type { Outcome } from "./responses.ts";

/** What a social step ended with: the answer, and the code a redirect flow sends back (null: none). */
export interface SocialResult {
  readonly outcome: Outcome;
  readonly error: string | null;
}

/** The profile as machines see it: no tokens, no raw data. */
export function profileData(profile: SocialProfile): SocialProfileData {
  return {
    provider: profile.provider,
    uid: profile.uid,
    emailAddresses: profile.emailAddresses,
    username: profile.username,
    firstName: profile.firstName,
    lastName: profile.lastName,
  };
}

export async function runSocialLogin(
  step: Step,
  deps: { readonly config: ResolvedConfig; readonly bus: SignalBus; readonly openForSignup: boolean },
  provider: ProviderConfig,
  profile: SocialProfile,
  process: SocialProcess,
): Promise<SocialResult> {
  const { config, bus } = deps;
  const now = await step.run(Clock.currentTimeMillis);
  let immediate: Response | null = null;
  // A receiver's own failure, kept to be rethrown as it is (the machine only sees "unexpected").
  const receiver: { failed: boolean; error: unknown } = { failed: false, error: undefined };
  const preSocialLogin = async (): Promise<PreSocialLoginOutput> => {
    const decided = await bus.deliverPreSocialLogin(step).catch((error: unknown) => {
      receiver.failed = true;
      receiver.error = error;
      throw error;
    });
    if (decided.response !== null) {
      immediate = decided.response;
      return { kind: "abort" };
    }
    if (decided.connectTo !== null) {
      const row = await step.run(findUserById(decided.connectTo));
      if (row !== null) {
        return { kind: "connect", user: toUserRef(row) };
      }
    }
    return { kind: "continue" };
  };
  const actors = socialLoginActors(step, config, { provider, profile, preSocialLogin });
  const social = config.socialaccount;
  const { snapshot } = await runMachine(step, withActors(socialLoginMachine, actors), {
    input: {
      settings: { ...flowSettings(config), emailVerification: social.emailVerification },
      sessionUser: step.session.user,
      process,
      social: {
        autoSignup: social.autoSignup,
        emailRequired: social.emailRequired,
        emailAuthenticationAutoConnect: social.emailAuthenticationAutoConnect,
      },
      openForSignup: deps.openForSignup,
      needsReauthentication: process === "connect" && needsReauthentication(config, step.session, now),
    },
    event: { type: "COMPLETE", profile: profileData(profile) },
  });
  if (receiver.failed) {
    // The step rolls back and the error is reported as the receiver threw it.
    throw receiver.error;
  }
  if (snapshot.hasTag("aborted")) {
    const response = immediate ?? new Response(null, { status: 403 });
    return { outcome: { kind: "response", response }, error: null };
  }
  if (snapshot.hasTag("reauthenticate")) {
    return { outcome: { kind: "reauthenticate" }, error: "reauthentication_required" };
  }
  if (snapshot.hasTag("signup_closed")) {
    return { outcome: { kind: "status", status: 403 }, error: "signup_closed" };
  }
  if (snapshot.hasTag("rejected")) {
    const code = snapshot.context.error?.code ?? "unknown";
    const outcome: Outcome =
      code === "permission_denied" ? { kind: "status", status: 403 } : { kind: "errors", errors: [snapshot.context.error ?? { code: "unexpected" }] };
    return { outcome, error: code };
  }
  if (snapshot.hasTag("done")) {
    return { outcome: { kind: "session" }, error: null };
  }
  if (snapshot.hasTag("pending:provider_signup")) {
    await step.write(
      saveSessionData(step, {
        ...step.session.data,
        socialSignup: {
          ...profileData(profile),
          extraData: profile.extraData,
          sealedTokens: social.storeTokens && profile.tokens !== null ? sealTokens(config.secret, profile.tokens) : null,
          expiresAt: now + config.account.loginTimeout * 1000,
        },
      }),
    );
    return { outcome: { kind: "session" }, error: null };
  }
  if (snapshot.hasTag("inactive")) {
    return { outcome: await settle(step, config, snapshot), error: "unknown" };
  }
  const record = snapshot.context.login === null ? null : { method: "socialaccount" as const, provider: profile.provider, uid: profile.uid };
  return { outcome: await settle(step, config, snapshot, record), error: null };
}
