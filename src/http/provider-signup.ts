/**
 * `GET|POST auth/provider/signup` (allauth's `ProviderSignupView`): the social login waiting in
 * the session for its signup form. 409 without one, 403 while signup is closed (both before the
 * body is read); GET shows what the provider said, POST completes the signup.
 */
import { Clock } from "effect";
import { providerSignupMachine } from "../../machines/provider-signup.ts";
import { providerSignupActors } from "../actors/provider-signup.ts";
import type { ResolvedConfig } from "../config.ts";
import { flowSettings } from "../config.ts";
import { withActors } from "../runtime/bound-machine.ts";
import { runMachine } from "../runtime/run-machine.ts";
import { saveSessionData } from "../runtime/session.ts";
import type { PendingSocialSignup, Step } from "../runtime/step.ts";
import { displayOf } from "../social/profile.ts";
import { openTokens } from "../social/token-box.ts";
import type { SocialProfile } from "../social/types.ts";
import type { Exchange } from "./exchange.ts";
import { readFields } from "./input.ts";
import { settle } from "./pipeline.ts";
import { findProvider } from "./provider-redirect.ts";
import { pendingSocialSignup, providerJson } from "./providers-json.ts";
import type { Outcome } from "./responses.ts";

function profileOf(config: ResolvedConfig, pending: PendingSocialSignup): SocialProfile {
  const { sealedTokens, expiresAt: _expiresAt, ...rest } = pending;
  return { ...rest, tokens: sealedTokens === null ? null : openTokens(config.secret, sealedTokens) };
}

async function dropSignup(step: Step): Promise<void> {
  const { socialSignup: _dropped, ...rest } = step.session.data;
  await step.write(saveSessionData(step, rest));
}

export async function providerSignup(exchange: Exchange): Promise<Response> {
  const { config, runtime } = exchange.deps;
  const session = await exchange.loadSession();
  const now = await runtime.runPromise(Clock.currentTimeMillis);
  const pending = pendingSocialSignup(session, now);
  const provider = pending === null ? null : findProvider(config, pending.provider);
  if (pending === null || provider === null) {
    return exchange.respond({ kind: "status", status: 409 }, session);
  }
  if (!(await config.adapter.isOpenForSignup(exchange.request))) {
    return exchange.respond({ kind: "status", status: 403 }, session);
  }
  if (exchange.request.method === "GET") {
    const email = pending.emailAddresses.map((a) => ({ email: a.email, primary: a.primary, verified: a.verified }));
    const first = pending.emailAddresses[0]?.email;
    const user: Record<string, unknown> = { display: displayOf(pending.extraData, provider.name), has_usable_password: false };
    if (first !== undefined) {
      user["email"] = first;
    }
    if (pending.username !== null) {
      user["username"] = pending.username;
    }
    return exchange.respond(
      {
        kind: "data",
        status: 200,
        data: { user, account: { uid: pending.uid, display: displayOf(pending.extraData, provider.name), provider: providerJson(provider) }, email },
      },
      session,
    );
  }
  const input = await readFields<"email" | "username">(exchange.request, {
    email: { required: false, maxLength: config.account.emailMaxLength },
    username: { required: false, maxLength: config.account.usernameMaxLength },
  });
  if (!input.ok) {
    return exchange.respond({ kind: "errors", errors: input.errors }, session);
  }
  const profile = profileOf(config, pending);
  return exchange.step(async (step): Promise<Outcome> => {
    const machine = withActors(providerSignupMachine, providerSignupActors(step, config, provider, profile));
    const { snapshot } = await runMachine(step, machine, {
      input: {
        settings: { ...flowSettings(config), emailVerification: config.socialaccount.emailVerification },
        sessionUser: step.session.user,
        profile: { provider: profile.provider, uid: profile.uid, emailAddresses: profile.emailAddresses, username: profile.username, firstName: profile.firstName, lastName: profile.lastName },
      },
      event: { type: "SUBMIT", email: input.value.email, username: input.value.username },
    });
    if (snapshot.hasTag("rejected")) {
      return { kind: "errors", errors: [snapshot.context.error ?? { code: "unexpected" }] };
    }
    await dropSignup(step);
    const record = snapshot.context.login === null ? null : { method: "socialaccount" as const, provider: profile.provider, uid: profile.uid };
    return settle(step, config, snapshot, record);
  });
}
