import { describe, expect } from "vitest";
import type { ConfirmLoginCodeOutput, FlowSettings, PendingLogin } from "../../machines/contracts.ts";
import { loginByCodeMachine } from "../../machines/login-by-code.ts";
import type { LoginByCodeEvent, LoginByCodeInput } from "../../machines/login-by-code.ts";
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

const CODE = "KQPT-ZRWM";
const WRONG = "WRNG-LGNC";
const s = scenarios();

const alice = user({ id: "u1", username: "alice", email: "alice@example.com" });
const sessionAlice = user({ id: "u1", username: "alice", email: "alice@example.com", hasUsablePassword: false });
const bob = user({ id: "u9", username: "bob", email: "bob@example.com" });
/** The address as the code left it: verified (just now, or already before). */
const verifiedAddress = address({ id: "e1", userId: "u1", email: "alice@example.com", verified: true });
/** A password login parked by the pipeline's login-code stage. */
const parkedLogin = pendingLogin({ userId: "u1", signup: false, emailAddressId: "e1", method: "password", email: "alice@example.com" });
/** The login a plain login by code records. */
const codeLogin: PendingLogin = {
  userId: "u1",
  signup: false,
  emailAddressId: "e1",
  method: "code",
  email: "alice@example.com",
};

function confirmed(overrides: Partial<ConfirmLoginCodeOutput> = {}): ConfirmLoginCodeOutput {
  return { user: alice, emailAddress: verifiedAddress, verifiedNow: true, ...overrides };
}

function fakes(overrides: Fakes = {}): Fakes {
  return {
    requestLoginCode: () => ({ verificationId: "lc-1" }),
    confirmLoginCode: () => confirmed(),
    resendLoginCode: (_input, call) => ({ verificationId: `lc-${call + 2}` }),
    sendLoginCode: () => ({ verificationId: "lc-second" }),
    sendVerificationEmail: () => sent(confirmation(address({ id: "e1" })), "ver-1"),
    startSession: () => ({ user: sessionAlice }),
    ...overrides,
  };
}

function input(
  options: {
    settings?: FlowSettings;
    sessionUser?: UserRef | null;
    maxAttempts?: number;
    maxResends?: number;
    stage?: LoginByCodeInput["stage"];
  } = {},
): LoginByCodeInput {
  return {
    settings: options.settings ?? settings(),
    sessionUser: options.sessionUser ?? null,
    maxAttempts: options.maxAttempts ?? 3,
    maxResends: options.maxResends ?? 1,
    stage: options.stage ?? null,
  };
}

const request = (email = "alice@example.com"): LoginByCodeEvent => ({ type: "REQUEST", email });
const confirm = (code: string): LoginByCodeEvent => ({ type: "CONFIRM", code: new Secret(code) });
const resend: LoginByCodeEvent = { type: "RESEND" };

/** A login by code requested for `email`, resting in awaitingCode. */
async function requested(options: Parameters<typeof input>[0], fakeActors: Fakes, email = "alice@example.com") {
  const flow = await startFlow(loginByCodeMachine, { input: input(options), fakes: fakeActors });
  expect(flow.snapshot().value).toBe("idle");
  const snapshot = await flow.send(request(email));
  expect(snapshot.value).toBe("awaitingCode");
  return flow;
}

/** The code stage of a parked login, resting in awaitingCode. */
async function stage(options: Parameters<typeof input>[0], fakeActors: Fakes, login: PendingLogin = parkedLogin) {
  const flow = await startFlow(loginByCodeMachine, {
    input: input({ ...options, stage: { login, verificationId: "lc-9" } }),
    fakes: fakeActors,
  });
  expect(flow.snapshot().value).toBe("awaitingCode");
  return flow;
}

/** A confirm fake that accepts only `CODE`. */
const onlyTheRightCode = (attempt: { code: Secret }): ConfirmLoginCodeOutput => {
  if (attempt.code.reveal() !== CODE) {
    throw { code: "incorrect_code", param: "code" };
  }
  return confirmed();
};

describe("requesting a login code", () => {
  s.it("hands the email to requestLoginCode and rests in awaitingCode with the pending:login_by_code tag and no signal", async () => {
    const flow = await startFlow(loginByCodeMachine, { input: input(), fakes: fakes() });
    expect(flow.snapshot().value).toBe("idle");
    expect(tagsOf(flow.snapshot())).toEqual([]);
    const snapshot = await flow.send(request("Alice@Example.com"));
    expect(snapshot.value).toBe("awaitingCode");
    expect(snapshot.status).toBe("active");
    expect(tagsOf(snapshot)).toEqual(["pending:login_by_code"]);
    expect(snapshot.context.verificationId).toBe("lc-1");
    expect(snapshot.context.attempts).toBe(0);
    expect(snapshot.context.resends).toBe(0);
    expect(snapshot.context.stageLogin).toBeNull();
    expect(flow.calls("requestLoginCode")).toEqual([{ email: "Alice@Example.com" }]);
    expect(flow.timeline).toEqual(["actor:requestLoginCode"]);
    expect(flow.signalTypes()).toEqual([]);
  });

  s.it("while somebody is logged in, ends in conflict without requesting anything", async () => {
    const flow = await startFlow(loginByCodeMachine, { input: input({ sessionUser: bob }), fakes: fakes() });
    const snapshot = await flow.send(request());
    expect(snapshot.value).toBe("conflict");
    expect(snapshot.status).toBe("done");
    expect(tagsOf(snapshot)).toEqual(["conflict"]);
    expect(flow.timeline).toEqual([]);
    expect(flow.calls("requestLoginCode")).toEqual([]);
    expect(flow.signalTypes()).toEqual([]);
    expect(snapshot.context.sessionUser).toEqual(bob);
  });

  s.it("when the request fails, ends rejected with the actor's error and no signal", async () => {
    const flow = await startFlow(loginByCodeMachine, {
      input: input(),
      fakes: fakes({ requestLoginCode: fail("rate_limited") }),
    });
    const snapshot = await flow.send(request());
    expect(snapshot.value).toBe("rejected");
    expect(snapshot.status).toBe("done");
    expect(tagsOf(snapshot)).toEqual(["rejected"]);
    expect(snapshot.context.error).toEqual({ code: "rate_limited" });
    expect(snapshot.context.verificationId).toBeNull();
    expect(flow.calls("requestLoginCode")).toEqual([{ email: "alice@example.com" }]);
    expect(flow.signalTypes()).toEqual([]);
  });

  s.it("fails loudly with 'not provided: requestLoginCode' and ends rejected", async () => {
    const flow = await startFlow(loginByCodeMachine, { input: input() });
    const snapshot = await flow.send(request());
    expect(snapshot.value).toBe("rejected");
    expect(snapshot.context.error).toEqual({ code: "unexpected" });
    expect((flow.actorErrors[0] as Error).message).toBe("not provided: requestLoginCode");
    expect(flow.signalTypes()).toEqual([]);
  });

  s.it("for an unknown address (verificationId null), looks the same: awaitingCode, and any code is checked against an empty verification", async () => {
    const flow = await requested(
      {},
      fakes({ requestLoginCode: () => ({ verificationId: null }), confirmLoginCode: fail("incorrect_code", "code") }),
      "nobody@example.com",
    );
    expect(tagsOf(flow.snapshot())).toEqual(["pending:login_by_code"]);
    expect(flow.snapshot().context.verificationId).toBeNull();
    expect(flow.calls("requestLoginCode")).toEqual([{ email: "nobody@example.com" }]);
    const snapshot = await flow.send(confirm(CODE));
    expect(snapshot.value).toBe("awaitingCode");
    expect(snapshot.context.attempts).toBe(1);
    expect(snapshot.context.error).toEqual({ code: "incorrect_code", param: "code" });
    expect(flow.calls("confirmLoginCode").map((call) => call.verificationId)).toEqual([""]);
    expect(flow.calls("startSession")).toEqual([]);
    expect(flow.signalTypes()).toEqual([]);
  });
});

describe("confirming a requested login code", () => {
  s.it("with the right code that verifies the address now, emits exactly email_confirmed then user_logged_in, as a code login", async () => {
    const flow = await requested({}, fakes());
    const snapshot = await flow.send(confirm(CODE));
    expect(snapshot.value).toBe("loggedIn");
    expect(snapshot.status).toBe("done");
    expect(tagsOf(snapshot)).toEqual(["authenticated"]);
    expect(flow.signalTypes()).toEqual(["email_confirmed", "user_logged_in"]);
    expect(flow.signals).toEqual([
      { type: "email_confirmed", emailAddress: verifiedAddress },
      { type: "user_logged_in", user: sessionAlice },
    ]);
    expect(flow.timeline).toEqual([
      "actor:requestLoginCode",
      "actor:confirmLoginCode",
      "signal:email_confirmed",
      "actor:startSession",
      "signal:user_logged_in",
    ]);
    const [checked] = flow.calls("confirmLoginCode");
    expect(checked?.verificationId).toBe("lc-1");
    expect(checked?.code).toBeInstanceOf(Secret);
    expect(checked?.code.reveal()).toBe(CODE);
    expect(flow.calls("startSession")).toEqual([{ userId: "u1", login: codeLogin }]);
    expect(snapshot.context.login?.method).toBe("code");
    expect(snapshot.context.login).toEqual(codeLogin);
    expect(snapshot.context.codeVerified).toBe(true);
    expect(snapshot.context.emailVerified).toBe(true);
    expect(snapshot.context.user).toEqual(sessionAlice);
    expect(snapshot.context.sessionUser).toEqual(sessionAlice);
    expect(snapshot.context.secret).toBeNull();
    expect(snapshot.context.error).toBeNull();
    expect(flow.calls("sendLoginCode")).toEqual([]);
    expect(flow.calls("sendVerificationEmail")).toEqual([]);
    expectNoSecretsPersisted(flow, CODE);
  });

  s.it("with the right code for an already verified address, emits only user_logged_in", async () => {
    const flow = await requested({}, fakes({ confirmLoginCode: () => confirmed({ verifiedNow: false }) }));
    const snapshot = await flow.send(confirm(CODE));
    expect(snapshot.value).toBe("loggedIn");
    expect(flow.signals).toEqual([{ type: "user_logged_in", user: sessionAlice }]);
    expect(flow.calls("startSession")).toEqual([{ userId: "u1", login: codeLogin }]);
  });

  s.it("under mandatory verification with login codes required, the code itself is enough: no second code, no verification mail", async () => {
    const flow = await requested(
      { settings: settings({ emailVerification: "mandatory", loginByCodeRequired: true }) },
      fakes(),
    );
    const snapshot = await flow.send(confirm(CODE));
    expect(snapshot.value).toBe("loggedIn");
    expect(flow.signalTypes()).toEqual(["email_confirmed", "user_logged_in"]);
    expect(flow.calls("sendLoginCode")).toEqual([]);
    expect(flow.calls("sendVerificationEmail")).toEqual([]);
    expect(flow.timeline).toEqual([
      "actor:requestLoginCode",
      "actor:confirmLoginCode",
      "signal:email_confirmed",
      "actor:startSession",
      "signal:user_logged_in",
    ]);
  });

  s.it("for an inactive user, emits email_confirmed (the address is verified) and stops at inactive", async () => {
    const inactive = { ...alice, isActive: false };
    const flow = await requested({}, fakes({ confirmLoginCode: () => confirmed({ user: inactive }) }));
    const snapshot = await flow.send(confirm(CODE));
    expect(snapshot.value).toBe("inactive");
    expect(snapshot.status).toBe("done");
    expect(tagsOf(snapshot)).toEqual(["inactive"]);
    expect(flow.signals).toEqual([{ type: "email_confirmed", emailAddress: verifiedAddress }]);
    expect(flow.calls("startSession")).toEqual([]);
    expect(snapshot.context.sessionUser).toBeNull();
  });

  s.it("when the session cannot start, ends failed after email_confirmed without user_logged_in", async () => {
    const flow = await requested({}, fakes({ startSession: fail("unexpected") }));
    const snapshot = await flow.send(confirm(CODE));
    expect(snapshot.value).toBe("failed");
    expect(tagsOf(snapshot)).toEqual(["failed"]);
    expect(snapshot.context.error).toEqual({ code: "unexpected" });
    expect(flow.signalTypes()).toEqual(["email_confirmed"]);
    expect(snapshot.context.sessionUser).toBeNull();
  });

  s.it("with a wrong code, goes back to awaitingCode with one more attempt, an incorrect_code error and no signal", async () => {
    const flow = await requested({}, fakes({ confirmLoginCode: fail("incorrect_code", "code") }));
    const snapshot = await flow.send(confirm(WRONG));
    expect(snapshot.value).toBe("awaitingCode");
    expect(snapshot.status).toBe("active");
    expect(tagsOf(snapshot)).toEqual(["pending:login_by_code"]);
    expect(snapshot.context.attempts).toBe(1);
    expect(snapshot.context.error).toEqual({ code: "incorrect_code", param: "code" });
    expect(snapshot.context.secret).toBeNull();
    expect(flow.calls("confirmLoginCode").map((call) => [call.verificationId, call.code.reveal()])).toEqual([["lc-1", WRONG]]);
    expect(flow.calls("startSession")).toEqual([]);
    expect(flow.signalTypes()).toEqual([]);
    expectNoSecretsPersisted(flow, WRONG);
  });

  s.it("after a wrong code, the right code clears the error and logs in", async () => {
    const flow = await requested({}, fakes({ confirmLoginCode: onlyTheRightCode }));
    expect((await flow.send(confirm(WRONG))).context.error).toEqual({ code: "incorrect_code", param: "code" });
    const snapshot = await flow.send(confirm(CODE));
    expect(snapshot.value).toBe("loggedIn");
    expect(snapshot.context.error).toBeNull();
    expect(snapshot.context.attempts).toBe(1);
    expect(flow.signalTypes()).toEqual(["email_confirmed", "user_logged_in"]);
    expect(flow.calls("confirmLoginCode").map((call) => call.code.reveal())).toEqual([WRONG, CODE]);
    expectNoSecretsPersisted(flow, WRONG, CODE);
  });

  s.it("aborts on the maxAttempts-th wrong code (3) without any signal, and refuses even the right code afterwards", async () => {
    const flow = await requested({ maxAttempts: 3 }, fakes({ confirmLoginCode: onlyTheRightCode }));
    expect((await flow.send(confirm(WRONG))).context.attempts).toBe(1);
    expect((await flow.send(confirm(WRONG))).context.attempts).toBe(2);
    let snapshot = await flow.send(confirm(WRONG));
    expect(snapshot.value).toBe("aborted");
    expect(snapshot.status).toBe("done");
    expect(tagsOf(snapshot)).toEqual(["rejected"]);
    expect(snapshot.context.error).toEqual({ code: "incorrect_code", param: "code" });
    expect(snapshot.context.secret).toBeNull();
    expect(flow.calls("confirmLoginCode")).toHaveLength(3);
    snapshot = await flow.send(confirm(CODE));
    expect(snapshot.value).toBe("aborted");
    expect(flow.calls("confirmLoginCode")).toHaveLength(3);
    expect(flow.calls("startSession")).toEqual([]);
    expect(flow.signalTypes()).toEqual([]);
    expectNoSecretsPersisted(flow, WRONG, CODE);
  });

  s.it("with a single allowed attempt, aborts on the first wrong code", async () => {
    const flow = await requested({ maxAttempts: 1 }, fakes({ confirmLoginCode: fail("incorrect_code", "code") }));
    const snapshot = await flow.send(confirm(WRONG));
    expect(snapshot.value).toBe("aborted");
    expect(snapshot.context.attempts).toBe(0);
    expect(flow.calls("confirmLoginCode")).toHaveLength(1);
    expect(flow.signalTypes()).toEqual([]);
  });

  s.it("with an expired code (an error other than incorrect_code), aborts at once without counting an attempt", async () => {
    const flow = await requested({}, fakes({ confirmLoginCode: fail("invalid_password_reset", "code") }));
    const snapshot = await flow.send(confirm(CODE));
    expect(snapshot.value).toBe("aborted");
    expect(tagsOf(snapshot)).toEqual(["rejected"]);
    expect(snapshot.context.error).toEqual({ code: "invalid_password_reset", param: "code" });
    expect(snapshot.context.attempts).toBe(0);
    expect(snapshot.context.secret).toBeNull();
    expect(flow.signalTypes()).toEqual([]);
    expectNoSecretsPersisted(flow, CODE);
  });

  s.it("keeps counting wrong codes across a persist-and-restore, as between HTTP requests", async () => {
    const first = await requested({}, fakes({ confirmLoginCode: fail("incorrect_code", "code") }));
    await first.send(confirm(WRONG));
    await first.send(confirm(WRONG));
    const stored = first.persisted();
    expect(stored).not.toContain(WRONG);
    const resumed = await startFlow(loginByCodeMachine, {
      input: input(),
      fakes: fakes({ confirmLoginCode: fail("incorrect_code", "code") }),
      snapshot: JSON.parse(stored),
    });
    expect(resumed.snapshot().value).toBe("awaitingCode");
    expect(resumed.snapshot().context.attempts).toBe(2);
    expect(resumed.snapshot().context.verificationId).toBe("lc-1");
    const snapshot = await resumed.send(confirm(WRONG));
    expect(snapshot.value).toBe("aborted");
    expect(resumed.signalTypes()).toEqual([]);
  });
});

describe("the login-code stage of a parked login", () => {
  s.it("starts in awaitingCode with the stage's verification, without a request", async () => {
    const flow = await stage({}, fakes());
    const snapshot = flow.snapshot();
    expect(snapshot.status).toBe("active");
    expect(tagsOf(snapshot)).toEqual(["pending:login_by_code"]);
    expect(snapshot.context.verificationId).toBe("lc-9");
    expect(snapshot.context.stageLogin).toEqual(parkedLogin);
    expect(flow.timeline).toEqual([]);
    expect(flow.signalTypes()).toEqual([]);
  });

  s.it("with the right code, completes that very password login (no second code) and emits email_confirmed then user_logged_in", async () => {
    const flow = await stage(
      { settings: settings({ emailVerification: "mandatory", loginByCodeRequired: true }) },
      fakes(),
    );
    const snapshot = await flow.send(confirm(CODE));
    expect(snapshot.value).toBe("loggedIn");
    expect(tagsOf(snapshot)).toEqual(["authenticated"]);
    expect(flow.signals).toEqual([
      { type: "email_confirmed", emailAddress: verifiedAddress },
      { type: "user_logged_in", user: sessionAlice },
    ]);
    expect(flow.timeline).toEqual([
      "actor:confirmLoginCode",
      "signal:email_confirmed",
      "actor:startSession",
      "signal:user_logged_in",
    ]);
    expect(flow.calls("confirmLoginCode").map((call) => [call.verificationId, call.code.reveal()])).toEqual([["lc-9", CODE]]);
    // The parked login, not a new code login.
    expect(flow.calls("startSession")).toEqual([{ userId: "u1", login: parkedLogin }]);
    expect(snapshot.context.login?.method).toBe("password");
    expect(snapshot.context.codeVerified).toBe(true);
    // loginByCodeRequired is true, yet the stage is done: no second code.
    expect(flow.calls("sendLoginCode")).toEqual([]);
    // The code verified the login's address, so mandatory verification lets it through.
    expect(flow.calls("sendVerificationEmail")).toEqual([]);
    expect(flow.calls("requestLoginCode")).toEqual([]);
    expectNoSecretsPersisted(flow, CODE);
  });

  s.it("completes a parked signup with user_logged_in only when the address was already verified", async () => {
    const signupLogin = pendingLogin({ userId: "u1", signup: true, emailAddressId: "e1", method: "password" });
    const flow = await stage(
      { settings: settings({ emailVerification: "optional", loginByCodeRequired: ["password"] }) },
      fakes({ confirmLoginCode: () => confirmed({ verifiedNow: false }) }),
      signupLogin,
    );
    const snapshot = await flow.send(confirm(CODE));
    expect(snapshot.value).toBe("loggedIn");
    expect(flow.signals).toEqual([{ type: "user_logged_in", user: sessionAlice }]);
    expect(flow.calls("startSession")).toEqual([{ userId: "u1", login: signupLogin }]);
    expect(flow.calls("sendLoginCode")).toEqual([]);
    expect(flow.calls("sendVerificationEmail")).toEqual([]);
  });

  const unverified = address({ id: "e1", userId: "u1", email: "alice@example.com", verified: false });
  const notVerified = () => confirmed({ emailAddress: unverified, verifiedNow: false });

  s.it("with mandatory verification and an address the code could not verify, mails a verification and parks the login", async () => {
    const flow = await stage({ settings: settings({ emailVerification: "mandatory" }) }, fakes({ confirmLoginCode: notVerified }));
    const snapshot = await flow.send(confirm(CODE));
    expect(snapshot.value).toBe("verificationPending");
    expect(flow.signals).toEqual([{ type: "email_confirmation_sent", confirmation: confirmation(address({ id: "e1" })), signup: false }]);
    expect(flow.calls("sendVerificationEmail")).toEqual([{ userId: "u1", emailAddressId: "e1", signup: false }]);
    expect(flow.calls("startSession")).toEqual([]);
  });

  s.it("with mandatory verification and the verification mail held back, parks the login silently", async () => {
    const flow = await stage(
      { settings: settings({ emailVerification: "mandatory" }) },
      fakes({ confirmLoginCode: notVerified, sendVerificationEmail: () => suppressed }),
    );
    const snapshot = await flow.send(confirm(CODE));
    expect(snapshot.value).toBe("verificationPending");
    expect(flow.signals).toEqual([]);
  });

  s.it("with optional verification offers the mail to a parked signup and logs in", async () => {
    const signupLogin = pendingLogin({ userId: "u1", signup: true, emailAddressId: "e1", method: "password" });
    const flow = await stage({ settings: settings({ emailVerification: "optional" }) }, fakes({ confirmLoginCode: notVerified }), signupLogin);
    const snapshot = await flow.send(confirm(CODE));
    expect(snapshot.value).toBe("loggedIn");
    expect(flow.signalTypes()).toEqual(["email_confirmation_sent", "user_logged_in"]);
  });

  s.it("fails when the verification mail cannot be queued", async () => {
    const flow = await stage(
      { settings: settings({ emailVerification: "mandatory" }) },
      fakes({ confirmLoginCode: notVerified, sendVerificationEmail: fail("unexpected") }),
    );
    const snapshot = await flow.send(confirm(CODE));
    expect(snapshot.value).toBe("failed");
    expect(flow.signals).toEqual([]);
  });

  s.it("re-sends the stage's code through resendLoginCode", async () => {
    const flow = await stage({ maxResends: 1 }, fakes({ resendLoginCode: () => ({ verificationId: "lc-10" }) }));
    const snapshot = await flow.send(resend);
    expect(snapshot.value).toBe("awaitingCode");
    expect(snapshot.context.verificationId).toBe("lc-10");
    expect(snapshot.context.resends).toBe(1);
    expect(flow.calls("resendLoginCode")).toEqual([{ verificationId: "lc-9" }]);
    expect(flow.calls("sendLoginCode")).toEqual([]);
    expect(flow.signalTypes()).toEqual([]);
  });
});

describe("re-sending a login code", () => {
  s.it("in an unknown address's flow (verificationId null), answers without calling any actor", async () => {
    const flow = await requested({ maxResends: 1 }, fakes({ requestLoginCode: () => ({ verificationId: null }) }));
    const snapshot = await flow.send(resend);
    expect(snapshot.value).toBe("awaitingCode");
    expect(snapshot.status).toBe("active");
    expect(tagsOf(snapshot)).toEqual(["pending:login_by_code"]);
    expect(snapshot.context.error).toBeNull();
    expect(snapshot.context.verificationId).toBeNull();
    expect(flow.timeline).toEqual(["actor:requestLoginCode"]);
    expect(flow.calls("resendLoginCode")).toEqual([]);
    expect(flow.signalTypes()).toEqual([]);
    // The quota holds for it as for a real flow, so resends cannot tell the two apart.
    expect(snapshot.context.resends).toBe(1);
    const over = await flow.send(resend);
    expect(over.context.error).toEqual({ code: "too_many_attempts" });
  });

  s.it("within the quota, replaces the code (new verificationId, resends+1); over it, refuses with too_many_attempts", async () => {
    const flow = await requested({ maxResends: 1 }, fakes());
    let snapshot = await flow.send(resend);
    expect(snapshot.value).toBe("awaitingCode");
    expect(snapshot.context.verificationId).toBe("lc-2");
    expect(snapshot.context.resends).toBe(1);
    expect(snapshot.context.error).toBeNull();
    expect(flow.calls("resendLoginCode")).toEqual([{ verificationId: "lc-1" }]);
    snapshot = await flow.send(resend);
    expect(snapshot.value).toBe("awaitingCode");
    expect(tagsOf(snapshot)).toEqual(["pending:login_by_code"]);
    expect(snapshot.context.error).toEqual({ code: "too_many_attempts" });
    expect(snapshot.context.resends).toBe(1);
    expect(snapshot.context.verificationId).toBe("lc-2");
    expect(flow.calls("resendLoginCode")).toHaveLength(1);
    // Login-code mails are no email verification: nothing is emitted for them.
    expect(flow.signalTypes()).toEqual([]);
    // The new code is the one checked, and a CONFIRM clears the refusal.
    snapshot = await flow.send(confirm(CODE));
    expect(flow.calls("confirmLoginCode").map((call) => call.verificationId)).toEqual(["lc-2"]);
    expect(snapshot.value).toBe("loggedIn");
    expect(snapshot.context.error).toBeNull();
    expect(flow.signalTypes()).toEqual(["email_confirmed", "user_logged_in"]);
  });

  s.it("with no resend quota, refuses the first RESEND without calling resendLoginCode", async () => {
    const flow = await requested({ maxResends: 0 }, fakes());
    const snapshot = await flow.send(resend);
    expect(snapshot.value).toBe("awaitingCode");
    expect(snapshot.context.error).toEqual({ code: "too_many_attempts" });
    expect(flow.calls("resendLoginCode")).toEqual([]);
    expect(flow.signalTypes()).toEqual([]);
  });

  s.it("when re-sending fails, stays in awaitingCode with the error, the old code and the quota untouched", async () => {
    const flow = await requested({ maxResends: 2 }, fakes({ resendLoginCode: fail("rate_limited") }));
    const snapshot = await flow.send(resend);
    expect(snapshot.value).toBe("awaitingCode");
    expect(snapshot.status).toBe("active");
    expect(snapshot.context.error).toEqual({ code: "rate_limited" });
    expect(snapshot.context.resends).toBe(0);
    expect(snapshot.context.verificationId).toBe("lc-1");
    expect(flow.calls("resendLoginCode")).toEqual([{ verificationId: "lc-1" }]);
    expect(flow.signalTypes()).toEqual([]);
  });
});

describe("login-code secrets", () => {
  s.it("never serialises the code, while confirmLoginCode is in flight or after", async () => {
    const pending = deferred<ConfirmLoginCodeOutput>();
    const flow = await requested({}, fakes({ confirmLoginCode: () => pending.promise }));
    flow.actor.send(confirm(CODE));
    expect(flow.snapshot().value).toBe("checkingCode");
    expect(flow.snapshot().context.secret).toBeInstanceOf(Secret);
    expect(flow.persisted()).not.toContain(CODE);
    expect(flow.persisted()).toContain("<redacted>");
    pending.resolve(confirmed());
    const snapshot = await flow.settled();
    expect(snapshot.value).toBe("loggedIn");
    expect(snapshot.context.secret).toBeNull();
    expectNoSecretsPersisted(flow, CODE);
    expect(JSON.stringify(flow.signals)).not.toContain(CODE);
  });
});

/** A confirmed code marks the login code-verified before the pipeline runs. */
const codeAlreadyVerified =
  "storeConfirmed sets codeVerified before the pipeline: a login by code, or a completed code stage, never needs another code";

s.itCoversEveryStateAndTransition(loginByCodeMachine, {
  states: {
    sendingLoginCode: codeAlreadyVerified,
    codePending: codeAlreadyVerified,
  },
  transitions: {
    "codeStage --always#0--> sendingLoginCode": codeAlreadyVerified,
    "sendingLoginCode --onDone#0--> codePending": codeAlreadyVerified,
    "sendingLoginCode --onError#0--> failed": codeAlreadyVerified,
  },
});
