/**
 * `POST auth/password/request`, `GET|POST auth/password/reset`. Link mode runs a fresh
 * password-reset flow per request; code mode persists it (pending `password_reset_by_code`) from
 * the request to the new password, and checks its code — GET or POST — through the shared
 * code-verification process (`code-flow.ts`).
 */
import { passwordResetMachine } from "../../machines/password-reset.ts";
import type { PasswordResetEvent } from "../../machines/password-reset.ts";
import { Secret } from "../../machines/secret.ts";
import { findResetKey, passwordResetActors } from "../actors/password-reset.ts";
import type { ResolvedConfig } from "../config.ts";
import { flowSettings } from "../config.ts";
import { cleanEmail } from "../domain/email.ts";
import { withActors } from "../runtime/bound-machine.ts";
import { runMachine } from "../runtime/run-machine.ts";
import type { Step } from "../runtime/step.ts";
import type { ResumedFlow } from "./code-flow.ts";
import { keepCodeFlow, passwordResetSpec, resumeCodeFlow, settleCodeFlow } from "./code-flow.ts";
import type { Exchange } from "./exchange.ts";
import { readFields } from "./input.ts";
import { resetRecord, settle } from "./pipeline.ts";
import { edgeHits, spent } from "./rate-limit.ts";
import type { Outcome } from "./responses.ts";
import { userJson } from "./responses.ts";

function input(step: Step, config: ResolvedConfig) {
  return {
    settings: flowSettings(config),
    sessionUser: step.session.user,
    mode: config.account.passwordResetByCodeEnabled ? ("code" as const) : ("link" as const),
    loginOnPasswordReset: config.account.loginOnPasswordReset,
  };
}

function machineFor(step: Step, config: ResolvedConfig, resumed: ResumedFlow | null) {
  return withActors(passwordResetMachine, passwordResetActors(step, config, resumed?.process ?? null));
}

/** A fresh flow for one event: the request (both modes) or a link-mode reset. */
async function freshStep(step: Step, config: ResolvedConfig, event: PasswordResetEvent): Promise<Outcome> {
  const { snapshot, persisted } = await runMachine(step, machineFor(step, config, null), { input: input(step, config), event });
  if (snapshot.context.error?.code === "rate_limited") {
    return { kind: "status", status: 429 };
  }
  if (snapshot.hasTag("code:pending")) {
    await keepCodeFlow(step, config, passwordResetSpec(config), null, persisted, null, snapshot.context.verificationId);
    return { kind: "session" };
  }
  if (snapshot.value === "requested") {
    return { kind: "status", status: 200 };
  }
  return settle(step, config, snapshot, resetRecord(config, snapshot.context));
}

/** Code mode: a check (GET) or the reset (POST) of the session's pending flow. */
async function codeStep(step: Step, config: ResolvedConfig, event: PasswordResetEvent, info: boolean): Promise<Outcome> {
  const spec = passwordResetSpec(config);
  const resumed = await resumeCodeFlow(step, spec);
  if (resumed === null) {
    return { kind: "status", status: 409 };
  }
  const { snapshot, persisted } = await runMachine(step, machineFor(step, config, resumed), {
    input: input(step, config),
    snapshot: resumed.snapshot,
    event,
  });
  const keep = () => keepCodeFlow(step, config, spec, null, persisted, resumed, null);
  const user = snapshot.context.user;
  const resting: Outcome =
    info && user !== null ? { kind: "data", status: 200, data: { user: userJson(user) } } : { kind: "session" };
  const passwordError = snapshot.context.passwordError;
  const extra = passwordError === null ? [] : [passwordError];
  return settleCodeFlow(step, config, resumed, snapshot, keep, resting, extra, resetRecord(config, snapshot.context));
}

export async function postPasswordRequest(exchange: Exchange): Promise<Response> {
  const { config } = exchange.deps;
  // Django's EmailField: its validator answers before the NUL check (`invalid`).
  const valid = (v: string) => cleanEmail(v, config.account.emailMaxLength) !== null;
  const fields = await readFields<"email">(exchange.request, { email: { required: true, maxLength: config.account.emailMaxLength, valid } });
  if (!fields.ok) {
    return exchange.respond({ kind: "errors", errors: fields.errors });
  }
  const email = fields.value.email!;
  // `unknown_email`, then the `reset_password` limit (429), inside the step.
  return exchange.step((step) => freshStep(step, config, { type: "REQUEST", email }));
}

export async function getPasswordReset(exchange: Exchange): Promise<Response> {
  const { config } = exchange.deps;
  const key = exchange.request.headers.get("x-password-reset-key") ?? "";
  if (config.account.passwordResetByCodeEnabled) {
    const code = key === "" ? null : new Secret(key);
    return exchange.step((step) => codeStep(step, config, { type: "CODE", code }, true));
  }
  if (key.trim() === "") {
    return exchange.respond({ kind: "errors", errors: [{ code: "required", param: "key" }] });
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
  const byCode = config.account.passwordResetByCodeEnabled;
  // allauth's decorator comes first: a spent `reset_password_from_key` limit answers 429 whatever
  // the body. The hit is owed to the step (taken in its transaction), or taken on its own below.
  const hits = edgeHits(config, "resetPasswordFromKey", { ip: exchange.info.ip });
  if (await spent(runtime, hits)) {
    return exchange.respond({ kind: "status", status: 429 });
  }
  const fields = await readFields<"key" | "password">(exchange.request, {
    // Code mode: a missing key is checked (and counted) as a wrong code; a missing password is
    // answered beside it.
    key: { required: !byCode, maxLength: 256 },
    password: { required: !byCode, maxLength: config.account.passwordMaxLength, type: "password" },
  });
  if (!fields.ok) {
    return exchange.respondCounted(hits, { kind: "errors", errors: fields.errors });
  }
  const secret = (value: string | null) => (value === null ? null : new Secret(value));
  const event = { type: "RESET", key: secret(fields.value.key), password: secret(fields.value.password) } as const;
  return exchange.step((step) => (byCode ? codeStep(step, config, event, false) : freshStep(step, config, event)), hits);
}
