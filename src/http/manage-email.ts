/**
 * `GET|POST|PUT|PATCH|DELETE account/email`. One `manage-email` step per request. With
 * `reauthenticationRequired`, an add/remove/mark-primary older than the reauthentication window
 * answers 401 (flow `reauthenticate`) and is kept in the session, to be replayed by
 * `POST auth/reauthenticate`. In code mode the address an add waits to verify is listed
 * (unsaved), can be removed (the add is abandoned) and not made primary; and a signup waiting for
 * its code may change its address (anonymous POST, `emailVerificationSupportsChange` times).
 */
import { Clock, Effect, Option } from "effect";
import { manageEmailMachine } from "../../machines/manage-email.ts";
import type { ManageEmailEvent } from "../../machines/manage-email.ts";
import { verificationPurposes } from "../actors/login-pipeline.ts";
import { manageEmailActors, manageEmailInputCheck } from "../actors/manage-email.ts";
import { toFlowError } from "../../machines/errors.ts";
import type { ResolvedConfig } from "../config.ts";
import { flowSettings } from "../config.ts";
import { cleanEmail } from "../domain/email.ts";
import { withActors } from "../runtime/bound-machine.ts";
import { runMachine } from "../runtime/run-machine.ts";
import { saveSessionData } from "../runtime/session.ts";
import type { SessionState, Step } from "../runtime/step.ts";
import { findUserById, findUserEmailAddress, listEmailAddresses, toEmailAddressRef } from "../storage/users.ts";
import { findOpenVerifications, revokeVerifications } from "../storage/verifications.ts";
import type { Exchange } from "./exchange.ts";
import { readEach, readFields } from "./input.ts";
import { emailVerificationSpec, resumeCodeFlow } from "./code-flow.ts";
import { codeStep } from "./email-verification.ts";
import { dropPending, loadPending, pendingOf } from "./pending-flow.ts";
import { parkLogin } from "./pipeline.ts";
import { edgeHits, spent } from "./rate-limit.ts";
import type { Outcome } from "./responses.ts";

/** Whether the session must reauthenticate before a guarded action (allauth's rule). */
export function needsReauthentication(config: ResolvedConfig, session: SessionState, now: number): boolean {
  if (!config.account.reauthenticationRequired || session.user === null || !session.user.hasUsablePassword) {
    return false;
  }
  // allauth's `did_recently_authenticate` reads only the last record's time.
  const last = (session.data.methods ?? []).at(-1);
  return last === undefined || now - last.at >= config.account.reauthenticationTimeout * 1000;
}

/**
 * Code mode: the address this session's add waits to verify (allauth's pending
 * `EmailVerificationProcess` of the logged-in user), or null.
 */
async function pendingAddress(
  run: Step["run"],
  session: SessionState,
  config: ResolvedConfig,
): Promise<{ readonly email: string } | null> {
  const user = session.user;
  if (!config.account.emailVerificationByCodeEnabled || user === null) {
    return null;
  }
  const now = await run(Clock.currentTimeMillis);
  const pending = pendingOf(session, now);
  if (pending === null || pending.flow !== "verify_email" || pending.login !== null) {
    return null;
  }
  const open = await run(findOpenVerifications(user.id, verificationPurposes.code, now));
  const waiting = open.find((row) => row.email_address_id === null);
  return waiting === undefined ? null : { email: waiting.email };
}

const sameAddress = (pending: { readonly email: string } | null, typed: string): boolean =>
  pending !== null && pending.email.toLowerCase() === typed.trim().toLowerCase();

/** The addresses of `userId` as allauth lists them; a logged-in session's pending one last. */
async function emailList(step: Step, config: ResolvedConfig, userId = step.session.user!.id): Promise<Outcome> {
  const rows = await step.run(listEmailAddresses(userId));
  const data = rows.map(toEmailAddressRef).map((a) => ({ email: a.email, verified: a.verified, primary: a.primary }));
  const pending = await pendingAddress((e) => step.run(e), step.session, config);
  if (pending !== null) {
    data.push({ email: pending.email, verified: false, primary: false });
  }
  return { kind: "data", status: 200, data };
}

/** REMOVE, MARK_PRIMARY or RESEND of the pending code-mode address, or null for a stored one. */
async function onPendingAddress(step: Step, config: ResolvedConfig, event: StoredAddressEvent): Promise<Outcome | null> {
  if (!sameAddress(await pendingAddress((e) => step.run(e), step.session, config), event.email)) {
    return null;
  }
  switch (event.type) {
    case "REMOVE": {
      // The add is abandoned: no signal, and no reauthentication asked (allauth).
      const now = await step.run(Clock.currentTimeMillis);
      await step.write(revokeVerifications(step.session.user!.id, verificationPurposes.code, now));
      await dropPending(step, await loadPending(step, "verify_email"));
      return emailList(step, config);
    }
    case "MARK_PRIMARY":
      return { kind: "errors", errors: [{ code: "unverified_primary_email", param: "email" }] };
    case "RESEND": {
      // The process's own resend (its quota counted on the flow row, shared with
      // `auth/email/verify/resend`); allauth's `can_resend` false sends nothing and answers 403.
      const outcome = await codeStep(config, step, { type: "RESEND" });
      return outcome.kind === "status" && outcome.status === 409 ? { kind: "status", status: 403 } : outcome;
    }
    default:
      return null;
  }
}

/** Runs one manage-email event inside `step` and turns its rest into an outcome. */
export async function manageEmailStep(
  step: Step,
  config: ResolvedConfig,
  event: StoredAddressEvent,
  options: { readonly reauthenticated: boolean },
): Promise<Outcome> {
  const now = await step.run(Clock.currentTimeMillis);
  const machine = withActors(manageEmailMachine, manageEmailActors(step, config));
  const { snapshot } = await runMachine(step, machine, {
    input: {
      settings: flowSettings(config),
      sessionUser: step.session.user,
      needsReauthentication: !options.reauthenticated && needsReauthentication(config, step.session, now),
    },
    event,
  });
  if (snapshot.hasTag("unauthenticated")) {
    return { kind: "session" };
  }
  if (snapshot.hasTag("reauthenticate") && event.type !== "RESEND") {
    await step.write(
      saveSessionData(step, { ...step.session.data, suspended: { flow: "manage-email", event: { type: event.type, email: event.email } } }),
    );
    return { kind: "reauthenticate" };
  }
  if (snapshot.hasTag("rejected")) {
    return { kind: "errors", errors: [snapshot.context.error ?? { code: "unexpected" }] };
  }
  if (snapshot.hasTag("throttled")) {
    return { kind: "status", status: 403 };
  }
  if (snapshot.context.verificationId !== null) {
    // Code mode: the code is confirmed through `auth/email/verify`, as a pending flow.
    await parkLogin(step, config, null, snapshot.context.verificationId);
  }
  return event.type === "RESEND" ? { kind: "status", status: 200 } : emailList(step, config);
}

/**
 * Anonymous POST: a signup waiting for its code changes its address (allauth's `ChangeEmailInput`
 * and `change_to`). 409 without such a signup, once `emailVerificationSupportsChange` is used up,
 * or when the user has logged in before.
 */
async function changeDuringSignup(exchange: Exchange, session: SessionState): Promise<Response> {
  const { config, runtime } = exchange.deps;
  const now = await runtime.runPromise(Clock.currentTimeMillis);
  const pending = pendingOf(session, now);
  const login = pending?.flow === "verify_email" ? pending.login : null;
  const changes = pending?.changes ?? 0;
  const user = login === null ? null : await runtime.runPromise(findUserById(login.userId));
  if (
    !config.account.emailVerificationByCodeEnabled ||
    login === null ||
    pending?.flowId == null ||
    changes >= config.account.emailVerificationMaxChanges ||
    user === null ||
    user.last_login !== null
  ) {
    return exchange.respond({ kind: "status", status: 409 }, session);
  }
  // The `manage_email` hit, owed to the step (taken in its transaction).
  const hits = edgeHits(config, "manageEmail", { ip: exchange.info.ip, user: login.userId });
  if (await spent(runtime, hits)) {
    return exchange.respond({ kind: "status", status: 429 }, session);
  }
  const input = await readFields<"email">(exchange.request, {
    email: { required: true, maxLength: config.account.emailMaxLength },
  });
  if (!input.ok) {
    return exchange.respondCounted(hits, { kind: "errors", errors: input.errors }, session);
  }
  return exchange.step(async (step) => {
    // allauth's `change_to` keeps the process: its start (timeout), attempts and resends.
    const resumed = await resumeCodeFlow(step, emailVerificationSpec(config));
    if (resumed === null) {
      return { kind: "status", status: 409 };
    }
    const machine = withActors(manageEmailMachine, manageEmailActors(step, config));
    const { snapshot } = await runMachine(step, machine, {
      input: { settings: flowSettings(config), sessionUser: null, needsReauthentication: false },
      event: { type: "CHANGE", email: input.value.email!, userId: login.userId, current: login.email ?? user.email },
    });
    if (snapshot.hasTag("rejected")) {
      return { kind: "errors", errors: [snapshot.context.error ?? { code: "unexpected" }] };
    }
    const email = cleanEmail(input.value.email!, config.account.emailMaxLength)!;
    const row = await step.run(findUserEmailAddress(login.userId, email));
    // Hidden (the new address is taken): the login keeps its address, with no live code.
    const moved = snapshot.context.verificationId === null || row === null ? login : { ...login, emailAddressId: row.id, email };
    await parkLogin(step, config, moved, snapshot.context.verificationId, { changes: changes + 1 }, resumed);
    return emailList(step, config, login.userId);
  }, hits);
}

type StoredAddressEvent = Exclude<ManageEmailEvent, { readonly type: "CHANGE" }>;

const eventTypes: Readonly<Record<string, StoredAddressEvent["type"]>> = {
  POST: "ADD",
  PUT: "RESEND",
  PATCH: "MARK_PRIMARY",
  DELETE: "REMOVE",
};

export async function manageEmail(exchange: Exchange): Promise<Response> {
  const { config, runtime } = exchange.deps;
  const session = await exchange.loadSession();
  const method = exchange.request.method;
  if (session.user === null) {
    return method === "POST" ? changeDuringSignup(exchange, session) : exchange.respond({ kind: "session" }, session);
  }
  if (method === "GET") {
    return exchange.step((step) => emailList(step, config));
  }
  const type = eventTypes[method]!;
  // allauth's ManageEmailView: the manage_email limit before the body, then the input (Django's
  // email validation and `primary` in field order). The hit is owed to the step.
  const hits = edgeHits(config, "manageEmail", { ip: exchange.info.ip, user: session.user.id });
  if (await spent(runtime, hits)) {
    return exchange.respond({ kind: "status", status: 429 }, session);
  }
  const input = await readEach<"email" | "primary">(exchange.request, {
    email: {
      required: true,
      maxLength: config.account.emailMaxLength,
      valid: (v) => cleanEmail(v, config.account.emailMaxLength) !== null,
    },
    ...(type === "MARK_PRIMARY" ? { primary: { required: true, maxLength: 5, type: "boolean" as const } } : {}),
  });
  if ("bad" in input) {
    return exchange.respondCounted(hits, { kind: "errors", errors: [input.bad] }, session);
  }
  const email = input.value.email;
  if (input.errors.length > 0) {
    if (email === null) {
      return exchange.respondCounted(hits, { kind: "errors", errors: input.errors }, session);
    }
    // Only `primary` failed: allauth's form cleans `email` as well and reports both, in order.
    const userId = session.user.id;
    return exchange.step(async (step) => {
      const pending = sameAddress(await pendingAddress((e) => step.run(e), step.session, config), email);
      const checked = pending
        ? null
        : await step.write(Effect.flip(manageEmailInputCheck(config, "MARK_PRIMARY", { userId, email })).pipe(Effect.option));
      const emailError = pending ? { code: "unverified_primary_email", param: "email" } : Option.getOrNull(checked!);
      return { kind: "errors", errors: emailError === null ? input.errors : [toFlowError(emailError), ...input.errors] };
    }, hits);
  }
  const event = { type, email: email! };
  return exchange.step(
    async (step) =>
      (await onPendingAddress(step, config, event)) ?? manageEmailStep(step, config, event, { reauthenticated: false }),
    hits,
  );
}
