/**
 * `POST auth/login`, read as allauth's `LoginInput`: the `login` rate limit first (allauth's
 * decorator runs before the body is read: a spent limit answers 429 whatever the body), then the fields of the configured login methods in
 * allauth's order (`username`, `email`, then `password`; the only method's field is required),
 * then exactly one identifier key must be present (`invalid_login`, no param).
 *
 * A well-formed login owes its `login` hit to its step: the password check takes it in the one
 * transaction that takes the attempt (TH-03), so a login commits once before its hash.
 */
import { loginMachine } from "../../machines/login.ts";
import { Secret } from "../../machines/secret.ts";
import { loginActors } from "../actors/login.ts";
import { flowSettings } from "../config.ts";
import { cleanEmail } from "../domain/email.ts";
import { withActors } from "../runtime/bound-machine.ts";
import { runMachine } from "../runtime/run-machine.ts";
import type { Exchange } from "./exchange.ts";
import type { Field } from "./input.ts";
import { readFields } from "./input.ts";
import { settle } from "./pipeline.ts";
import { edgeHits } from "./rate-limit.ts";

export async function postLogin(exchange: Exchange): Promise<Response> {
  const { config } = exchange.deps;
  const account = config.account;
  const methods = (["username", "email"] as const).filter((m) => account.loginMethods.includes(m));
  const spec: Record<string, Field> = {};
  for (const method of methods) {
    spec[method] = {
      required: account.loginMethods.length === 1,
      maxLength: method === "email" ? account.emailMaxLength : account.usernameMaxLength,
      ...(method === "email" ? { valid: (v: string) => cleanEmail(v, account.emailMaxLength) !== null } : {}),
    };
  }
  spec["password"] = { required: true, maxLength: account.passwordMaxLength, type: "password" };
  const hits = edgeHits(config, "login", { ip: exchange.info.ip });
  const input = await readFields<"email" | "username" | "password">(exchange.request, spec);
  const given = input.ok ? methods.filter((m) => input.keys.has(m)) : [];
  if (!input.ok || given.length !== 1) {
    // No step runs: the `login` hit is taken on its own, and a spent limit still answers first.
    return exchange.respondCounted(hits, { kind: "errors", errors: input.ok ? [{ code: "invalid_login" }] : input.errors });
  }
  const email = input.value.email ?? null;
  const byEmail = given[0] === "email";
  const username = byEmail ? null : (input.value.username ?? "");
  return exchange.step(async (step) => {
    const machine = withActors(loginMachine, loginActors(step, config));
    const { snapshot } = await runMachine(step, machine, {
      input: { settings: flowSettings(config), sessionUser: step.session.user },
      event: {
        type: "SUBMIT",
        email: byEmail ? (email ?? "") : null,
        username,
        password: new Secret(input.value.password!),
      },
    });
    // The flow never checked a password: the `login` hit goes into the step's own transaction.
    if (!(await step.takeOwedHits())) {
      // Rolled back by the exchange: nothing of the step stays.
      return { kind: "status", status: 429 };
    }
    // The password step is done once the login knows its user, even if the login then stalls.
    const sent = username !== null ? { username } : { email: (email ?? "").toLowerCase() };
    return settle(step, config, snapshot, snapshot.context.login === null ? null : { method: "password", ...sent });
  }, hits);
}
