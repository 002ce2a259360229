/**
 * `POST auth/code/request|confirm|resend`: login by code, and the login-code stage a password
 * login parks when `loginByCodeRequired` says so. The flow is persisted in the session (pending
 * `login_by_code`) between requests.
 */
import { loginByCodeMachine } from "../../machines/login-by-code.ts";
import type { LoginByCodeEvent } from "../../machines/login-by-code.ts";
import type { PendingLogin } from "../../machines/contracts.ts";
import { Secret } from "../../machines/secret.ts";
import { loginByCodeActors } from "../actors/login-by-code.ts";
import type { ResolvedConfig } from "../config.ts";
import { flowSettings } from "../config.ts";
import { cleanEmail } from "../domain/email.ts";
import { runMachine } from "../runtime/run-machine.ts";
import type { Step } from "../runtime/step.ts";
import type { Exchange } from "./exchange.ts";
import { readFields } from "./input.ts";
import { dropPending, loadPending, savePending } from "./pending-flow.ts";
import { codeRecord, settle } from "./pipeline.ts";
import { consume } from "./rate-limit.ts";
import type { Outcome } from "./responses.ts";

export const loginByCodeFlowKind = "login-by-code";

function input(step: Step, config: ResolvedConfig, stage: { login: PendingLogin; verificationId: string | null } | null) {
  return {
    settings: flowSettings(config),
    sessionUser: step.session.user,
    maxAttempts: config.account.loginByCodeMaxAttempts,
    maxResends: config.account.loginByCodeMaxResends,
    stage,
  };
}

/** Parks a login at the login-code stage (its code was just mailed). */
export async function parkLoginCode(
  step: Step,
  config: ResolvedConfig,
  login: PendingLogin,
  verificationId: string | null,
): Promise<void> {
  const machine = loginByCodeMachine.provide({ actors: loginByCodeActors(step, config) });
  const flow = await runMachine(step, machine, { input: input(step, config, { login, verificationId }) });
  await savePending(step, config, { flow: "login_by_code", login, kind: loginByCodeFlowKind }, flow.persisted);
}

async function codeStep(step: Step, config: ResolvedConfig, event: LoginByCodeEvent): Promise<Outcome> {
  const row = event.type === "REQUEST" ? null : await loadPending(step, "login_by_code");
  if (event.type !== "REQUEST" && row === null) {
    return { kind: "status", status: 409 };
  }
  const machine = loginByCodeMachine.provide({ actors: loginByCodeActors(step, config) });
  const sessionId = step.session.id;
  const { snapshot, persisted } = await runMachine(step, machine, {
    input: input(step, config, null),
    ...(row === null ? {} : { snapshot: JSON.parse(row.snapshot) }),
    event,
  });
  const error = snapshot.context.error;
  if (snapshot.hasTag("failed")) {
    throw new Error(`flow failed: ${error?.code ?? "unexpected"}`);
  }
  if (snapshot.hasTag("conflict")) {
    return { kind: "status", status: 409 };
  }
  if (snapshot.value === "awaitingCode") {
    await savePending(step, config, { flow: "login_by_code", login: snapshot.context.stageLogin, kind: loginByCodeFlowKind }, persisted, row);
    if (error?.code === "too_many_attempts") {
      return { kind: "status", status: 429 };
    }
    return error === null ? (event.type === "RESEND" ? { kind: "status", status: 200 } : { kind: "session" }) : { kind: "errors", errors: [error] };
  }
  if (row !== null && step.session.id === sessionId) {
    await dropPending(step, row);
  }
  if (snapshot.hasTag("rejected")) {
    return { kind: "errors", errors: [error ?? { code: "invalid", param: "code" }] };
  }
  return settle(step, config, snapshot, event.type === "CONFIRM" ? codeRecord(snapshot.context) : null);
}

function enabled(exchange: Exchange): boolean {
  const account = exchange.deps.config.account;
  return account.loginByCodeEnabled || account.loginByCodeRequired !== false;
}

export async function postCodeRequest(exchange: Exchange): Promise<Response> {
  const { config, runtime } = exchange.deps;
  if (!config.account.loginByCodeEnabled) {
    return exchange.respond({ kind: "status", status: 409 });
  }
  const fields = await readFields<"email">(exchange.request, { email: { required: true, maxLength: config.account.emailMaxLength } });
  if (!fields.ok) {
    return exchange.respond({ kind: "errors", errors: fields.errors });
  }
  const key = cleanEmail(fields.value.email!, config.account.emailMaxLength);
  if (key === null) {
    return exchange.respond({ kind: "errors", errors: [{ code: "invalid", param: "email" }] });
  }
  if (!(await consume(runtime, config, "requestLoginCode", { ip: exchange.info.ip, key }))) {
    return exchange.respond({ kind: "status", status: 429 });
  }
  return exchange.step((step) => codeStep(step, config, { type: "REQUEST", email: fields.value.email! }));
}

export async function postCodeConfirm(exchange: Exchange): Promise<Response> {
  const { config } = exchange.deps;
  if (!enabled(exchange)) {
    return exchange.respond({ kind: "status", status: 409 });
  }
  const fields = await readFields<"code">(exchange.request, { code: { required: true, maxLength: 64 } });
  if (!fields.ok) {
    return exchange.respond({ kind: "errors", errors: fields.errors });
  }
  return exchange.step((step) => codeStep(step, config, { type: "CONFIRM", code: new Secret(fields.value.code!) }));
}

export async function postCodeResend(exchange: Exchange): Promise<Response> {
  const { config } = exchange.deps;
  if (!enabled(exchange) || config.account.loginByCodeMaxResends === 0) {
    return exchange.respond({ kind: "status", status: 409 });
  }
  return exchange.step((step) => codeStep(step, config, { type: "RESEND" }));
}
