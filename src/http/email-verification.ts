/**
 * `GET|POST auth/email/verify` and `POST auth/email/verify/resend`. Link mode runs a fresh
 * email-verification flow per request; code mode resumes the flow parked in the session and
 * persists it again while a code is still awaited.
 */
import { Clock, Effect } from "effect";
import { emailVerificationMachine } from "../../machines/email-verification.ts";
import type { EmailVerificationEvent } from "../../machines/email-verification.ts";
import { Secret } from "../../machines/secret.ts";
import { emailVerificationActors, verificationPurposes } from "../actors/index.ts";
import { flowSettings } from "../config.ts";
import { runMachine } from "../runtime/run-machine.ts";
import type { Step } from "../runtime/step.ts";
import { normalizeCode, Tokens } from "../services/tokens.ts";
import { findFlow } from "../storage/sessions.ts";
import { findEmailAddressById, findUserById, toUserRef } from "../storage/users.ts";
import { findVerificationByDigest, findVerificationById, recordFailedAttempt } from "../storage/verifications.ts";
import type { Exchange } from "./exchange.ts";
import { readFields } from "./input.ts";
import { dropPending, loadPending, pendingOf, savePending } from "./pending-flow.ts";
import { emailVerificationFlowKind, settle } from "./pipeline.ts";
import { consume } from "./rate-limit.ts";
import type { Outcome } from "./responses.ts";
import { userJson } from "./responses.ts";

export async function getEmailVerification(exchange: Exchange): Promise<Response> {
  const { config, runtime } = exchange.deps;
  const session = await exchange.loadSession();
  const now = await runtime.runPromise(Clock.currentTimeMillis);
  const pending = pendingOf(session, now);
  const byCode = config.account.emailVerificationByCodeEnabled;
  if (byCode && (pending === null || pending.flowId === null)) {
    return exchange.respond({ kind: "status", status: 409 }, session);
  }
  const key = exchange.request.headers.get("x-email-verification-key") ?? "";
  const info = await runtime.runPromise(
    Effect.gen(function* () {
      const tokens = yield* Tokens;
      let verification = null;
      if (byCode) {
        // The code is required, as allauth requires it: without it, a fake (enumeration
        // prevention) flow would answer differently from a real one. A wrong code counts.
        const flow = yield* findFlow(pending!.flowId!, session.id!, now);
        const id = flow === null ? null : (JSON.parse(flow.snapshot) as { context?: { verificationId?: string } }).context?.verificationId;
        verification = id === undefined || id === null || id === "" ? null : yield* findVerificationById(id);
        const given = tokens.digest(verificationPurposes.code, normalizeCode(key));
        if (verification !== null && (key.length === 0 || key.length > 64 || !tokens.equal(verification.digest, given))) {
          yield* recordFailedAttempt(verification.id);
          return null;
        }
      } else if (key.length > 0 && key.length <= 256) {
        const purpose = verificationPurposes.link;
        verification = yield* findVerificationByDigest(purpose, tokens.digest(purpose, key));
      }
      if (verification === null || verification.used_at !== null || verification.expires_at <= now) {
        return null;
      }
      const user = yield* findUserById(verification.user_id);
      if (verification.email_address_id === null) {
        // Code-mode add: the address is stored only once confirmed.
        return user === null ? null : { email: verification.email, user: toUserRef(user) };
      }
      const address = yield* findEmailAddressById(verification.email_address_id);
      if (address === null || user === null || Number(address.verified) === 1 || address.email !== verification.email) {
        return null;
      }
      return { email: address.email, user: toUserRef(user) };
    }),
  );
  if (info === null) {
    return exchange.respond(
      {
        kind: "errors",
        errors: [{ code: key.trim() === "" ? "required" : byCode ? "incorrect_code" : "invalid_or_expired_key", param: "key" }],
      },
      session,
    );
  }
  return exchange.respond(
    {
      kind: "data",
      status: 200,
      data: { email: info.email, user: userJson(info.user) },
      meta: { is_authenticating: pending?.login?.userId === info.user.id },
    },
    session,
  );
}

/** Runs the email-verification flow for one event and turns its rest into an outcome. */
async function verifyStep(exchange: Exchange, step: Step, event: EmailVerificationEvent): Promise<Outcome> {
  const { config } = exchange.deps;
  const now = await step.run(Clock.currentTimeMillis);
  const pending = pendingOf(step.session, now);
  const byCode = config.account.emailVerificationByCodeEnabled;
  const row = byCode ? await loadPending(step, "verify_email") : null;
  if (byCode && row === null) {
    return { kind: "status", status: 409 };
  }
  const machine = emailVerificationMachine.provide({ actors: emailVerificationActors(step, config) });
  const sessionId = step.session.id;
  const { snapshot, persisted } = await runMachine(step, machine, {
    input: {
      settings: flowSettings(config),
      sessionUser: step.session.user,
      mode: byCode ? "code" : "link",
      pendingLogin: pending?.login ?? null,
      verificationId: null,
    },
    ...(row === null ? {} : { snapshot: JSON.parse(row.snapshot) }),
    event,
  });
  const error = snapshot.context.error;
  if (snapshot.value === "awaitingCode") {
    await savePending(step, config, { flow: "verify_email", login: pending?.login ?? null, kind: emailVerificationFlowKind }, persisted, row);
    if (error?.code === "rate_limited" || error?.code === "too_many_attempts") {
      return { kind: "status", status: 429 };
    }
    return error === null ? { kind: "data", status: 200, data: {} } : { kind: "errors", errors: [error] };
  }
  // The flow is over (verified, logged in, or refused for good): the stage it held is done.
  const refusedKey = snapshot.value === "rejected";
  if (step.session.id === sessionId && !refusedKey) {
    await dropPending(step, row);
  }
  if (snapshot.hasTag("rejected")) {
    return { kind: "errors", errors: [error ?? { code: "invalid", param: "key" }] };
  }
  return settle(step, config, snapshot);
}

export async function postEmailVerification(exchange: Exchange): Promise<Response> {
  const input = await readFields<"key">(exchange.request, { key: { required: true, maxLength: 256 } });
  if (!input.ok) {
    return exchange.respond({ kind: "errors", errors: input.errors });
  }
  return exchange.step((step) => verifyStep(exchange, step, { type: "VERIFY", key: new Secret(input.value.key!) }));
}

export async function postEmailVerificationResend(exchange: Exchange): Promise<Response> {
  const { config, runtime } = exchange.deps;
  if (!config.account.emailVerificationByCodeEnabled || config.account.emailVerificationMaxResends === 0) {
    return exchange.respond({ kind: "status", status: 409 });
  }
  const session = await exchange.loadSession();
  const now = await runtime.runPromise(Clock.currentTimeMillis);
  const pending = pendingOf(session, now);
  if (pending === null || pending.flowId === null) {
    return exchange.respond({ kind: "status", status: 409 }, session);
  }
  // allauth's code-mode cooldown: one mail per 10 seconds per pending verification.
  if (!(await consumeResend(exchange, pending.flowId))) {
    return exchange.respond({ kind: "status", status: 429 }, session);
  }
  return exchange.step((step) => verifyStep(exchange, step, { type: "RESEND" }));
}

async function consumeResend(exchange: Exchange, flowId: string): Promise<boolean> {
  const { config, runtime } = exchange.deps;
  const codeConfig = {
    ...config,
    account: { ...config.account, rateLimits: { confirmEmailCode: [{ amount: 1, periodInSeconds: 10, scope: "key" as const }] } },
  };
  return consume(runtime, codeConfig, "confirmEmailCode", { ip: exchange.info.ip, key: flowId });
}
