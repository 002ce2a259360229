import { describe, expect } from "vitest";
import type { ConfirmEmailOutput, FlowSettings, PendingLogin } from "../../machines/contracts.ts";
import { emailVerificationMachine } from "../../machines/email-verification.ts";
import type { EmailVerificationInput } from "../../machines/email-verification.ts";
import { Secret } from "../../machines/secret.ts";
import type { UserRef } from "../../machines/signals.ts";
import {
  address,
  confirmation,
  deferred,
  expectNoSecretsPersisted,
  fail,
  pendingLogin,
  scenarios,
  sent,
  settings,
  startFlow,
  suppressed,
  tagsOf,
  user,
} from "./support.ts";
import type { Fakes } from "./support.ts";

const KEY = "MjE:1tLinkKeyThatMustNeverBePersisted";
const CODE = "KZQP-RTXW";
const WRONG = "WRNG-CODE";
const s = scenarios();

const alice = user({ id: "u1", username: "alice", email: "alice@example.com" });
const sessionAlice = user({ id: "u1", username: "alice", email: "alice@example.com", hasUsablePassword: false });
const verifiedAddress = address({ id: "e1", userId: "u1", email: "alice@example.com", verified: true });
const oldAddress = address({ id: "e0", userId: "u1", email: "old@example.com", verified: true });
const parked = pendingLogin({ userId: "u1", signup: true, emailAddressId: "e1" });

function confirmed(overrides: Partial<ConfirmEmailOutput> = {}): ConfirmEmailOutput {
  return { user: alice, emailAddress: verifiedAddress, fromEmailAddress: null, added: false, ...overrides };
}

function fakes(overrides: Fakes = {}): Fakes {
  return {
    confirmEmailKey: () => confirmed(),
    confirmEmailCode: () => confirmed(),
    sendVerificationEmail: (_input, call) =>
      sent(confirmation(address({ id: "e1", email: "alice@example.com" }), "code"), `v${call + 2}`),
    startSession: () => ({ user: sessionAlice }),
    ...overrides,
  };
}

function input(
  mode: "link" | "code",
  flowSettings: FlowSettings,
  overrides: { pendingLogin?: PendingLogin | null; sessionUser?: UserRef | null; verificationId?: string | null } = {},
): EmailVerificationInput {
  return {
    settings: flowSettings,
    sessionUser: overrides.sessionUser === undefined ? null : overrides.sessionUser,
    mode,
    pendingLogin: overrides.pendingLogin === undefined ? parked : overrides.pendingLogin,
    verificationId: overrides.verificationId === undefined ? (mode === "code" ? "v1" : null) : overrides.verificationId,
  };
}

const verify = (secret: string) => ({ type: "VERIFY" as const, key: new Secret(secret) });
const resend = { type: "RESEND" as const };

async function linkFlow(flowSettings: FlowSettings, fakeActors: Fakes, overrides: Parameters<typeof input>[2] = {}) {
  const flow = await startFlow(emailVerificationMachine, { input: input("link", flowSettings, overrides), fakes: fakeActors });
  expect(flow.snapshot().value).toBe("awaitingKey");
  const snapshot = await flow.send(verify(KEY));
  return { flow, snapshot };
}

async function codeFlow(flowSettings: FlowSettings, fakeActors: Fakes, overrides: Parameters<typeof input>[2] = {}) {
  const flow = await startFlow(emailVerificationMachine, { input: input("code", flowSettings, overrides), fakes: fakeActors });
  expect(flow.snapshot().value).toBe("awaitingCode");
  return flow;
}

describe("email verification by link", () => {
  s.it("rests in awaitingKey, untagged, until a key arrives", async () => {
    const flow = await startFlow(emailVerificationMachine, { input: input("link", settings()), fakes: fakes() });
    const snapshot = flow.snapshot();
    expect(snapshot.value).toBe("awaitingKey");
    expect(snapshot.status).toBe("active");
    expect(tagsOf(snapshot)).toEqual([]);
    expect(flow.signalTypes()).toEqual([]);
  });

  s.it("with loginOnEmailConfirmation, in the session holding the same user's parked login, emits email_confirmed then user_logged_in", async () => {
    const { flow, snapshot } = await linkFlow(
      settings({ emailVerification: "mandatory", loginOnEmailConfirmation: true }),
      fakes(),
    );
    expect(snapshot.value).toBe("loggedIn");
    expect(snapshot.status).toBe("done");
    expect(tagsOf(snapshot)).toEqual(["authenticated"]);
    expect(flow.signalTypes()).toEqual(["email_confirmed", "user_logged_in"]);
    expect(flow.signals[0]).toEqual({ type: "email_confirmed", emailAddress: verifiedAddress });
    expect(flow.signals[1]).toEqual({ type: "user_logged_in", user: sessionAlice });
    expect(flow.timeline).toEqual([
      "actor:confirmEmailKey",
      "signal:email_confirmed",
      "actor:startSession",
      "signal:user_logged_in",
    ]);
    const [checked] = flow.calls("confirmEmailKey");
    expect(checked?.key).toBeInstanceOf(Secret);
    expect(checked?.key.reveal()).toBe(KEY);
    expect(flow.calls("startSession")).toEqual([{ userId: "u1", login: parked }]);
    // The address is now verified: the resumed pipeline does not mail again.
    expect(flow.calls("sendVerificationEmail")).toEqual([]);
    expect(snapshot.context.secret).toBeNull();
    expect(snapshot.context.sessionUser).toEqual(sessionAlice);
    expectNoSecretsPersisted(flow, KEY);
  });

  s.it("without loginOnEmailConfirmation, emits only email_confirmed and does not resume the login", async () => {
    const { flow, snapshot } = await linkFlow(settings({ loginOnEmailConfirmation: false }), fakes());
    expect(snapshot.value).toBe("verified");
    expect(snapshot.status).toBe("done");
    expect(tagsOf(snapshot)).toEqual(["done"]);
    expect(flow.signalTypes()).toEqual(["email_confirmed"]);
    expect(flow.calls("startSession")).toEqual([]);
    expect(snapshot.context.user).toEqual(alice);
    expect(snapshot.context.emailVerified).toBe(true);
    expectNoSecretsPersisted(flow, KEY);
  });

  s.it("with loginOnEmailConfirmation but somebody logged in, emits only email_confirmed", async () => {
    const { flow, snapshot } = await linkFlow(settings({ loginOnEmailConfirmation: true }), fakes(), {
      sessionUser: user({ id: "u9", username: "bob" }),
    });
    expect(snapshot.value).toBe("verified");
    expect(tagsOf(snapshot)).toEqual(["done"]);
    expect(flow.signalTypes()).toEqual(["email_confirmed"]);
    expect(flow.calls("startSession")).toEqual([]);
  });

  s.it("with loginOnEmailConfirmation but a parked login of another user, emits only email_confirmed", async () => {
    const { flow, snapshot } = await linkFlow(settings({ loginOnEmailConfirmation: true }), fakes(), {
      pendingLogin: pendingLogin({ userId: "u2" }),
    });
    expect(snapshot.value).toBe("verified");
    expect(flow.signalTypes()).toEqual(["email_confirmed"]);
    expect(flow.calls("startSession")).toEqual([]);
  });

  s.it("with loginOnEmailConfirmation but confirmed from another session (no parked login), emits only email_confirmed", async () => {
    const { flow, snapshot } = await linkFlow(settings({ loginOnEmailConfirmation: true }), fakes(), { pendingLogin: null });
    expect(snapshot.value).toBe("verified");
    expect(flow.signalTypes()).toEqual(["email_confirmed"]);
    expect(flow.calls("startSession")).toEqual([]);
  });

  s.it("with changeEmail at signup, emits email_confirmed, email_changed(from null) and then user_logged_in", async () => {
    const { flow, snapshot } = await linkFlow(
      settings({ emailVerification: "mandatory", loginOnEmailConfirmation: true, changeEmail: true }),
      fakes(),
    );
    expect(snapshot.value).toBe("loggedIn");
    expect(flow.signalTypes()).toEqual(["email_confirmed", "email_changed", "user_logged_in"]);
    expect(flow.signals[1]).toEqual({
      type: "email_changed",
      user: alice,
      fromEmailAddress: null,
      toEmailAddress: verifiedAddress,
    });
  });

  s.it("with changeEmail for a logged-in user, emits email_confirmed then email_changed from the replaced address", async () => {
    const newAddress = address({ id: "e2", email: "new@example.com", verified: true, primary: true });
    const { flow, snapshot } = await linkFlow(
      settings({ changeEmail: true, loginOnEmailConfirmation: true }),
      fakes({ confirmEmailKey: () => confirmed({ emailAddress: newAddress, fromEmailAddress: oldAddress }) }),
      { sessionUser: alice, pendingLogin: null },
    );
    expect(snapshot.value).toBe("verified");
    expect(flow.signalTypes()).toEqual(["email_confirmed", "email_changed"]);
    expect(flow.signals[0]).toEqual({ type: "email_confirmed", emailAddress: newAddress });
    expect(flow.signals[1]).toEqual({
      type: "email_changed",
      user: alice,
      fromEmailAddress: oldAddress,
      toEmailAddress: newAddress,
    });
  });

  s.it("with a bad or expired key, ends rejected without signals and forgets the key", async () => {
    const { flow, snapshot } = await linkFlow(settings({ loginOnEmailConfirmation: true }), fakes({ confirmEmailKey: fail("invalid", "key") }));
    expect(snapshot.value).toBe("rejected");
    expect(snapshot.status).toBe("done");
    expect(tagsOf(snapshot)).toEqual(["rejected"]);
    expect(snapshot.context.error).toEqual({ code: "invalid", param: "key" });
    expect(snapshot.context.secret).toBeNull();
    expect(flow.signalTypes()).toEqual([]);
    expect(flow.calls("startSession")).toEqual([]);
    expectNoSecretsPersisted(flow, KEY);
  });

  s.it("resuming the login of a user who became inactive, emits email_confirmed and stops at inactive", async () => {
    const { flow, snapshot } = await linkFlow(
      settings({ loginOnEmailConfirmation: true }),
      fakes({ confirmEmailKey: () => confirmed({ user: { ...alice, isActive: false } }) }),
    );
    expect(snapshot.value).toBe("inactive");
    expect(tagsOf(snapshot)).toEqual(["inactive"]);
    expect(flow.signalTypes()).toEqual(["email_confirmed"]);
    expect(flow.calls("startSession")).toEqual([]);
  });

  s.it("when the resumed session cannot start, ends failed after email_confirmed", async () => {
    const { flow, snapshot } = await linkFlow(
      settings({ loginOnEmailConfirmation: true }),
      fakes({ startSession: fail("unexpected") }),
    );
    expect(snapshot.value).toBe("failed");
    expect(tagsOf(snapshot)).toEqual(["failed"]);
    expect(snapshot.context.error).toEqual({ code: "unexpected" });
    expect(flow.signalTypes()).toEqual(["email_confirmed"]);
  });

  s.it("fails loudly with 'not provided: confirmEmailKey' and ends rejected", async () => {
    const flow = await startFlow(emailVerificationMachine, { input: input("link", settings()) });
    const snapshot = await flow.send(verify(KEY));
    expect(snapshot.value).toBe("rejected");
    expect(snapshot.context.error).toEqual({ code: "unexpected" });
    expect((flow.actorErrors[0] as Error).message).toBe("not provided: confirmEmailKey");
    expect(flow.signalTypes()).toEqual([]);
    expectNoSecretsPersisted(flow, KEY);
  });

  s.it("never serialises the key while confirmEmailKey is in flight", async () => {
    const pending = deferred<ConfirmEmailOutput>();
    const flow = await startFlow(emailVerificationMachine, {
      input: input("link", settings()),
      fakes: fakes({ confirmEmailKey: () => pending.promise }),
    });
    flow.actor.send(verify(KEY));
    expect(flow.snapshot().value).toBe("confirmingKey");
    expect(flow.snapshot().context.secret).toBeInstanceOf(Secret);
    expect(flow.persisted()).not.toContain(KEY);
    expect(flow.persisted()).toContain("<redacted>");
    pending.resolve(confirmed());
    expect((await flow.settled()).value).toBe("verified");
    expectNoSecretsPersisted(flow, KEY);
  });
});

describe("email verification by code", () => {
  s.it("rests in awaitingCode with the pending:verify_email tag", async () => {
    const flow = await codeFlow(settings(), fakes());
    const snapshot = flow.snapshot();
    expect(snapshot.status).toBe("active");
    expect(tagsOf(snapshot)).toEqual(["pending:verify_email"]);
    expect(snapshot.context.attempts).toBe(0);
    expect(snapshot.context.resends).toBe(0);
    expect(flow.signalTypes()).toEqual([]);
  });

  s.it("with the right code, emits email_confirmed then user_logged_in even without loginOnEmailConfirmation", async () => {
    const flow = await codeFlow(settings({ emailVerification: "mandatory", loginOnEmailConfirmation: false }), fakes());
    const snapshot = await flow.send(verify(CODE));
    expect(snapshot.value).toBe("loggedIn");
    expect(snapshot.status).toBe("done");
    expect(tagsOf(snapshot)).toEqual(["authenticated"]);
    expect(flow.signalTypes()).toEqual(["email_confirmed", "user_logged_in"]);
    expect(flow.signals[0]).toEqual({ type: "email_confirmed", emailAddress: verifiedAddress });
    expect(flow.signals[1]).toEqual({ type: "user_logged_in", user: sessionAlice });
    const [checked] = flow.calls("confirmEmailCode");
    expect(checked?.verificationId).toBe("v1");
    expect(checked?.code.reveal()).toBe(CODE);
    expect(flow.calls("startSession")).toEqual([{ userId: "u1", login: parked }]);
    expect(flow.calls("sendVerificationEmail")).toEqual([]);
    expectNoSecretsPersisted(flow, CODE);
  });

  s.it("with a wrong code, goes back to awaitingCode with one more attempt, an incorrect_code error and no signal", async () => {
    const flow = await codeFlow(settings(), fakes({ confirmEmailCode: fail("incorrect_code", "key") }));
    const snapshot = await flow.send(verify(WRONG));
    expect(snapshot.value).toBe("awaitingCode");
    expect(snapshot.status).toBe("active");
    expect(tagsOf(snapshot)).toEqual(["pending:verify_email"]);
    expect(snapshot.context.attempts).toBe(1);
    expect(snapshot.context.error).toEqual({ code: "incorrect_code", param: "key" });
    expect(snapshot.context.secret).toBeNull();
    expect(flow.signalTypes()).toEqual([]);
    expectNoSecretsPersisted(flow, WRONG);
  });

  s.it("after a wrong code, the right code clears the error and resumes the login", async () => {
    const flow = await codeFlow(
      settings(),
      fakes({
        confirmEmailCode: (attempt) => {
          if (attempt.code.reveal() !== CODE) {
            throw { code: "incorrect_code", param: "key" };
          }
          return confirmed();
        },
      }),
    );
    expect((await flow.send(verify(WRONG))).context.attempts).toBe(1);
    const snapshot = await flow.send(verify(CODE));
    expect(snapshot.value).toBe("loggedIn");
    expect(snapshot.context.error).toBeNull();
    expect(flow.signalTypes()).toEqual(["email_confirmed", "user_logged_in"]);
    expect(flow.calls("confirmEmailCode").map((call) => call.code.reveal())).toEqual([WRONG, CODE]);
    expectNoSecretsPersisted(flow, WRONG, CODE);
  });

  s.it("aborts at the last allowed attempt (3 wrong codes) without any signal", async () => {
    const flow = await codeFlow(settings({ emailVerificationMaxAttempts: 3 }), fakes({ confirmEmailCode: fail("incorrect_code", "key") }));
    expect((await flow.send(verify(WRONG))).context.attempts).toBe(1);
    expect((await flow.send(verify(WRONG))).context.attempts).toBe(2);
    const snapshot = await flow.send(verify(WRONG));
    expect(snapshot.value).toBe("aborted");
    expect(snapshot.status).toBe("done");
    expect(tagsOf(snapshot)).toEqual(["rejected"]);
    expect(snapshot.context.error).toEqual({ code: "incorrect_code", param: "key" });
    expect(snapshot.context.secret).toBeNull();
    expect(flow.calls("confirmEmailCode")).toHaveLength(3);
    expect(flow.signalTypes()).toEqual([]);
    expectNoSecretsPersisted(flow, WRONG);
  });

  s.it("with a single allowed attempt, aborts on the first wrong code", async () => {
    const flow = await codeFlow(settings({ emailVerificationMaxAttempts: 1 }), fakes({ confirmEmailCode: fail("incorrect_code", "key") }));
    const snapshot = await flow.send(verify(WRONG));
    expect(snapshot.value).toBe("aborted");
    expect(snapshot.context.attempts).toBe(0);
    expect(flow.signalTypes()).toEqual([]);
  });

  s.it("with an expired code, aborts at once without counting an attempt", async () => {
    const flow = await codeFlow(settings(), fakes({ confirmEmailCode: fail("invalid", "key") }));
    const snapshot = await flow.send(verify(CODE));
    expect(snapshot.value).toBe("aborted");
    expect(tagsOf(snapshot)).toEqual(["rejected"]);
    expect(snapshot.context.error).toEqual({ code: "invalid", param: "key" });
    expect(snapshot.context.attempts).toBe(0);
    expect(snapshot.context.secret).toBeNull();
    expect(flow.signalTypes()).toEqual([]);
    expectNoSecretsPersisted(flow, CODE);
  });

  s.it("keeps counting wrong codes across a persist-and-restore, as between HTTP requests", async () => {
    const first = await codeFlow(settings(), fakes({ confirmEmailCode: fail("incorrect_code", "key") }));
    await first.send(verify(WRONG));
    await first.send(verify(WRONG));
    const stored = first.persisted();
    expect(stored).not.toContain(WRONG);
    const resumed = await startFlow(emailVerificationMachine, {
      input: input("code", settings()),
      fakes: fakes({ confirmEmailCode: fail("incorrect_code", "key") }),
      snapshot: JSON.parse(stored),
    });
    expect(resumed.snapshot().value).toBe("awaitingCode");
    expect(resumed.snapshot().context.attempts).toBe(2);
    const snapshot = await resumed.send(verify(WRONG));
    expect(snapshot.value).toBe("aborted");
    expect(resumed.signalTypes()).toEqual([]);
  });

  s.it("re-sends within the quota, emitting email_confirmation_sent each time, then refuses with too_many_attempts", async () => {
    const flow = await codeFlow(settings({ emailVerificationMaxResends: 2 }), fakes());
    let snapshot = await flow.send(resend);
    expect(snapshot.value).toBe("awaitingCode");
    expect(snapshot.context.resends).toBe(1);
    expect(snapshot.context.verificationId).toBe("v2");
    snapshot = await flow.send(resend);
    expect(snapshot.context.resends).toBe(2);
    expect(snapshot.context.verificationId).toBe("v3");
    expect(snapshot.context.error).toBeNull();
    snapshot = await flow.send(resend);
    expect(snapshot.value).toBe("awaitingCode");
    expect(tagsOf(snapshot)).toEqual(["pending:verify_email"]);
    expect(snapshot.context.resends).toBe(2);
    expect(snapshot.context.error).toEqual({ code: "too_many_attempts" });
    expect(flow.signalTypes()).toEqual(["email_confirmation_sent", "email_confirmation_sent"]);
    expect(flow.signals[0]).toMatchObject({ type: "email_confirmation_sent", signup: true });
    expect(flow.signals[1]).toMatchObject({ type: "email_confirmation_sent", signup: true });
    expect(flow.calls("sendVerificationEmail")).toEqual([
      { userId: "u1", emailAddressId: "e1", signup: true },
      { userId: "u1", emailAddressId: "e1", signup: true },
    ]);
    // The latest code is the one checked, and a VERIFY clears the refusal.
    const done = await flow.send(verify(CODE));
    expect(flow.calls("confirmEmailCode")[0]?.verificationId).toBe("v3");
    expect(done.value).toBe("loggedIn");
    expect(done.context.error).toBeNull();
    expect(flow.signalTypes()).toEqual([
      "email_confirmation_sent",
      "email_confirmation_sent",
      "email_confirmed",
      "user_logged_in",
    ]);
  });

  s.it("with no resend quota, refuses the first RESEND without mailing", async () => {
    const flow = await codeFlow(settings({ emailVerificationMaxResends: 0 }), fakes());
    const snapshot = await flow.send(resend);
    expect(snapshot.value).toBe("awaitingCode");
    expect(snapshot.context.error).toEqual({ code: "too_many_attempts" });
    expect(flow.calls("sendVerificationEmail")).toEqual([]);
    expect(flow.signalTypes()).toEqual([]);
  });

  s.it("re-sends with signup=false for a parked password login", async () => {
    const flow = await codeFlow(settings(), fakes(), {
      pendingLogin: pendingLogin({ signup: false, emailAddressId: "e1" }),
    });
    await flow.send(resend);
    expect(flow.calls("sendVerificationEmail")).toEqual([{ userId: "u1", emailAddressId: "e1", signup: false }]);
    expect(flow.signals).toEqual([
      {
        type: "email_confirmation_sent",
        confirmation: confirmation(address({ id: "e1", email: "alice@example.com" }), "code"),
        signup: false,
      },
    ]);
  });

  s.it("when a cooldown holds the resent mail back, stays with rate_limited, emits nothing and keeps the quota", async () => {
    const flow = await codeFlow(
      settings({ emailVerificationMaxResends: 1 }),
      fakes({ sendVerificationEmail: (_input, call) => (call === 0 ? suppressed : sent(confirmation(verifiedAddress, "code"), "v9")) }),
    );
    let snapshot = await flow.send(resend);
    expect(snapshot.value).toBe("awaitingCode");
    expect(snapshot.context.error).toEqual({ code: "rate_limited" });
    expect(snapshot.context.resends).toBe(0);
    expect(snapshot.context.verificationId).toBe("v1");
    expect(flow.signalTypes()).toEqual([]);
    snapshot = await flow.send(resend);
    expect(snapshot.context.error).toBeNull();
    expect(snapshot.context.resends).toBe(1);
    expect(snapshot.context.verificationId).toBe("v9");
    expect(flow.signalTypes()).toEqual(["email_confirmation_sent"]);
  });

  s.it("when re-sending fails, stays in awaitingCode with the error and emits nothing", async () => {
    const flow = await codeFlow(settings(), fakes({ sendVerificationEmail: fail("rate_limited") }));
    const snapshot = await flow.send(resend);
    expect(snapshot.value).toBe("awaitingCode");
    expect(snapshot.status).toBe("active");
    expect(snapshot.context.error).toEqual({ code: "rate_limited" });
    expect(snapshot.context.resends).toBe(0);
    expect(flow.signalTypes()).toEqual([]);
  });

  s.it("fails loudly with 'not provided: sendVerificationEmail' on RESEND and stays in awaitingCode", async () => {
    const { sendVerificationEmail: _omitted, ...rest } = fakes();
    const flow = await codeFlow(settings(), rest);
    const snapshot = await flow.send(resend);
    expect(snapshot.value).toBe("awaitingCode");
    expect(snapshot.context.error).toEqual({ code: "unexpected" });
    expect((flow.actorErrors[0] as Error).message).toBe("not provided: sendVerificationEmail");
    expect(flow.signalTypes()).toEqual([]);
  });

  s.it("for an address added by a logged-in user, emits email_added then email_confirmed and logs nobody in", async () => {
    const added = address({ id: "e2", email: "second@example.com", verified: true, primary: false });
    const flow = await codeFlow(
      settings(),
      fakes({ confirmEmailCode: () => confirmed({ emailAddress: added, added: true }) }),
      { sessionUser: alice, pendingLogin: null, verificationId: "v5" },
    );
    const snapshot = await flow.send(verify(CODE));
    expect(snapshot.value).toBe("verified");
    expect(tagsOf(snapshot)).toEqual(["done"]);
    expect(flow.signalTypes()).toEqual(["email_added", "email_confirmed"]);
    expect(flow.signals[0]).toEqual({ type: "email_added", user: alice, emailAddress: added });
    expect(flow.signals[1]).toEqual({ type: "email_confirmed", emailAddress: added });
    expect(flow.calls("confirmEmailCode")[0]?.verificationId).toBe("v5");
    expect(flow.calls("startSession")).toEqual([]);
  });

  s.it("for an added address under changeEmail, emits email_added, email_confirmed, then email_changed from the old address", async () => {
    const added = address({ id: "e2", email: "new@example.com", verified: true, primary: true });
    const flow = await codeFlow(
      settings({ changeEmail: true }),
      fakes({ confirmEmailCode: () => confirmed({ emailAddress: added, fromEmailAddress: oldAddress, added: true }) }),
      { sessionUser: alice, pendingLogin: null },
    );
    const snapshot = await flow.send(verify(CODE));
    expect(snapshot.value).toBe("verified");
    expect(flow.signalTypes()).toEqual(["email_added", "email_confirmed", "email_changed"]);
    expect(flow.signals[2]).toEqual({
      type: "email_changed",
      user: alice,
      fromEmailAddress: oldAddress,
      toEmailAddress: added,
    });
  });

  s.it("does not resume a parked login that belongs to another user", async () => {
    const flow = await codeFlow(settings(), fakes(), { pendingLogin: pendingLogin({ userId: "u2" }) });
    const snapshot = await flow.send(verify(CODE));
    expect(snapshot.value).toBe("verified");
    expect(flow.signalTypes()).toEqual(["email_confirmed"]);
    expect(flow.calls("startSession")).toEqual([]);
  });

  s.it("fails loudly with 'not provided: confirmEmailCode' and aborts", async () => {
    const flow = await startFlow(emailVerificationMachine, { input: input("code", settings()) });
    const snapshot = await flow.send(verify(CODE));
    expect(snapshot.value).toBe("aborted");
    expect(tagsOf(snapshot)).toEqual(["rejected"]);
    expect(snapshot.context.error).toEqual({ code: "unexpected" });
    expect((flow.actorErrors[0] as Error).message).toBe("not provided: confirmEmailCode");
    expect(flow.signalTypes()).toEqual([]);
    expectNoSecretsPersisted(flow, CODE);
  });

  s.it("fails loudly with 'not provided: startSession' and ends failed after email_confirmed", async () => {
    const { startSession: _omitted, ...rest } = fakes();
    const flow = await codeFlow(settings(), rest);
    const snapshot = await flow.send(verify(CODE));
    expect(snapshot.value).toBe("failed");
    expect(tagsOf(snapshot)).toEqual(["failed"]);
    expect((flow.actorErrors[0] as Error).message).toBe("not provided: startSession");
    expect(flow.signalTypes()).toEqual(["email_confirmed"]);
  });

  s.it("never serialises the code while confirmEmailCode is in flight", async () => {
    const pending = deferred<ConfirmEmailOutput>();
    const flow = await codeFlow(settings(), fakes({ confirmEmailCode: () => pending.promise }));
    flow.actor.send(verify(CODE));
    expect(flow.snapshot().value).toBe("checkingCode");
    expect(flow.persisted()).not.toContain(CODE);
    expect(flow.persisted()).toContain("<redacted>");
    pending.resolve(confirmed());
    expect((await flow.settled()).value).toBe("loggedIn");
    expectNoSecretsPersisted(flow, CODE);
  });
});

describe("resuming a parked login whose own address is still unverified", () => {
  const other = address({ id: "e2", userId: "u1", email: "other@example.com", verified: true, primary: false });
  const byOther = () => confirmed({ emailAddress: other });

  s.it("with mandatory verification mails the login's address again and parks the login", async () => {
    const flow = await codeFlow(settings({ emailVerification: "mandatory" }), fakes({ confirmEmailCode: byOther }));
    const snapshot = await flow.send(verify(CODE));
    expect(snapshot.value).toBe("verificationPending");
    expect(flow.signalTypes()).toEqual(["email_confirmed", "email_confirmation_sent"]);
    expect(flow.calls("sendVerificationEmail")).toEqual([{ userId: "u1", emailAddressId: "e1", signup: true }]);
    expect(flow.calls("startSession")).toEqual([]);
  });

  s.it("with mandatory verification and the mail held back by the cooldown, parks the login silently", async () => {
    const flow = await codeFlow(
      settings({ emailVerification: "mandatory" }),
      fakes({ confirmEmailCode: byOther, sendVerificationEmail: () => suppressed }),
    );
    const snapshot = await flow.send(verify(CODE));
    expect(snapshot.value).toBe("verificationPending");
    expect(flow.signalTypes()).toEqual(["email_confirmed"]);
  });

  s.it("with optional verification offers the mail to a signup and logs in", async () => {
    const flow = await codeFlow(settings({ emailVerification: "optional" }), fakes({ confirmEmailCode: byOther }));
    const snapshot = await flow.send(verify(CODE));
    expect(snapshot.value).toBe("loggedIn");
    expect(flow.signalTypes()).toEqual(["email_confirmed", "email_confirmation_sent", "user_logged_in"]);
  });

  s.it("fails after email_confirmed when the verification mail cannot be queued", async () => {
    const flow = await codeFlow(
      settings({ emailVerification: "mandatory" }),
      fakes({ confirmEmailCode: byOther, sendVerificationEmail: fail("unexpected") }),
    );
    const snapshot = await flow.send(verify(CODE));
    expect(snapshot.value).toBe("failed");
    expect(flow.signalTypes()).toEqual(["email_confirmed"]);
  });
});

describe("resuming a parked login when login codes are required for other methods", () => {
  s.it("logs a parked password login in without a login code when loginByCodeRequired lists only other methods", async () => {
    const passwordLogin = pendingLogin({ signup: false, emailAddressId: "e1", method: "password" });
    const flow = await codeFlow(
      settings({ emailVerification: "mandatory", loginByCodeRequired: ["socialaccount"] }),
      fakes({ sendLoginCode: () => ({ verificationId: "lc-1" }) }),
      { pendingLogin: passwordLogin },
    );
    const snapshot = await flow.send(verify(CODE));
    expect(snapshot.value).toBe("loggedIn");
    expect(tagsOf(snapshot)).toEqual(["authenticated"]);
    expect(flow.signals).toEqual([
      { type: "email_confirmed", emailAddress: verifiedAddress },
      { type: "user_logged_in", user: sessionAlice },
    ]);
    expect(flow.calls("sendLoginCode")).toEqual([]);
    expect(flow.calls("startSession")).toEqual([{ userId: "u1", login: passwordLogin }]);
  });
});

describe("an enumeration-prevention fake code flow", () => {
  s.it("answers RESEND within the quota like a real one, calling no actor and emitting nothing", async () => {
    const flow = await codeFlow(settings({ emailVerificationMaxResends: 2 }), fakes(), { pendingLogin: null, verificationId: "" });
    let snapshot = await flow.send(resend);
    expect(snapshot.value).toBe("awaitingCode");
    expect(snapshot.context.error).toBeNull();
    expect(snapshot.context.resends).toBe(1);
    snapshot = await flow.send(resend);
    snapshot = await flow.send(resend);
    expect(snapshot.context.error).toEqual({ code: "too_many_attempts" });
    expect(flow.calls("sendVerificationEmail")).toEqual([]);
    expect(flow.signalTypes()).toEqual([]);
  });
});

describe("a parked login that already passed the login-code stage", () => {
  s.it("is not asked for a second code when its address is confirmed", async () => {
    const flow = await codeFlow(settings({ emailVerification: "mandatory", loginByCodeRequired: true }), fakes());
    const snapshot = await flow.send(verify(CODE));
    expect(snapshot.value).toBe("loggedIn");
    expect(flow.signalTypes()).toEqual(["email_confirmed", "user_logged_in"]);
    expect(flow.calls("sendLoginCode")).toEqual([]);
  });
});

/**
 * A login parked by the verification stage has already passed allauth's `LoginByCodeStage`
 * (it runs first, and a resumed login skips handled stages), so resuming it never asks for a
 * login code.
 */
const resumedLoginAlreadyPassedTheCodeStage = "a resumed login already passed the login-code stage (allauth skips handled stages)";

s.itCoversEveryStateAndTransition(emailVerificationMachine, {
  states: {
    sendingLoginCode: resumedLoginAlreadyPassedTheCodeStage,
    codePending: resumedLoginAlreadyPassedTheCodeStage,
  },
  transitions: {
    "codeStage --always#0--> sendingLoginCode": resumedLoginAlreadyPassedTheCodeStage,
    "sendingLoginCode --onDone#0--> codePending": resumedLoginAlreadyPassedTheCodeStage,
    "sendingLoginCode --onError#0--> failed": resumedLoginAlreadyPassedTheCodeStage,
  },
});
