/**
 * `POST auth/code/request|confirm|resend`: login by code, and the login-code stage a password
 * login parks when `loginByCodeRequired` says so. The flow is persisted in the session (pending
 * `login_by_code`) between requests; its code is checked and re-sent by the shared
 * code-verification process (`code-flow.ts`).
 */
import { loginByCodeMachine } from "../../machines/login-by-code.ts";
import type { LoginByCodeEvent } from "../../machines/login-by-code.ts";
import type { PendingLogin } from "../../machines/contracts.ts";
import { Secret } from "../../machines/secret.ts";
import { loginByCodeActors } from "../actors/login-by-code.ts";
import type { ResolvedConfig } from "../config.ts";
import { flowSettings } from "../config.ts";
import { cleanEmail } from "../domain/email.ts";
import { withActors } from "../runtime/bound-machine.ts";
import { runMachine } from "../runtime/run-machine.ts";
import type { Step } from "../runtime/step.ts";
import type { ResumedFlow } from "./code-flow.ts";
import { keepCodeFlow, loginByCodeSpec, resumeCodeFlow, settleCodeFlow } from "./code-flow.ts";
import type { Exchange } from "./exchange.ts";
import { plain } from "./failure.ts";
import { readFields } from "./input.ts";
import { codeRecord, settle } from "./pipeline.ts";
import type { Outcome } from "./responses.ts";

export { loginByCodeFlowKind } from "./code-flow.ts";

function input(step: Step, config: ResolvedConfig, stage: { login: PendingLogin; verificationId: string | null } | null) {
  return { settings: flowSettings(config), sessionUser: step.session.user, stage };
}

function machineFor(step: Step, config: ResolvedConfig, resumed: ResumedFlow | null) {
  return withActors(loginByCodeMachine, loginByCodeActors(step, config, resumed?.process ?? null));
}

/** Parks a login at the login-code stage (its code was just mailed). */
export async function parkLoginCode(
  step: Step,
  config: ResolvedConfig,
  login: PendingLogin,
  verificationId: string | null,
): Promise<void> {
  const flow = await runMachine(step, machineFor(step, config, null), { input: input(step, config, { login, verificationId }) });
  await keepCodeFlow(step, config, loginByCodeSpec(config), login, flow.persisted, null, verificationId);
}

/** `REQUEST`: a new flow (its code mailed, or a fake one for an unknown address). */
async function requestStep(step: Step, config: ResolvedConfig, email: string): Promise<Outcome> {
  const { snapshot, persisted } = await runMachine(step, machineFor(step, config, null), {
    input: input(step, config, null),
    event: { type: "REQUEST", email },
  });
  if (snapshot.hasTag("code:pending")) {
    await keepCodeFlow(step, config, loginByCodeSpec(config), null, persisted, null, snapshot.context.verificationId);
    return { kind: "session" };
  }
  return settle(step, config, snapshot);
}

/** `CODE` or `RESEND` of the session's pending flow. */
async function codeStep(step: Step, config: ResolvedConfig, event: LoginByCodeEvent): Promise<Outcome> {
  const spec = loginByCodeSpec(config);
  const resumed = await resumeCodeFlow(step, spec);
  if (resumed === null) {
    return { kind: "status", status: 409 };
  }
  const { snapshot, persisted } = await runMachine(step, machineFor(step, config, resumed), {
    input: input(step, config, null),
    snapshot: resumed.snapshot,
    event,
  });
  const keep = () => keepCodeFlow(step, config, spec, snapshot.context.stageLogin, persisted, resumed, null);
  const resting: Outcome = event.type === "RESEND" ? { kind: "status", status: 200 } : { kind: "session" };
  // A confirmed code is an authentication step of its own (ALLAUTH-ERRORS §26).
  const record = event.type === "CODE" ? codeRecord(snapshot.context) : null;
  return settleCodeFlow(step, config, resumed, snapshot, keep, resting, [], record);
}

function enabled(config: ResolvedConfig): boolean {
  return config.account.loginByCodeEnabled || config.account.loginByCodeRequired !== false;
}

export async function postCodeRequest(exchange: Exchange): Promise<Response> {
  const { config } = exchange.deps;
  // ALLAUTH-ERRORS §0: `auth/code/*` is not routed without ACCOUNT_LOGIN_BY_CODE_ENABLED.
  if (!config.account.loginByCodeEnabled) {
    return plain(404);
  }
  // Django's EmailField: its validator answers before the NUL check (`invalid`).
  const valid = (v: string) => cleanEmail(v, config.account.emailMaxLength) !== null;
  const fields = await readFields<"email">(exchange.request, { email: { required: true, maxLength: config.account.emailMaxLength, valid } });
  if (!fields.ok) {
    return exchange.respond({ kind: "errors", errors: fields.errors });
  }
  // `unknown_email`, then the `request_login_code` limit (a 400 form error), inside the step.
  return exchange.step((step) => requestStep(step, config, fields.value.email!));
}

export async function postCodeConfirm(exchange: Exchange): Promise<Response> {
  const { config } = exchange.deps;
  if (!enabled(config)) {
    return plain(404);
  }
  const fields = await readFields<"code">(exchange.request, { code: { required: false, maxLength: 256 } });
  if (!fields.ok) {
    return exchange.respond({ kind: "errors", errors: fields.errors });
  }
  // A missing code is checked (and counted) as a wrong one, after the 409 of no pending flow.
  const code = fields.value.code === null ? null : new Secret(fields.value.code);
  return exchange.step((step) => codeStep(step, config, { type: "CODE", code }));
}

export async function postCodeResend(exchange: Exchange): Promise<Response> {
  const { config } = exchange.deps;
  if (!enabled(config)) {
    return plain(404);
  }
  if (config.account.loginByCodeMaxResends === 0) {
    return exchange.respond({ kind: "status", status: 409 });
  }
  return exchange.step((step) => codeStep(step, config, { type: "RESEND" }));
}
