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
import { checker, codeVerificationScenarios } from "./code-verification.ts";

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
    checkCode: checker(CODE),
    confirmLoginCode: () => confirmed(),
    resendCode: () => ({ result: "sent", confirmation: null, signup: false }),
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
    stage?: LoginByCodeInput["stage"];
  } = {},
): LoginByCodeInput {
  return {
    settings: options.settings ?? settings(),
    sessionUser: options.sessionUser ?? null,
    stage: options.stage ?? null,
  };
}

const request = (email = "alice@example.com"): LoginByCodeEvent => ({ type: "REQUEST", email });
const confirm = (code: string): LoginByCodeEvent => ({ type: "CODE", code: new Secret(code) });

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

describe("requesting a login code", () => {
  s.it("hands the email to requestLoginCode and rests in awaitingCode with the code:pending tag and no signal", async () => {
    const flow = await startFlow(loginByCodeMachine, { input: input(), fakes: fakes() });
    expect(flow.snapshot().value).toBe("idle");
    expect(tagsOf(flow.snapshot())).toEqual([]);
    const snapshot = await flow.send(request("Alice@Example.com"));
    expect(snapshot.value).toBe("awaitingCode");
    expect(snapshot.status).toBe("active");
    expect(tagsOf(snapshot)).toEqual(["code:pending"]);
    expect(snapshot.context.verificationId).toBe("lc-1");
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

  s.it("for an unknown address (verificationId null), looks the same: awaitingCode, and every code is checked (and wrong)", async () => {
    const flow = await requested(
      {},
      fakes({ requestLoginCode: () => ({ verificationId: null }), checkCode: () => ({ result: "wrong", error: "incorrect_code", last: false }) }),
      "nobody@example.com",
    );
    expect(tagsOf(flow.snapshot())).toEqual(["code:pending"]);
    expect(flow.snapshot().context.verificationId).toBeNull();
    expect(flow.calls("requestLoginCode")).toEqual([{ email: "nobody@example.com" }]);
    const snapshot = await flow.send(confirm(CODE));
    expect(snapshot.value).toBe("awaitingCode");
    expect(snapshot.context.error).toEqual({ code: "incorrect_code", param: "code" });
    expect(flow.calls("confirmLoginCode")).toEqual([]);
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
      "actor:checkCode",
      "actor:confirmLoginCode",
      "signal:email_confirmed",
      "actor:startSession",
      "signal:user_logged_in",
    ]);
    expect(flow.calls("checkCode").map((call) => call.code?.reveal())).toEqual([CODE]);
    // The verification the right code matched is the one confirmed.
    expect(flow.calls("confirmLoginCode")).toEqual([{ verificationId: "v-right" }]);
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
      "actor:checkCode",
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

  s.it("when the right code's verification was used up meanwhile, ends at codeGone without a signal", async () => {
    const flow = await requested({}, fakes({ confirmLoginCode: fail("flow_not_pending") }));
    const snapshot = await flow.send(confirm(CODE));
    expect(snapshot.value).toBe("codeGone");
    expect(tagsOf(snapshot)).toEqual(["code:ended", "code:gone"]);
    expect(flow.calls("startSession")).toEqual([]);
    expect(flow.signalTypes()).toEqual([]);
  });
});

describe("the login-code stage of a parked login", () => {
  s.it("starts in awaitingCode with the stage's verification, without a request", async () => {
    const flow = await stage({}, fakes());
    const snapshot = flow.snapshot();
    expect(snapshot.status).toBe("active");
    expect(tagsOf(snapshot)).toEqual(["code:pending"]);
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
      "actor:checkCode",
      "actor:confirmLoginCode",
      "signal:email_confirmed",
      "actor:startSession",
      "signal:user_logged_in",
    ]);
    expect(flow.calls("confirmLoginCode")).toEqual([{ verificationId: "v-right" }]);
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

  s.it("re-sends the stage's code through resendCode, emitting nothing", async () => {
    const flow = await stage({}, fakes());
    const snapshot = await flow.send({ type: "RESEND" });
    expect(snapshot.value).toBe("awaitingCode");
    expect(snapshot.context.error).toBeNull();
    expect(flow.calls("resendCode")).toHaveLength(1);
    expect(flow.calls("sendLoginCode")).toEqual([]);
    expect(flow.signalTypes()).toEqual([]);
  });
});

describe("login-code secrets", () => {
  s.it("never serialises the code, while confirmLoginCode is in flight or after", async () => {
    const pending = deferred<ConfirmLoginCodeOutput>();
    const flow = await requested({}, fakes({ confirmLoginCode: () => pending.promise }));
    flow.actor.send(confirm(CODE));
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(flow.snapshot().value).toBe("codeRight");
    // The code was forgotten as soon as it was checked.
    expect(flow.snapshot().context.secret).toBeNull();
    expect(flow.persisted()).not.toContain(CODE);
    pending.resolve(confirmed());
    const snapshot = await flow.settled();
    expect(snapshot.value).toBe("loggedIn");
    expect(snapshot.context.secret).toBeNull();
    expectNoSecretsPersisted(flow, CODE);
    expect(JSON.stringify(flow.signals)).not.toContain(CODE);
  });
});

codeVerificationScenarios(s, {
  param: "code",
  awaiting: (fakeActors) => requested({}, fakes(fakeActors)),
  resume: (snapshot, fakeActors) => startFlow(loginByCodeMachine, { input: input(), fakes: fakes(fakeActors), snapshot }),
  resent: { result: "sent", confirmation: null, signup: false },
  resentSignals: [],
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
