/** `POST auth/signup`. */
import { signupMachine } from "../../machines/signup.ts";
import { Secret } from "../../machines/secret.ts";
import { signupActors } from "../actors/signup.ts";
import { flowSettings } from "../config.ts";
import { runMachine } from "../runtime/run-machine.ts";
import type { Exchange } from "./exchange.ts";
import type { Field } from "./input.ts";
import { readFields } from "./input.ts";
import { settle } from "./pipeline.ts";
import { consume } from "./rate-limit.ts";

export async function postSignup(exchange: Exchange): Promise<Response> {
  const { config, runtime } = exchange.deps;
  const account = config.account;
  if (!(await config.adapter.isOpenForSignup(exchange.request))) {
    return exchange.respond({ kind: "status", status: 403 });
  }
  const spec: Record<string, Field> = {};
  if (account.signupPassword !== "absent") {
    spec["password"] = { required: account.signupPassword === "required", maxLength: account.passwordMaxLength, type: "password" };
  }
  if (account.signupEmail !== "absent") {
    spec["email"] = { required: account.signupEmail === "required", maxLength: account.emailMaxLength };
  }
  if (account.signupUsername !== "absent") {
    spec["username"] = { required: account.signupUsername === "required", maxLength: account.usernameMaxLength };
  }
  const input = await readFields<"email" | "username" | "password">(exchange.request, spec);
  if (!input.ok) {
    return exchange.respond({ kind: "errors", errors: input.errors });
  }
  if (!(await consume(runtime, config, "signup", { ip: exchange.info.ip }))) {
    return exchange.respond({ kind: "status", status: 429 });
  }
  return exchange.step(async (step) => {
    const machine = signupMachine.provide({ actors: signupActors(step, config) });
    const { snapshot } = await runMachine(step, machine, {
      input: { settings: flowSettings(config), sessionUser: step.session.user },
      event: {
        type: "SUBMIT",
        email: input.value.email ?? null,
        username: input.value.username ?? null,
        // No password field, or an optional one left empty: the account gets no usable password.
        password: input.value.password ? new Secret(input.value.password) : null,
      },
    });
    return settle(step, config, snapshot);
  });
}
