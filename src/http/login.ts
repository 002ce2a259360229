/**
 * `POST auth/login`, read as allauth's `LoginInput`: the `login` rate limit first (allauth's
 * decorator runs before the body is read), then the fields of the configured login methods in
 * allauth's order (`username`, `email`, then `password`; the only method's field is required),
 * then exactly one identifier key must be present (`invalid_login`, no param).
 */
import { loginMachine } from "../../machines/login.ts";
import { Secret } from "../../machines/secret.ts";
import { loginActors } from "../actors/login.ts";
import { flowSettings } from "../config.ts";
import { cleanEmail } from "../domain/email.ts";
import { runMachine } from "../runtime/run-machine.ts";
import type { Exchange } from "./exchange.ts";
import type { Field } from "./input.ts";
import { readFields } from "./input.ts";
import { settle } from "./pipeline.ts";
import { consume } from "./rate-limit.ts";

export async function postLogin(exchange: Exchange): Promise<Response> {
  const { config, runtime } = exchange.deps;
  const account = config.account;
  if (!(await consume(runtime, config, "login", { ip: exchange.info.ip }))) {
    return exchange.respond({ kind: "status", status: 429 });
  }
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
  const input = await readFields<"email" | "username" | "password">(exchange.request, spec);
  if (!input.ok) {
    return exchange.respond({ kind: "errors", errors: input.errors });
  }
  const email = input.value.email ?? null;
  const given = methods.filter((m) => input.keys.has(m));
  if (given.length !== 1) {
    return exchange.respond({ kind: "errors", errors: [{ code: "invalid_login" }] });
  }
  const byEmail = given[0] === "email";
  const username = byEmail ? null : (input.value.username ?? "");
  return exchange.step(async (step) => {
    const machine = loginMachine.provide({ actors: loginActors(step, config) });
    const { snapshot } = await runMachine(step, machine, {
      input: { settings: flowSettings(config), sessionUser: step.session.user },
      event: {
        type: "SUBMIT",
        email: byEmail ? (email ?? "") : null,
        username,
        password: new Secret(input.value.password!),
      },
    });
    // The password step is done once the login knows its user, even if the login then stalls.
    const sent = username !== null ? { username } : { email: (email ?? "").toLowerCase() };
    return settle(step, config, snapshot, snapshot.context.login === null ? null : { method: "password", ...sent });
  });
}
