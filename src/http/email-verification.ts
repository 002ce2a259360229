/**
 * `GET|POST auth/email/verify` and `POST auth/email/verify/resend`. Link mode runs a fresh
 * email-verification flow per request; code mode resumes the flow parked in the session (409
 * without one, before the input is read) and counts every wrong code, GET or POST, in the flow's
 * row (`code-flow.ts`).
 */
import { Clock, Effect } from "effect";
import { emailVerificationMachine } from "../../machines/email-verification.ts";
import type { EmailVerificationEvent } from "../../machines/email-verification.ts";
import { Secret } from "../../machines/secret.ts";
import { checkCode } from "../actors/code-verification.ts";
import { emailVerificationActors, verificationPurposes } from "../actors/index.ts";
import type { ResolvedConfig } from "../config.ts";
import { flowSettings } from "../config.ts";
import { withActors } from "../runtime/bound-machine.ts";
import { runMachine } from "../runtime/run-machine.ts";
import type { Step } from "../runtime/step.ts";
import { Tokens } from "../services/tokens.ts";
import { findEmailAddressById, findUserById, toUserRef } from "../storage/users.ts";
import type { VerificationRow } from "../storage/verifications.ts";
import { findVerificationByDigest, findVerificationById } from "../storage/verifications.ts";
import type { ResumedFlow } from "./code-flow.ts";
import { emailVerificationSpec, endCodeFlow, keepCodeFlow, resumeCodeFlow, settleCodeFlow } from "./code-flow.ts";
import type { Exchange } from "./exchange.ts";
import { readFields } from "./input.ts";
import { dropPending, pendingOf } from "./pending-flow.ts";
import { settle } from "./pipeline.ts";
import type { Outcome } from "./responses.ts";
import { userJson } from "./responses.ts";

/** What `GET auth/email/verify` shows of a verification that is still good, or null. */
const verificationInfo = (verification: VerificationRow | null, now: number) =>
  Effect.gen(function* () {
    if (verification === null || verification.used_at !== null || verification.expires_at <= now) {
      return null;
    }
    const user = yield* findUserById(verification.user_id);
    if (user === null) {
      return null;
    }
    if (verification.email_address_id === null) {
      // Code-mode add: the address is stored only once confirmed.
      return { email: verification.email, user: toUserRef(user) };
    }
    const address = yield* findEmailAddressById(verification.email_address_id);
    if (address === null || Number(address.verified) === 1 || address.email !== verification.email) {
      return null;
    }
    return { email: address.email, user: toUserRef(user) };
  });

function infoOutcome(step: Step, info: { email: string; user: ReturnType<typeof toUserRef> }, now: number): Outcome {
  const pending = pendingOf(step.session, now);
  return {
    kind: "data",
    status: 200,
    data: { email: info.email, user: userJson(info.user) },
    meta: { is_authenticating: pending?.login?.userId === info.user.id },
  };
}

export async function getEmailVerification(exchange: Exchange): Promise<Response> {
  const { config } = exchange.deps;
  const key = exchange.request.headers.get("x-email-verification-key") ?? "";
  if (!config.account.emailVerificationByCodeEnabled) {
    if (key.trim() === "") {
      return exchange.respond({ kind: "errors", errors: [{ code: "required", param: "key" }] });
    }
    return exchange.step(async (step) => {
      const now = await step.run(Clock.currentTimeMillis);
      const info = await step.run(
        Effect.gen(function* () {
          const tokens = yield* Tokens;
          const purpose = verificationPurposes.link;
          const found = key.length > 256 ? null : yield* findVerificationByDigest(purpose, tokens.digest(purpose, key));
          return yield* verificationInfo(found, now);
        }),
      );
      return info === null
        ? { kind: "errors", errors: [{ code: "invalid_or_expired_key", param: "key" }] }
        : infoOutcome(step, info, now);
    });
  }
  // Code mode: the code is checked, and counted, exactly as a POST checks it; nothing is confirmed.
  return exchange.step(async (step) => {
    const resumed = await resumeCodeFlow(step, emailVerificationSpec(config));
    if (resumed === null) {
      return { kind: "status", status: 409 };
    }
    const checked = await step.write(checkCode(resumed.process, key === "" ? null : key));
    if (checked.result === "gone") {
      await endCodeFlow(step, resumed);
      return { kind: "status", status: 409 };
    }
    if (checked.result === "wrong") {
      if (checked.last) {
        await endCodeFlow(step, resumed);
      }
      return { kind: "errors", errors: [{ code: checked.error, param: "key" }] };
    }
    const now = await step.run(Clock.currentTimeMillis);
    const info = await step.run(
      Effect.flatMap(findVerificationById(checked.verificationId), (found) => verificationInfo(found, now)),
    );
    return info === null ? { kind: "status", status: 409 } : infoOutcome(step, info, now);
  });
}

function machineFor(config: ResolvedConfig, step: Step, resumed: ResumedFlow | null) {
  return withActors(emailVerificationMachine, emailVerificationActors(step, config, resumed?.process ?? null));
}

function inputFor(config: ResolvedConfig, step: Step, now: number) {
  const pending = pendingOf(step.session, now);
  return {
    settings: flowSettings(config),
    sessionUser: step.session.user,
    mode: config.account.emailVerificationByCodeEnabled ? ("code" as const) : ("link" as const),
    pendingLogin: pending?.login ?? null,
    verificationId: null,
  };
}

/**
 * Code mode: one event (a code, or a resend) of the session's pending flow; 409 without one. A
 * resend takes from the process's quota, shared by `auth/email/verify/resend` and a `PUT
 * account/email` of the address an add waits for.
 */
export async function codeStep(config: ResolvedConfig, step: Step, event: EmailVerificationEvent): Promise<Outcome> {
  const spec = emailVerificationSpec(config);
  const resumed = await resumeCodeFlow(step, spec);
  if (resumed === null) {
    return { kind: "status", status: 409 };
  }
  const now = await step.run(Clock.currentTimeMillis);
  const pending = pendingOf(step.session, now);
  const login = pending?.login ?? null;
  const { snapshot, persisted } = await runMachine(step, machineFor(config, step, resumed), {
    input: inputFor(config, step, now),
    snapshot: resumed.snapshot,
    event,
  });
  const keep = () => keepCodeFlow(step, config, spec, login, persisted, resumed, null, { changes: pending?.changes ?? 0 });
  const resting: Outcome = event.type === "RESEND" ? { kind: "status", status: 200 } : { kind: "session" };
  return settleCodeFlow(step, config, resumed, snapshot, keep, resting);
}

/** Link mode: one key, one fresh flow. */
async function linkStep(exchange: Exchange, step: Step, key: string): Promise<Outcome> {
  const { config } = exchange.deps;
  const now = await step.run(Clock.currentTimeMillis);
  const sessionId = step.session.id;
  const { snapshot } = await runMachine(step, machineFor(config, step, null), {
    input: inputFor(config, step, now),
    event: { type: "VERIFY", key: new Secret(key) },
  });
  if (!snapshot.hasTag("rejected") && step.session.id === sessionId) {
    // The address is verified: the stage that waited for it is over (a resumed login left it already).
    await dropPending(step, null);
  }
  return settle(step, config, snapshot);
}

export async function postEmailVerification(exchange: Exchange): Promise<Response> {
  const { config } = exchange.deps;
  if (config.account.emailVerificationByCodeEnabled) {
    const input = await readFields<"key">(exchange.request, { key: { required: false, maxLength: 256 } });
    if (!input.ok) {
      return exchange.respond({ kind: "errors", errors: input.errors });
    }
    // A missing code is checked (and counted) as a wrong one, after the 409 of no pending flow.
    const code = input.value.key === null ? null : new Secret(input.value.key);
    return exchange.step((step) => codeStep(config, step, { type: "CODE", code }));
  }
  const input = await readFields<"key">(exchange.request, { key: { required: true, maxLength: 256 } });
  if (!input.ok) {
    return exchange.respond({ kind: "errors", errors: input.errors });
  }
  if (input.value.key!.trim() === "") {
    // Blanks are no key (allauth strips the field): `required`.
    return exchange.respond({ kind: "errors", errors: [{ code: "required", param: "key" }] });
  }
  return exchange.step((step) => linkStep(exchange, step, input.value.key!));
}

export async function postEmailVerificationResend(exchange: Exchange): Promise<Response> {
  const { config } = exchange.deps;
  if (!config.account.emailVerificationByCodeEnabled || config.account.emailVerificationMaxResends === 0) {
    return exchange.respond({ kind: "status", status: 409 });
  }
  return exchange.step((step) => codeStep(config, step, { type: "RESEND" }));
}
