/**
 * `POST auth/signup`, in allauth's order: the `signup` rate limit (before the body is read; the hit
 * is taken in the signup's own transaction, or on its own when no step runs), the
 * whole input (every field's errors in `signupFields` order, `password` last, then `email2`'s
 * mismatch), then 409 for a logged-in session, then 403 when signup is closed.
 */
import type { FlowError } from "../../machines/errors.ts";
import { signupMachine } from "../../machines/signup.ts";
import { Secret } from "../../machines/secret.ts";
import { cleanSignup, signupActors } from "../actors/signup.ts";
import { flowSettings } from "../config.ts";
import { cleanEmail } from "../domain/email.ts";
import { withActors } from "../runtime/bound-machine.ts";
import { runMachine } from "../runtime/run-machine.ts";
import type { Exchange } from "./exchange.ts";
import type { Field } from "./input.ts";
import { readEach } from "./input.ts";
import { settle } from "./pipeline.ts";
import { edgeHits, spent } from "./rate-limit.ts";

type SignupField = "email" | "email2" | "username" | "password";

export async function postSignup(exchange: Exchange): Promise<Response> {
  const { config, runtime } = exchange.deps;
  // The hit is owed to the step (no commit of its own); a spent limit answers 429 before the body
  // is read, and before any hash.
  const hits = edgeHits(config, "signup", { ip: exchange.info.ip });
  if (await spent(runtime, hits)) {
    return exchange.respond({ kind: "status", status: 429 });
  }
  const spec = signupSpec(config.account);
  const input = await readEach<SignupField>(exchange.request, spec);
  if ("bad" in input) {
    return exchange.respondCounted(hits, { kind: "errors", errors: [input.bad] });
  }
  const failed = new Set(input.errors.map((e) => e.param));
  // A field the signup does not ask for is not in the spec: read as absent.
  const email = failed.has("email") ? null : (input.value.email ?? null);
  const username = failed.has("username") ? null : (input.value.username ?? null);
  const password = failed.has("password") ? null : (input.value.password ?? null);
  const cleaned = await runtime.runPromise(cleanSignup({ email, username, password }, config));
  const errors: Array<FlowError> = [];
  for (const name of Object.keys(spec)) {
    errors.push(...input.errors.filter((e) => e.param === name));
    if (!failed.has(name)) {
      errors.push(...cleaned.errors.filter((e) => e.param === name));
    }
  }
  // BaseSignupForm.clean: both addresses valid and different.
  const email2 = input.value.email2 ?? null;
  if (!failed.has("email2") && email !== null && email2 !== null && cleanEmail(email) !== cleanEmail(email2)) {
    errors.push({ code: "email2_mismatch", param: "email2" });
  }
  if (errors.length > 0) {
    return exchange.respondCounted(hits, { kind: "errors", errors });
  }
  const session = await exchange.loadSession();
  if (session.user !== null) {
    return exchange.respondCounted(hits, { kind: "status", status: 409 }, session);
  }
  if (!(await config.adapter.isOpenForSignup(exchange.request))) {
    return exchange.respondCounted(hits, { kind: "status", status: 403 }, session);
  }
  return exchange.step(async (step) => {
    const machine = withActors(signupMachine, signupActors(step, config, cleaned.valid));
    const { snapshot } = await runMachine(step, machine, {
      input: { settings: flowSettings(config), sessionUser: step.session.user },
      event: {
        type: "SUBMIT",
        email,
        username,
        // No password field, or an optional one left empty: the account gets no usable password.
        password: password === null ? null : new Secret(password),
      },
    });
    return settle(step, config, snapshot);
  }, hits);
}

/** The signup input's fields in allauth's order: `signupFields` order, then `password`. */
function signupSpec(account: Parameters<typeof cleanSignup>[1]["account"]): Record<string, Field> {
  const mode = (name: string) =>
    account.signupFields.includes(`${name}*`) ? "required" : account.signupFields.includes(name) ? "optional" : "absent";
  const modes: Record<Exclude<SignupField, "password">, "required" | "optional" | "absent"> = {
    email: account.signupEmail,
    email2: account.signupEmail === "absent" ? "absent" : mode("email2"),
    username: account.signupUsername,
  };
  const spec: Record<string, Field> = {};
  const valid = (v: string) => cleanEmail(v, account.emailMaxLength) !== null;
  const listed = account.signupFields.map((f) => f.replace(/\*$/, ""));
  const order = (["email", "email2", "username"] as const)
    .filter((name) => modes[name] !== "absent")
    .sort((a, b) => (listed.indexOf(a) + 1 || 99) - (listed.indexOf(b) + 1 || 99));
  for (const name of order) {
    spec[name] = {
      required: modes[name] === "required",
      maxLength: name === "username" ? account.usernameMaxLength : account.emailMaxLength,
      ...(name === "username" ? {} : { valid }),
    };
  }
  if (account.signupPassword !== "absent") {
    spec["password"] = { required: account.signupPassword === "required", maxLength: account.passwordMaxLength, type: "password" };
  }
  return spec;
}
