/** `POST auth/login`. */
import { loginMachine } from "../../machines/login.ts";
import { Secret } from "../../machines/secret.ts";
import { loginActors } from "../actors/login.ts";
import { flowSettings } from "../config.ts";
import { runMachine } from "../runtime/run-machine.ts";
import type { Exchange } from "./exchange.ts";
import { readFields } from "./input.ts";
import { settle } from "./pipeline.ts";
import { consume } from "./rate-limit.ts";

export async function postLogin(exchange: Exchange): Promise<Response> {
  const { config, runtime } = exchange.deps;
  const account = config.account;
  const byEmail = account.loginMethods.includes("email");
  const byUsername = account.loginMethods.includes("username");
  const spec: Record<string, { required: boolean; maxLength: number }> = {
    password: { required: true, maxLength: account.passwordMaxLength },
  };
  if (byEmail) {
    spec["email"] = { required: !byUsername, maxLength: account.emailMaxLength };
  }
  if (byUsername) {
    spec["username"] = { required: !byEmail, maxLength: account.usernameMaxLength };
  }
  const input = await readFields<"email" | "username" | "password">(exchange.request, spec);
  if (!input.ok) {
    return exchange.respond({ kind: "errors", errors: input.errors });
  }
  const email = input.value.email ?? null;
  const username = input.value.username ?? null;
  if ((email === null) === (username === null)) {
    return exchange.respond({ kind: "errors", errors: [{ code: "required", param: byEmail ? "email" : "username" }] });
  }
  if (!(await consume(runtime, config, "login", { ip: exchange.info.ip }))) {
    return exchange.respond({ kind: "status", status: 429 });
  }
  return exchange.step(async (step) => {
    const machine = loginMachine.provide({ actors: loginActors(step, config) });
    const { snapshot } = await runMachine(step, machine, {
      input: { settings: flowSettings(config), sessionUser: step.session.user },
      event: { type: "SUBMIT", email, username, password: new Secret(input.value.password!) },
    });
    // The password step is done once the login knows its user, even if the login then stalls.
    const sent = email === null ? { username: username!.trim() } : { email: email.trim().toLowerCase() };
    return settle(step, config, snapshot, snapshot.context.login === null ? null : { method: "password", ...sent });
  });
}
