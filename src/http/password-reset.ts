/**
 * `POST auth/password/request`, `GET|POST auth/password/reset`. Link mode runs a fresh
 * password-reset flow per request; code mode persists it (pending `password_reset_by_code`)
 * from the request to the new password.
 */
import { passwordResetMachine } from "../../machines/password-reset.ts";
import type { PasswordResetEvent } from "../../machines/password-reset.ts";
import { Secret } from "../../machines/secret.ts";
import { findResetKey, passwordResetActors } from "../actors/password-reset.ts";
import type { ResolvedConfig } from "../config.ts";
import { flowSettings } from "../config.ts";
import { cleanEmail } from "../domain/email.ts";
import { runMachine } from "../runtime/run-machine.ts";
import type { Step } from "../runtime/step.ts";
import type { Exchange } from "./exchange.ts";
import { readFields } from "./input.ts";
import { dropPending, loadPending, savePending } from "./pending-flow.ts";
import { resetRecord, settle } from "./pipeline.ts";
import { consume } from "./rate-limit.ts";
import type { Outcome } from "./responses.ts";
import { userJson } from "./responses.ts";

const flowKind = "password-reset";

function input(step: Step, config: ResolvedConfig) {
  return {
    settings: flowSettings(config),
    sessionUser: step.session.user,
    mode: config.account.passwordResetByCodeEnabled ? ("code" as const) : ("link" as const),
    loginOnPasswordReset: config.account.loginOnPasswordReset,
    maxAttempts: config.account.passwordResetByCodeMaxAttempts,
  };
}

/** Runs one event of the reset flow (resumed from the session in code mode) to an outcome. */
async function resetStep(step: Step, config: ResolvedConfig, event: PasswordResetEvent, info: boolean): Promise<Outcome> {
  const byCode = config.account.passwordResetByCodeEnabled;
  const row = byCode && event.type !== "REQUEST" ? await loadPending(step, "password_reset_by_code") : null;
  if (byCode && event.type !== "REQUEST" && row === null) {
    return { kind: "status", status: 409 };
  }
  const machine = passwordResetMachine.provide({ actors: passwordResetActors(step, config) });
  const { snapshot, persisted } = await runMachine(step, machine, {
    input: input(step, config),
    ...(row === null ? {} : { snapshot: JSON.parse(row.snapshot) }),
    event,
  });
  if (snapshot.hasTag("failed")) {
    throw new Error(`flow failed: ${snapshot.context.error?.code ?? "unexpected"}`);
  }
  if (snapshot.hasTag("pending:password_reset_by_code")) {
    await savePending(step, config, { flow: "password_reset_by_code", login: null, kind: flowKind }, persisted, row);
    if (snapshot.context.error !== null) {
      return { kind: "errors", errors: [snapshot.context.error] };
    }
    if (info && snapshot.context.user !== null) {
      return { kind: "data", status: 200, data: { user: userJson(snapshot.context.user) } };
    }
    return { kind: "session" };
  }
  if (row !== null) {
    await dropPending(step, row);
  }
  if (snapshot.value === "requested") {
    return { kind: "status", status: 200 };
  }
  return settle(step, config, snapshot, resetRecord(config, snapshot.context));
}

export async function postPasswordRequest(exchange: Exchange): Promise<Response> {
  const { config, runtime } = exchange.deps;
  const fields = await readFields<"email">(exchange.request, { email: { required: true, maxLength: config.account.emailMaxLength } });
  if (!fields.ok) {
    return exchange.respond({ kind: "errors", errors: fields.errors });
  }
  const email = fields.value.email!;
  if (cleanEmail(email, config.account.emailMaxLength) === null) {
    return exchange.respond({ kind: "errors", errors: [{ code: "invalid", param: "email" }] });
  }
  const key = cleanEmail(email, config.account.emailMaxLength)!;
  if (!(await consume(runtime, config, "resetPassword", { ip: exchange.info.ip, key }))) {
    return exchange.respond({ kind: "status", status: 429 });
  }
  return exchange.step((step) => resetStep(step, config, { type: "REQUEST", email }, false));
}

export async function getPasswordReset(exchange: Exchange): Promise<Response> {
  const { config } = exchange.deps;
  const key = exchange.request.headers.get("x-password-reset-key") ?? "";
  if (config.account.passwordResetByCodeEnabled) {
    return exchange.step((step) => resetStep(step, config, { type: "CONFIRM", code: new Secret(key) }, true));
  }
  // Link mode: a read-only check of the key; nothing is consumed.
  return exchange.step(async (step) => {
    try {
      const found = await step.run(findResetKey(key));
      return { kind: "data", status: 200, data: { user: userJson(found.user) } };
    } catch {
      return { kind: "errors", errors: [{ code: "invalid_password_reset", param: "key" }] };
    }
  });
}

export async function postPasswordReset(exchange: Exchange): Promise<Response> {
  const { config, runtime } = exchange.deps;
  const fields = await readFields<"key" | "password">(exchange.request, {
    key: { required: true, maxLength: 256 },
    password: { required: true, maxLength: config.account.passwordMaxLength, type: "password" },
  });
  if (!fields.ok) {
    return exchange.respond({ kind: "errors", errors: fields.errors });
  }
  if (!(await consume(runtime, config, "resetPasswordFromKey", { ip: exchange.info.ip }))) {
    return exchange.respond({ kind: "status", status: 429 });
  }
  const event = { type: "RESET", key: new Secret(fields.value.key!), password: new Secret(fields.value.password!) } as const;
  return exchange.step((step) => resetStep(step, config, event, false));
}
