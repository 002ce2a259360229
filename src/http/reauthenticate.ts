/**
 * `POST auth/reauthenticate`: a fresh password check for the logged-in user, then the action
 * that asked for it (kept in the session) is replayed in the same step.
 */
import { reauthenticateMachine } from "../../machines/reauthenticate.ts";
import { Secret } from "../../machines/secret.ts";
import { reauthenticateActors } from "../actors/reauthenticate.ts";
import { flowSettings } from "../config.ts";
import { withActors } from "../runtime/bound-machine.ts";
import { runMachine } from "../runtime/run-machine.ts";
import { saveSessionData } from "../runtime/session.ts";
import type { Exchange } from "./exchange.ts";
import { readFields } from "./input.ts";
import { manageEmailStep } from "./manage-email.ts";
import { edgeHits } from "./rate-limit.ts";

export async function postReauthenticate(exchange: Exchange): Promise<Response> {
  const { config } = exchange.deps;
  const session = await exchange.loadSession();
  if (session.user === null) {
    return exchange.respond({ kind: "session" }, session);
  }
  // allauth's order: 401 for nobody, then the `reauthenticate` limit, then the body. The hit is
  // owed to the step: the password check takes it with its attempt, before the hash.
  const hits = edgeHits(config, "reauthenticate", { ip: exchange.info.ip, user: session.user.id });
  const input = await readFields<"password">(exchange.request, {
    password: { required: true, maxLength: config.account.passwordMaxLength, type: "password" },
  });
  if (!input.ok) {
    return exchange.respondCounted(hits, { kind: "errors", errors: input.errors }, session);
  }
  return exchange.step(async (step) => {
    const machine = withActors(reauthenticateMachine, reauthenticateActors(step, config));
    const { snapshot } = await runMachine(step, machine, {
      input: { settings: flowSettings(config), sessionUser: step.session.user },
      event: { type: "SUBMIT", password: new Secret(input.value.password!) },
    });
    if (snapshot.hasTag("rejected")) {
      return { kind: "errors", errors: [snapshot.context.error ?? { code: "unexpected" }] };
    }
    if (snapshot.hasTag("unauthenticated")) {
      return { kind: "session" };
    }
    const suspended = step.session.data.suspended;
    if (suspended === undefined) {
      return { kind: "session" };
    }
    const { suspended: _replayed, ...rest } = step.session.data;
    await step.write(saveSessionData(step, rest));
    const outcome = await manageEmailStep(step, config, suspended.event, { reauthenticated: true });
    // The client asked to reauthenticate: it gets the session; a refused replay still reports.
    return outcome.kind === "errors" ? outcome : { kind: "session" };
  }, hits);
}
