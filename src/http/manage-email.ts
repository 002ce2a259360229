/**
 * `GET|POST|PUT|PATCH|DELETE account/email`. One `manage-email` step per request. With
 * `reauthenticationRequired`, an add/remove/mark-primary older than the reauthentication window
 * answers 401 (flow `reauthenticate`) and is kept in the session, to be replayed by
 * `POST auth/reauthenticate`.
 */
import { Clock } from "effect";
import { manageEmailMachine } from "../../machines/manage-email.ts";
import type { ManageEmailEvent } from "../../machines/manage-email.ts";
import { manageEmailActors } from "../actors/manage-email.ts";
import type { ResolvedConfig } from "../config.ts";
import { flowSettings } from "../config.ts";
import { cleanEmail } from "../domain/email.ts";
import { runMachine } from "../runtime/run-machine.ts";
import { saveSessionData } from "../runtime/session.ts";
import type { SessionState, Step } from "../runtime/step.ts";
import { listEmailAddresses, toEmailAddressRef } from "../storage/users.ts";
import type { Exchange } from "./exchange.ts";
import { readFields } from "./input.ts";
import { parkLogin } from "./pipeline.ts";
import { consume } from "./rate-limit.ts";
import type { Outcome } from "./responses.ts";

/** Whether the session must reauthenticate before a guarded action (allauth's rule). */
export function needsReauthentication(config: ResolvedConfig, session: SessionState, now: number): boolean {
  if (!config.account.reauthenticationRequired || session.user === null || !session.user.hasUsablePassword) {
    return false;
  }
  // allauth's `did_recently_authenticate` reads only the last record's time.
  const last = (session.data.methods ?? []).at(-1);
  return last === undefined || now - last.at >= config.account.reauthenticationTimeout * 1000;
}

async function emailList(step: Step): Promise<Outcome> {
  const rows = await step.run(listEmailAddresses(step.session.user!.id));
  const data = rows.map(toEmailAddressRef).map((a) => ({ email: a.email, primary: a.primary, verified: a.verified }));
  return { kind: "data", status: 200, data };
}

/** Runs one manage-email event inside `step` and turns its rest into an outcome. */
export async function manageEmailStep(
  step: Step,
  config: ResolvedConfig,
  event: ManageEmailEvent,
  options: { readonly reauthenticated: boolean },
): Promise<Outcome> {
  const now = await step.run(Clock.currentTimeMillis);
  const machine = manageEmailMachine.provide({ actors: manageEmailActors(step, config) });
  const { snapshot } = await runMachine(step, machine, {
    input: {
      settings: flowSettings(config),
      sessionUser: step.session.user,
      needsReauthentication: !options.reauthenticated && needsReauthentication(config, step.session, now),
    },
    event,
  });
  if (snapshot.hasTag("unauthenticated")) {
    return { kind: "session" };
  }
  if (snapshot.hasTag("reauthenticate") && event.type !== "RESEND") {
    await step.write(
      saveSessionData(step, { ...step.session.data, suspended: { flow: "manage-email", event: { type: event.type, email: event.email } } }),
    );
    return { kind: "reauthenticate" };
  }
  if (snapshot.hasTag("rejected")) {
    return { kind: "errors", errors: [snapshot.context.error ?? { code: "unexpected" }] };
  }
  if (snapshot.hasTag("throttled")) {
    return { kind: "status", status: 403 };
  }
  if (snapshot.context.verificationId !== null) {
    // Code mode: the code is confirmed through `auth/email/verify`, as a pending flow.
    await parkLogin(step, config, null, snapshot.context.verificationId);
  }
  return event.type === "RESEND" ? { kind: "status", status: 200 } : emailList(step);
}

const eventTypes: Readonly<Record<string, ManageEmailEvent["type"]>> = {
  POST: "ADD",
  PUT: "RESEND",
  PATCH: "MARK_PRIMARY",
  DELETE: "REMOVE",
};

export async function manageEmail(exchange: Exchange): Promise<Response> {
  const { config, runtime } = exchange.deps;
  const session = await exchange.loadSession();
  if (session.user === null) {
    return exchange.respond({ kind: "session" }, session);
  }
  const method = exchange.request.method;
  if (method === "GET") {
    return exchange.step((step) => emailList(step));
  }
  const type = eventTypes[method]!;
  const input = await readFields<"email" | "primary">(exchange.request, {
    email: { required: true, maxLength: config.account.emailMaxLength },
    ...(type === "MARK_PRIMARY" ? { primary: { required: true, maxLength: 5, type: "boolean" as const } } : {}),
  });
  if (!input.ok) {
    return exchange.respond({ kind: "errors", errors: input.errors }, session);
  }
  if (type === "MARK_PRIMARY" && input.value.primary !== "true") {
    return exchange.respond({ kind: "errors", errors: [{ code: "invalid", param: "primary" }] }, session);
  }
  // Not one valid address (a list, a look-alike "@", CR/LF): refused like a bad field, before
  // the rate limit is hit — no stored address can match it, so no step could accept it.
  if (cleanEmail(input.value.email!, config.account.emailMaxLength) === null) {
    return exchange.respond({ kind: "errors", errors: [{ code: "invalid", param: "email" }] }, session);
  }
  if (!(await consume(runtime, config, "manageEmail", { ip: exchange.info.ip, user: session.user.id }))) {
    return exchange.respond({ kind: "status", status: 429 }, session);
  }
  return exchange.step((step) =>
    manageEmailStep(step, config, { type, email: input.value.email! }, { reauthenticated: false }),
  );
}
