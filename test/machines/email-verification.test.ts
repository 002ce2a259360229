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
import { checker, codeVerificationScenarios } from "./code-verification.ts";

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
    checkCode: checker(CODE),
    confirmEmailCode: () => confirmed(),
    resendCode: () => ({ result: "sent", confirmation: confirmation(address({ id: "e1" }), "code"), signup: true }),
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
const enter = (code: string) => ({ type: "CODE" as const, code: new Secret(code) });

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
  s.it("rests in awaitingCode with the code:pending tag", async () => {
    const flow = await codeFlow(settings(), fakes());
    const snapshot = flow.snapshot();
    expect(snapshot.status).toBe("active");
    expect(tagsOf(snapshot)).toEqual(["code:pending"]);
    expect(flow.signalTypes()).toEqual([]);
  });

  s.it("with the right code, emits email_confirmed then user_logged_in even without loginOnEmailConfirmation", async () => {
    const flow = await codeFlow(settings({ emailVerification: "mandatory", loginOnEmailConfirmation: false }), fakes());
    const snapshot = await flow.send(enter(CODE));
    expect(snapshot.value).toBe("loggedIn");
    expect(snapshot.status).toBe("done");
    expect(tagsOf(snapshot)).toEqual(["authenticated"]);
    expect(flow.signalTypes()).toEqual(["email_confirmed", "user_logged_in"]);
    expect(flow.signals[0]).toEqual({ type: "email_confirmed", emailAddress: verifiedAddress });
    expect(flow.signals[1]).toEqual({ type: "user_logged_in", user: sessionAlice });
    expect(flow.calls("checkCode").map((c) => c.code?.reveal())).toEqual([CODE]);
    expect(flow.calls("confirmEmailCode")).toEqual([{ verificationId: "v-right" }]);
    expect(flow.calls("startSession")).toEqual([{ userId: "u1", login: parked }]);
    expect(flow.calls("sendVerificationEmail")).toEqual([]);
    expectNoSecretsPersisted(flow, CODE);
  });

  s.it("after a wrong code, the right code clears the error and resumes the login", async () => {
    const flow = await codeFlow(settings(), fakes());
    expect((await flow.send(enter(WRONG))).context.error).toEqual({ code: "incorrect_code", param: "key" });
    const snapshot = await flow.send(enter(CODE));
    expect(snapshot.value).toBe("loggedIn");
    expect(snapshot.context.error).toBeNull();
    expect(flow.signalTypes()).toEqual(["email_confirmed", "user_logged_in"]);
  });

  s.it("a right code refused at confirmation (email_taken) rests again with the error and emits nothing", async () => {
    const flow = await codeFlow(settings(), fakes({ confirmEmailCode: fail("email_taken", "key") }));
    const snapshot = await flow.send(enter(CODE));
    expect(snapshot.value).toBe("awaitingCode");
    expect(snapshot.context.error).toEqual({ code: "email_taken", param: "key" });
    expect(snapshot.context.secret).toBeNull();
    expect(flow.signalTypes()).toEqual([]);
  });

  s.it("for an address added by a logged-in user, emits email_added then email_confirmed and logs nobody in", async () => {
    const added = address({ id: "e2", email: "second@example.com", verified: true, primary: false });
    const flow = await codeFlow(
      settings(),
      fakes({ confirmEmailCode: () => confirmed({ emailAddress: added, added: true }) }),
      { sessionUser: alice, pendingLogin: null, verificationId: "v5" },
    );
    const snapshot = await flow.send(enter(CODE));
    expect(snapshot.value).toBe("verified");
    expect(tagsOf(snapshot)).toEqual(["done"]);
    expect(flow.signalTypes()).toEqual(["email_added", "email_confirmed"]);
    expect(flow.signals[0]).toEqual({ type: "email_added", user: alice, emailAddress: added });
    expect(flow.signals[1]).toEqual({ type: "email_confirmed", emailAddress: added });
    expect(flow.calls("confirmEmailCode")[0]?.verificationId).toBe("v-right");
    expect(flow.calls("startSession")).toEqual([]);
  });

  s.it("for an added address under changeEmail, emits email_added, email_confirmed, then email_changed from the old address", async () => {
    const added = address({ id: "e2", email: "new@example.com", verified: true, primary: true });
    const flow = await codeFlow(
      settings({ changeEmail: true }),
      fakes({ confirmEmailCode: () => confirmed({ emailAddress: added, fromEmailAddress: oldAddress, added: true }) }),
      { sessionUser: alice, pendingLogin: null },
    );
    const snapshot = await flow.send(enter(CODE));
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
    const snapshot = await flow.send(enter(CODE));
    expect(snapshot.value).toBe("verified");
    expect(flow.signalTypes()).toEqual(["email_confirmed"]);
    expect(flow.calls("startSession")).toEqual([]);
  });

  s.it("fails loudly with 'not provided: checkCode' and ends failed", async () => {
    const flow = await startFlow(emailVerificationMachine, { input: input("code", settings()) });
    const snapshot = await flow.send(enter(CODE));
    expect(snapshot.value).toBe("failed");
    expect(tagsOf(snapshot)).toEqual(["failed"]);
    expect(snapshot.context.error).toEqual({ code: "unexpected" });
    expect((flow.actorErrors[0] as Error).message).toBe("not provided: checkCode");
    expect(flow.signalTypes()).toEqual([]);
    expectNoSecretsPersisted(flow, CODE);
  });

  s.it("fails loudly with 'not provided: startSession' and ends failed after email_confirmed", async () => {
    const { startSession: _omitted, ...rest } = fakes();
    const flow = await codeFlow(settings(), rest);
    const snapshot = await flow.send(enter(CODE));
    expect(snapshot.value).toBe("failed");
    expect(tagsOf(snapshot)).toEqual(["failed"]);
    expect((flow.actorErrors[0] as Error).message).toBe("not provided: startSession");
    expect(flow.signalTypes()).toEqual(["email_confirmed"]);
  });

  s.it("never serialises the code while confirmEmailCode is in flight", async () => {
    const pending = deferred<ConfirmEmailOutput>();
    const flow = await codeFlow(settings(), fakes({ confirmEmailCode: () => pending.promise }));
    flow.actor.send(enter(CODE));
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(flow.snapshot().value).toBe("codeRight");
    expect(flow.snapshot().context.secret).toBeNull();
    expect(flow.persisted()).not.toContain(CODE);
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
    const snapshot = await flow.send(enter(CODE));
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
    const snapshot = await flow.send(enter(CODE));
    expect(snapshot.value).toBe("verificationPending");
    expect(flow.signalTypes()).toEqual(["email_confirmed"]);
  });

  s.it("with optional verification offers the mail to a signup and logs in", async () => {
    const flow = await codeFlow(settings({ emailVerification: "optional" }), fakes({ confirmEmailCode: byOther }));
    const snapshot = await flow.send(enter(CODE));
    expect(snapshot.value).toBe("loggedIn");
    expect(flow.signalTypes()).toEqual(["email_confirmed", "email_confirmation_sent", "user_logged_in"]);
  });

  s.it("fails after email_confirmed when the verification mail cannot be queued", async () => {
    const flow = await codeFlow(
      settings({ emailVerification: "mandatory" }),
      fakes({ confirmEmailCode: byOther, sendVerificationEmail: fail("unexpected") }),
    );
    const snapshot = await flow.send(enter(CODE));
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
    const snapshot = await flow.send(enter(CODE));
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

describe("a parked login that already passed the login-code stage", () => {
  s.it("is not asked for a second code when its address is confirmed", async () => {
    const flow = await codeFlow(settings({ emailVerification: "mandatory", loginByCodeRequired: true }), fakes());
    const snapshot = await flow.send(enter(CODE));
    expect(snapshot.value).toBe("loggedIn");
    expect(flow.signalTypes()).toEqual(["email_confirmed", "user_logged_in"]);
    expect(flow.calls("sendLoginCode")).toEqual([]);
  });
});

codeVerificationScenarios(s, {
  param: "key",
  awaiting: (fakeActors) => codeFlow(settings(), fakes(fakeActors)),
  resume: (snapshot, fakeActors) =>
    startFlow(emailVerificationMachine, { input: input("code", settings()), fakes: fakes(fakeActors), snapshot }),
  resent: { result: "sent", confirmation: confirmation(address({ id: "e1" }), "code"), signup: true },
  resentSignals: ["email_confirmation_sent"],
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
