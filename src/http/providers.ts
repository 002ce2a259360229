/**
 * `GET|DELETE account/providers` (allauth's `ManageProvidersView`): the user's connected social
 * accounts, and disconnecting one through the `social-disconnect` machine (input errors, then
 * `account_not_found`, then the last account's guards, then reauthentication).
 */
import { Clock } from "effect";
import { socialDisconnectMachine } from "../../machines/social-disconnect.ts";
import { socialDisconnectActors } from "../actors/social-disconnect.ts";
import type { ResolvedConfig } from "../config.ts";
import { flowSettings } from "../config.ts";
import { withActors } from "../runtime/bound-machine.ts";
import { runMachine } from "../runtime/run-machine.ts";
import type { Step } from "../runtime/step.ts";
import { displayOf } from "../social/profile.ts";
import { listSocialAccounts } from "../storage/social.ts";
import type { Exchange } from "./exchange.ts";
import { readFields } from "./input.ts";
import { needsReauthentication } from "./manage-email.ts";
import { providerJson } from "./providers-json.ts";
import type { Outcome } from "./responses.ts";

async function accountList(step: Step, config: ResolvedConfig): Promise<Outcome> {
  const rows = await step.run(listSocialAccounts(step.session.user!.id));
  const data = rows.flatMap((row) => {
    const provider = config.socialaccount.providers.find((p) => p.id === row.provider);
    if (provider === undefined) {
      return [];
    }
    const extra = JSON.parse(row.extra_data) as Record<string, unknown>;
    return [{ uid: row.uid, display: displayOf(extra, provider.name), provider: providerJson(provider) }];
  });
  return { kind: "data", status: 200, data };
}

export async function manageProviders(exchange: Exchange): Promise<Response> {
  const { config, runtime } = exchange.deps;
  const session = await exchange.loadSession();
  if (session.user === null) {
    return exchange.respond({ kind: "session" }, session);
  }
  if (exchange.request.method === "GET") {
    return exchange.step((step) => accountList(step, config));
  }
  const input = await readFields<"provider" | "account">(exchange.request, {
    provider: { required: true, maxLength: 200 },
    account: { required: true, maxLength: 191 },
  });
  if (!input.ok) {
    return exchange.respond({ kind: "errors", errors: input.errors }, session);
  }
  const now = await runtime.runPromise(Clock.currentTimeMillis);
  return exchange.step(async (step) => {
    const machine = withActors(socialDisconnectMachine, socialDisconnectActors(step, config));
    const { snapshot } = await runMachine(step, machine, {
      input: { settings: flowSettings(config), sessionUser: step.session.user, needsReauthentication: needsReauthentication(config, step.session, now) },
      event: { type: "DISCONNECT", provider: input.value.provider!, uid: input.value.account! },
    });
    if (snapshot.hasTag("unauthenticated")) {
      return { kind: "session" };
    }
    if (snapshot.hasTag("reauthenticate")) {
      return { kind: "reauthenticate" };
    }
    if (snapshot.hasTag("rejected")) {
      return { kind: "errors", errors: [snapshot.context.error ?? { code: "unexpected" }] };
    }
    return accountList(step, config);
  });
}
