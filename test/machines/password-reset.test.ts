import { describe, expect } from "vitest";
import { waitFor } from "xstate";
import type {
  CheckResetKeyOutput,
  ConfirmResetCodeOutput,
  FlowSettings,
  HashNewPasswordInput,
  HashNewPasswordOutput,
  ResetPasswordOutput,
} from "../../machines/contracts.ts";
import { passwordResetMachine } from "../../machines/password-reset.ts";
import type { PasswordResetEvent, PasswordResetInput } from "../../machines/password-reset.ts";
import { Secret } from "../../machines/secret.ts";
import type { UserRef } from "../../machines/signals.ts";
import {
  address,
  confirmation,
  deferred,
  expectNoSecretsPersisted,
  fail,
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

const KEY = "4-c3f9a1-ResetLinkKeyThatMustNeverBePersisted";
const CODE = "RSTQ-KZPW";
const WRONG = "WRNG-RSTC";
const PASSWORD = "new-correct-horse-battery-77";
const WEAK = "qwerty12";
const s = scenarios();

/** The user as the key or code names them (before the reset). */
const aliceBefore = user({ id: "u1", username: "alice", email: "alice@example.com", hasUsablePassword: false });
/** The user as saved by the reset. */
const alice = user({ id: "u1", username: "alice", email: "alice@example.com", hasUsablePassword: true });
const sessionAlice = user({ id: "u1", username: "alice", email: "alice@example.com" });
const bob = user({ id: "u9", username: "bob", email: "bob@example.com" });
const unverified = address({ id: "e1", userId: "u1", email: "alice@example.com", verified: false });
const verified = address({ id: "e1", userId: "u1", email: "alice@example.com", verified: true });

/** What the fake `hashNewPassword` makes of a password: recognisable, and never to be persisted. */
const hashOf = (password: string): string => `$argon2id$v=19$m=19456,t=2,p=1$${password}`;

/** A policy-checking hasher: `WEAK` is refused with `code` on the `password` param. */
function hasher(code: "password_too_common" | "password_too_short" = "password_too_common") {
  return ({ password }: HashNewPasswordInput): HashNewPasswordOutput => {
    if (password.reveal() === WEAK) {
      throw { code, param: "password" };
    }
    return { passwordHash: new Secret(hashOf(password.reveal())) };
  };
}

function keyFound(overrides: Partial<CheckResetKeyOutput> = {}): CheckResetKeyOutput {
  return { user: aliceBefore, verificationId: "v1", emailAddress: unverified, ...overrides };
}

function codeConfirmed(overrides: Partial<ConfirmResetCodeOutput> = {}): ConfirmResetCodeOutput {
  return { user: aliceBefore, emailAddress: verified, verifiedNow: true, ...overrides };
}

function fakes(overrides: Fakes = {}): Fakes {
  return {
    requestPasswordReset: () => ({ verificationId: "v1" }),
    checkResetKey: () => keyFound(),
    checkCode: checker(CODE),
    confirmResetCode: () => codeConfirmed(),
    hashNewPassword: hasher(),
    resetPassword: () => ({ user: alice }),
    sendVerificationEmail: () => sent(confirmation(unverified), "ver-7"),
    startSession: () => ({ user: sessionAlice }),
    sendLoginCode: () => ({ verificationId: "lc-1" }),
    ...overrides,
  };
}

function input(
  mode: "link" | "code",
  options: {
    settings?: FlowSettings;
    sessionUser?: UserRef | null;
    loginOnPasswordReset?: boolean;
  } = {},
): PasswordResetInput {
  return {
    settings: options.settings ?? settings(),
    sessionUser: options.sessionUser ?? null,
    mode,
    loginOnPasswordReset: options.loginOnPasswordReset ?? false,
  };
}

const request = (email = "alice@example.com"): PasswordResetEvent => ({ type: "REQUEST", email });
const confirm = (code: string): PasswordResetEvent => ({ type: "CODE", code: new Secret(code) });
const reset = (key: string, password = PASSWORD): PasswordResetEvent => ({
  type: "RESET",
  key: new Secret(key),
  password: new Secret(password),
});

async function linkReset(options: Parameters<typeof input>[1], fakeActors: Fakes, password = PASSWORD) {
  const flow = await startFlow(passwordResetMachine, { input: input("link", options), fakes: fakeActors });
  expect(flow.snapshot().value).toBe("idle");
  const snapshot = await flow.send(reset(KEY, password));
  return { flow, snapshot };
}

async function codeFlow(options: Parameters<typeof input>[1], fakeActors: Fakes) {
  const flow = await startFlow(passwordResetMachine, { input: input("code", options), fakes: fakeActors });
  const snapshot = await flow.send(request());
  expect(snapshot.value).toBe("awaitingCode");
  return flow;
}

describe("requesting a password reset", () => {
  s.it("in link mode, hands the email to requestPasswordReset and ends requested without any signal", async () => {
    const flow = await startFlow(passwordResetMachine, {
      input: input("link"),
      fakes: fakes({ requestPasswordReset: () => ({ verificationId: null }) }),
    });
    expect(flow.snapshot().value).toBe("idle");
    const snapshot = await flow.send(request("Alice@Example.com"));
    expect(snapshot.value).toBe("requested");
    expect(snapshot.status).toBe("done");
    expect(tagsOf(snapshot)).toEqual(["done"]);
    expect(flow.calls("requestPasswordReset")).toEqual([{ email: "Alice@Example.com" }]);
    expect(flow.timeline).toEqual(["actor:requestPasswordReset"]);
    expect(flow.signalTypes()).toEqual([]);
    expect(snapshot.context.verificationId).toBeNull();
    expect(snapshot.context.error).toBeNull();
  });

  s.it("in code mode, rests in awaitingCode with the verification id and the code:pending tag, without any signal", async () => {
    const flow = await codeFlow({}, fakes({ requestPasswordReset: () => ({ verificationId: "v42" }) }));
    const snapshot = flow.snapshot();
    expect(snapshot.status).toBe("active");
    expect(tagsOf(snapshot)).toEqual(["code:pending"]);
    expect(snapshot.context.verificationId).toBe("v42");
    expect(flow.calls("requestPasswordReset")).toEqual([{ email: "alice@example.com" }]);
    expect(flow.calls("confirmResetCode")).toEqual([]);
    expect(flow.signalTypes()).toEqual([]);
  });

  s.it("in code mode for an unknown address, still rests in awaitingCode, and every code is checked (and wrong)", async () => {
    const flow = await codeFlow(
      {},
      fakes({ requestPasswordReset: () => ({ verificationId: null }), checkCode: () => ({ result: "wrong", error: "incorrect_code", last: false }) }),
    );
    expect(flow.snapshot().context.verificationId).toBeNull();
    expect(tagsOf(flow.snapshot())).toEqual(["code:pending"]);
    const snapshot = await flow.send(confirm(CODE));
    expect(snapshot.value).toBe("awaitingCode");
    expect(snapshot.context.error).toEqual({ code: "incorrect_code", param: "key" });
    expect(flow.calls("confirmResetCode")).toEqual([]);
    expect(flow.signalTypes()).toEqual([]);
  });

  s.it("when the request fails, ends rejected with the actor's error and no signal", async () => {
    const flow = await startFlow(passwordResetMachine, {
      input: input("code"),
      fakes: fakes({ requestPasswordReset: fail("invalid", "email") }),
    });
    const snapshot = await flow.send(request("not-an-email"));
    expect(snapshot.value).toBe("rejected");
    expect(snapshot.status).toBe("done");
    expect(tagsOf(snapshot)).toEqual(["rejected"]);
    expect(snapshot.context.error).toEqual({ code: "invalid", param: "email" });
    expect(snapshot.context.verificationId).toBeNull();
    expect(flow.signalTypes()).toEqual([]);
  });

  s.it("fails loudly with 'not provided: requestPasswordReset' and ends rejected", async () => {
    const flow = await startFlow(passwordResetMachine, { input: input("link") });
    const snapshot = await flow.send(request());
    expect(snapshot.value).toBe("rejected");
    expect(snapshot.context.error).toEqual({ code: "unexpected" });
    expect((flow.actorErrors[0] as Error).message).toBe("not provided: requestPasswordReset");
    expect(flow.signalTypes()).toEqual([]);
  });
});

describe("password reset by link", () => {
  s.it("with a valid key and nobody logged in, emits exactly password_reset and ends reset", async () => {
    const { flow, snapshot } = await linkReset({}, fakes());
    expect(snapshot.value).toBe("reset");
    expect(snapshot.status).toBe("done");
    expect(tagsOf(snapshot)).toEqual(["done"]);
    expect(flow.signalTypes()).toEqual(["password_reset"]);
    // The user as the reset saved them, not as the key named them.
    expect(flow.signals).toEqual([{ type: "password_reset", user: alice }]);
    expect(flow.timeline).toEqual([
      "actor:checkResetKey",
      "actor:hashNewPassword",
      "actor:resetPassword",
      "signal:password_reset",
    ]);
    const [checked] = flow.calls("checkResetKey");
    expect(checked?.key).toBeInstanceOf(Secret);
    expect(checked?.key.reveal()).toBe(KEY);
    // The new password goes to the hasher only, with the key's verification.
    const hashed = flow.calls("hashNewPassword");
    expect(hashed).toHaveLength(1);
    expect(hashed[0]?.verificationId).toBe("v1");
    expect(hashed[0]?.password).toBeInstanceOf(Secret);
    expect(hashed[0]?.password.reveal()).toBe(PASSWORD);
    // The reset writes the hash, not the password.
    const resets = flow.calls("resetPassword");
    expect(resets).toHaveLength(1);
    expect(resets[0]?.verificationId).toBe("v1");
    expect(resets[0]?.passwordHash).toBeInstanceOf(Secret);
    expect(resets[0]?.passwordHash.reveal()).toBe(hashOf(PASSWORD));
    expect(resets[0]?.endSession).toBe(false);
    expect(Object.keys(resets[0] ?? {}).sort()).toEqual(["endSession", "passwordHash", "verificationId"]);
    expect(flow.calls("startSession")).toEqual([]);
    expect(flow.calls("sendVerificationEmail")).toEqual([]);
    expect(snapshot.context.user).toEqual(alice);
    expect(snapshot.context.endsSession).toBe(false);
    expect(snapshot.context.secret).toBeNull();
    expect(snapshot.context.password).toBeNull();
    expect(snapshot.context.passwordHash).toBeNull();
    // By link, the address is not verified, so nothing says it was.
    expect(flow.signals.some((signal) => signal.type === "email_confirmed")).toBe(false);
    expectNoSecretsPersisted(flow, KEY, PASSWORD, hashOf(PASSWORD));
  });

  s.it("with the key's own user logged in, logs nobody out and passes endSession false", async () => {
    const { flow, snapshot } = await linkReset({ sessionUser: sessionAlice }, fakes());
    expect(snapshot.value).toBe("reset");
    expect(flow.signalTypes()).toEqual(["password_reset"]);
    expect(flow.calls("resetPassword")[0]?.endSession).toBe(false);
    expect(snapshot.context.endsSession).toBe(false);
    expect(snapshot.context.sessionUser).toEqual(sessionAlice);
  });

  s.it("with a different user logged in, emits user_logged_out for that user, then password_reset, and asks resetPassword to end the session", async () => {
    const { flow, snapshot } = await linkReset({ sessionUser: bob }, fakes());
    expect(snapshot.value).toBe("reset");
    expect(tagsOf(snapshot)).toEqual(["done"]);
    expect(flow.signalTypes()).toEqual(["user_logged_out", "password_reset"]);
    expect(flow.signals).toEqual([
      { type: "user_logged_out", user: bob },
      { type: "password_reset", user: alice },
    ]);
    // The other user is logged out only once the new password is known to be acceptable.
    expect(flow.timeline).toEqual([
      "actor:checkResetKey",
      "actor:hashNewPassword",
      "signal:user_logged_out",
      "actor:resetPassword",
      "signal:password_reset",
    ]);
    expect(flow.calls("resetPassword")[0]?.endSession).toBe(true);
    expect(snapshot.context.endsSession).toBe(true);
    // The session no longer holds bob.
    expect(snapshot.context.sessionUser).toBeNull();
    expect(flow.calls("startSession")).toEqual([]);
    expectNoSecretsPersisted(flow, KEY, PASSWORD, hashOf(PASSWORD));
  });

  s.it("with loginOnPasswordReset and a verified address, emits password_reset then user_logged_in through the login pipeline", async () => {
    const { flow, snapshot } = await linkReset(
      { settings: settings({ emailVerification: "mandatory" }), loginOnPasswordReset: true },
      fakes({ checkResetKey: () => keyFound({ emailAddress: verified }) }),
    );
    expect(snapshot.value).toBe("loggedIn");
    expect(snapshot.status).toBe("done");
    expect(tagsOf(snapshot)).toEqual(["authenticated"]);
    expect(flow.signals).toEqual([
      { type: "password_reset", user: alice },
      { type: "user_logged_in", user: sessionAlice },
    ]);
    expect(flow.timeline).toEqual([
      "actor:checkResetKey",
      "actor:hashNewPassword",
      "actor:resetPassword",
      "signal:password_reset",
      "actor:startSession",
      "signal:user_logged_in",
    ]);
    const login = { userId: "u1", signup: false, emailAddressId: "e1", method: "password_reset", email: "alice@example.com" };
    expect(flow.calls("startSession")).toEqual([{ userId: "u1", login }]);
    expect(snapshot.context.login).toEqual(login);
    expect(snapshot.context.login?.method).toBe("password_reset");
    expect(snapshot.context.sessionUser).toEqual(sessionAlice);
    expect(flow.calls("sendVerificationEmail")).toEqual([]);
    expect(snapshot.context.password).toBeNull();
    expect(snapshot.context.passwordHash).toBeNull();
    expectNoSecretsPersisted(flow, KEY, PASSWORD, hashOf(PASSWORD));
  });

  s.it("with loginOnPasswordReset and a different user logged in, emits user_logged_out, password_reset, then user_logged_in for the reset user", async () => {
    const { flow, snapshot } = await linkReset(
      { sessionUser: bob, loginOnPasswordReset: true },
      fakes({ checkResetKey: () => keyFound({ emailAddress: verified }) }),
    );
    expect(snapshot.value).toBe("loggedIn");
    expect(flow.signals).toEqual([
      { type: "user_logged_out", user: bob },
      { type: "password_reset", user: alice },
      { type: "user_logged_in", user: sessionAlice },
    ]);
    expect(flow.timeline).toEqual([
      "actor:checkResetKey",
      "actor:hashNewPassword",
      "signal:user_logged_out",
      "actor:resetPassword",
      "signal:password_reset",
      "actor:startSession",
      "signal:user_logged_in",
    ]);
    expect(flow.calls("resetPassword")[0]?.endSession).toBe(true);
    expect(flow.calls("startSession")[0]?.userId).toBe("u1");
    expect(snapshot.context.sessionUser).toEqual(sessionAlice);
  });

  s.it("with loginOnPasswordReset, mandatory verification and an unverified address, emits password_reset then email_confirmation_sent(signup=false) and parks the login", async () => {
    const { flow, snapshot } = await linkReset(
      { settings: settings({ emailVerification: "mandatory" }), loginOnPasswordReset: true },
      fakes(),
    );
    expect(snapshot.value).toBe("verificationPending");
    expect(snapshot.status).toBe("done");
    expect(tagsOf(snapshot)).toEqual(["pending:verify_email"]);
    expect(flow.signals).toEqual([
      { type: "password_reset", user: alice },
      { type: "email_confirmation_sent", confirmation: confirmation(unverified), signup: false },
    ]);
    expect(flow.timeline).toEqual([
      "actor:checkResetKey",
      "actor:hashNewPassword",
      "actor:resetPassword",
      "signal:password_reset",
      "actor:sendVerificationEmail",
      "signal:email_confirmation_sent",
    ]);
    expect(flow.calls("sendVerificationEmail")).toEqual([{ userId: "u1", emailAddressId: "e1", signup: false }]);
    expect(flow.calls("startSession")).toEqual([]);
    expect(snapshot.context.verificationId).toBe("ver-7");
    expect(snapshot.context.login).toEqual({
      userId: "u1",
      signup: false,
      emailAddressId: "e1",
      method: "password_reset",
      email: "alice@example.com",
    });
    expectNoSecretsPersisted(flow, KEY, PASSWORD);
  });

  s.it("with loginOnPasswordReset, mandatory verification and the mail held back by the cooldown, parks the login after password_reset alone", async () => {
    const { flow, snapshot } = await linkReset(
      { settings: settings({ emailVerification: "mandatory" }), loginOnPasswordReset: true },
      fakes({ sendVerificationEmail: () => suppressed }),
    );
    expect(snapshot.value).toBe("verificationPending");
    expect(tagsOf(snapshot)).toEqual(["pending:verify_email"]);
    expect(flow.signalTypes()).toEqual(["password_reset"]);
    expect(flow.calls("sendVerificationEmail")).toHaveLength(1);
    expect(flow.calls("startSession")).toEqual([]);
  });

  s.it("with loginOnPasswordReset and optional verification, logs in an unverified user without mailing (a reset is no signup)", async () => {
    const { flow, snapshot } = await linkReset(
      { settings: settings({ emailVerification: "optional" }), loginOnPasswordReset: true },
      fakes(),
    );
    expect(snapshot.value).toBe("loggedIn");
    expect(flow.signalTypes()).toEqual(["password_reset", "user_logged_in"]);
    expect(flow.calls("sendVerificationEmail")).toEqual([]);
  });

  s.it("with loginOnPasswordReset for an inactive user, emits password_reset and stops at inactive", async () => {
    const { flow, snapshot } = await linkReset(
      { loginOnPasswordReset: true },
      fakes({ resetPassword: () => ({ user: { ...alice, isActive: false } }) }),
    );
    expect(snapshot.value).toBe("inactive");
    expect(snapshot.status).toBe("done");
    expect(tagsOf(snapshot)).toEqual(["inactive"]);
    expect(flow.signals).toEqual([{ type: "password_reset", user: { ...alice, isActive: false } }]);
    expect(flow.calls("startSession")).toEqual([]);
    expect(flow.calls("sendVerificationEmail")).toEqual([]);
  });

  s.it("with loginOnPasswordReset and a required login code, emits password_reset, mails a login code and parks the login", async () => {
    const { flow, snapshot } = await linkReset(
      { settings: settings({ loginByCodeRequired: true }), loginOnPasswordReset: true },
      fakes({ sendLoginCode: () => ({ verificationId: "lc-1" }) }),
    );
    expect(snapshot.value).toBe("codePending");
    expect(snapshot.status).toBe("done");
    expect(tagsOf(snapshot)).toEqual(["pending:login_by_code"]);
    expect(flow.signalTypes()).toEqual(["password_reset"]);
    expect(flow.timeline).toEqual([
      "actor:checkResetKey",
      "actor:hashNewPassword",
      "actor:resetPassword",
      "signal:password_reset",
      "actor:sendLoginCode",
    ]);
    expect(flow.calls("sendLoginCode")).toEqual([{ userId: "u1", emailAddressId: "e1" }]);
    expect(snapshot.context.verificationId).toBe("lc-1");
    expect(flow.calls("startSession")).toEqual([]);
  });

  s.it("when the login code cannot be mailed, ends failed after password_reset", async () => {
    const { flow, snapshot } = await linkReset(
      { settings: settings({ loginByCodeRequired: true }), loginOnPasswordReset: true },
      fakes({ sendLoginCode: fail("unexpected") }),
    );
    expect(snapshot.value).toBe("failed");
    expect(tagsOf(snapshot)).toEqual(["failed"]);
    expect(snapshot.context.error).toEqual({ code: "unexpected" });
    expect(flow.signalTypes()).toEqual(["password_reset"]);
  });

  s.it("when the verification mail cannot be queued, ends failed after password_reset", async () => {
    const { flow, snapshot } = await linkReset(
      { settings: settings({ emailVerification: "mandatory" }), loginOnPasswordReset: true },
      fakes({ sendVerificationEmail: fail("rate_limited") }),
    );
    expect(snapshot.value).toBe("failed");
    expect(tagsOf(snapshot)).toEqual(["failed"]);
    expect(snapshot.context.error).toEqual({ code: "rate_limited" });
    expect(flow.signalTypes()).toEqual(["password_reset"]);
    expect(flow.calls("startSession")).toEqual([]);
  });

  s.it("when the session cannot start, ends failed after password_reset without user_logged_in", async () => {
    const { flow, snapshot } = await linkReset({ loginOnPasswordReset: true }, fakes({ startSession: fail("unexpected") }));
    expect(snapshot.value).toBe("failed");
    expect(tagsOf(snapshot)).toEqual(["failed"]);
    expect(snapshot.context.error).toEqual({ code: "unexpected" });
    expect(flow.signalTypes()).toEqual(["password_reset"]);
  });

  s.it("with a bad or expired key, ends rejected without any signal and never resets", async () => {
    const { flow, snapshot } = await linkReset(
      { sessionUser: bob, loginOnPasswordReset: true },
      fakes({ checkResetKey: fail("invalid_password_reset", "key") }),
    );
    expect(snapshot.value).toBe("rejected");
    expect(snapshot.status).toBe("done");
    expect(tagsOf(snapshot)).toEqual(["rejected"]);
    expect(snapshot.context.error).toEqual({ code: "invalid_password_reset", param: "key" });
    expect(snapshot.context.secret).toBeNull();
    expect(snapshot.context.password).toBeNull();
    expect(flow.signalTypes()).toEqual([]);
    expect(flow.calls("hashNewPassword")).toEqual([]);
    expect(flow.calls("resetPassword")).toEqual([]);
    expect(snapshot.context.sessionUser).toEqual(bob);
    expectNoSecretsPersisted(flow, KEY, PASSWORD);
  });

  s.it("with a weak password, ends rejected with the password error and no signal, before anything is written", async () => {
    const { flow, snapshot } = await linkReset({ loginOnPasswordReset: true }, fakes(), WEAK);
    expect(snapshot.value).toBe("rejected");
    expect(snapshot.status).toBe("done");
    expect(tagsOf(snapshot)).toEqual(["rejected"]);
    expect(snapshot.context.error).toEqual({ code: "password_too_common", param: "password" });
    expect(snapshot.context.password).toBeNull();
    expect(snapshot.context.passwordHash).toBeNull();
    expect(flow.calls("hashNewPassword").map((call) => [call.verificationId, call.password.reveal()])).toEqual([["v1", WEAK]]);
    expect(flow.calls("resetPassword")).toEqual([]);
    expect(flow.timeline).toEqual(["actor:checkResetKey", "actor:hashNewPassword"]);
    expect(flow.signalTypes()).toEqual([]);
    expect(flow.calls("startSession")).toEqual([]);
    expectNoSecretsPersisted(flow, KEY, WEAK);
  });

  s.it("when hashing fails for another reason than the password, ends rejected with that error and no signal", async () => {
    const { flow, snapshot } = await linkReset({ sessionUser: bob }, fakes({ hashNewPassword: fail("invalid_password_reset", "key") }));
    expect(snapshot.value).toBe("rejected");
    expect(tagsOf(snapshot)).toEqual(["rejected"]);
    expect(snapshot.context.error).toEqual({ code: "invalid_password_reset", param: "key" });
    expect(snapshot.context.password).toBeNull();
    expect(snapshot.context.sessionUser).toEqual(bob);
    expect(flow.calls("hashNewPassword")).toHaveLength(1);
    expect(flow.calls("resetPassword")).toEqual([]);
    expect(flow.signalTypes()).toEqual([]);
    expectNoSecretsPersisted(flow, KEY, PASSWORD);
  });

  s.it("when resetPassword fails, ends rejected with its error, no signal and no hash left behind", async () => {
    const { flow, snapshot } = await linkReset({ loginOnPasswordReset: true }, fakes({ resetPassword: fail("invalid_password_reset", "key") }));
    expect(snapshot.value).toBe("rejected");
    expect(tagsOf(snapshot)).toEqual(["rejected"]);
    expect(snapshot.context.error).toEqual({ code: "invalid_password_reset", param: "key" });
    expect(flow.signalTypes()).toEqual([]);
    expect(flow.calls("resetPassword")).toHaveLength(1);
    expect(flow.calls("resetPassword")[0]?.passwordHash.reveal()).toBe(hashOf(PASSWORD));
    expect(flow.calls("startSession")).toEqual([]);
    expect(snapshot.context.passwordHash).toBeNull();
    expectNoSecretsPersisted(flow, KEY, PASSWORD, hashOf(PASSWORD));
  });

  s.it("ignores CODE: a link flow only takes a key with its password", async () => {
    const flow = await startFlow(passwordResetMachine, { input: input("link"), fakes: fakes() });
    const snapshot = await flow.send(confirm(CODE));
    expect(snapshot.value).toBe("idle");
    expect(snapshot.status).toBe("active");
    expect(flow.timeline).toEqual([]);
  });

  s.it("never serialises the key, the password or its hash while checkResetKey, hashNewPassword and resetPassword are in flight", async () => {
    const checking = deferred<CheckResetKeyOutput>();
    const hashing = deferred<HashNewPasswordOutput>();
    const resetting = deferred<ResetPasswordOutput>();
    const flow = await startFlow(passwordResetMachine, {
      input: input("link"),
      fakes: fakes({
        checkResetKey: () => checking.promise,
        hashNewPassword: () => hashing.promise,
        resetPassword: () => resetting.promise,
      }),
    });
    flow.actor.send(reset(KEY));
    expect(flow.snapshot().value).toBe("checkingKey");
    expect(flow.snapshot().context.secret).toBeInstanceOf(Secret);
    expect(flow.snapshot().context.password).toBeInstanceOf(Secret);
    expectNoSecretsPersisted(flow, KEY, PASSWORD);
    expect(flow.persisted()).toContain("<redacted>");
    checking.resolve(keyFound());
    await waitFor(flow.actor, (snapshot) => snapshot.value === "hashing", { timeout: 2_000 });
    expect(flow.snapshot().context.secret).toBeNull();
    expect(flow.snapshot().context.password).toBeInstanceOf(Secret);
    expect(flow.snapshot().context.passwordHash).toBeNull();
    expectNoSecretsPersisted(flow, KEY, PASSWORD);
    expect(flow.persisted()).toContain("<redacted>");
    hashing.resolve({ passwordHash: new Secret(hashOf(PASSWORD)) });
    await waitFor(flow.actor, (snapshot) => snapshot.value === "resetting", { timeout: 2_000 });
    expect(flow.snapshot().context.password).toBeNull();
    expect(flow.snapshot().context.passwordHash).toBeInstanceOf(Secret);
    expectNoSecretsPersisted(flow, KEY, PASSWORD, hashOf(PASSWORD));
    expect(flow.persisted()).toContain("<redacted>");
    resetting.resolve({ user: alice });
    const snapshot = await flow.settled();
    expect(snapshot.value).toBe("reset");
    expect(snapshot.context.passwordHash).toBeNull();
    expect(flow.calls("resetPassword")[0]?.passwordHash.reveal()).toBe(hashOf(PASSWORD));
    expectNoSecretsPersisted(flow, KEY, PASSWORD, hashOf(PASSWORD));
  });
});

describe("password reset by code", () => {
  s.it("with the right code that verifies the address now (GET), emits email_confirmed and rests for the new password", async () => {
    const flow = await codeFlow({}, fakes());
    const snapshot = await flow.send(confirm(CODE));
    expect(snapshot.value).toBe("awaitingCode");
    expect(snapshot.context.error).toBeNull();
    expect(snapshot.context.user).toEqual(aliceBefore);
    expect(flow.signals).toEqual([{ type: "email_confirmed", emailAddress: verified }]);
    expect(flow.calls("confirmResetCode")).toEqual([{ verificationId: "v-right" }]);
    expect(flow.calls("resetPassword")).toEqual([]);
    expectNoSecretsPersisted(flow, CODE);
  });

  s.it("after the code, a RESET in a later request (restored snapshot) checks the code again and emits password_reset", async () => {
    const first = await codeFlow({}, fakes());
    await first.send(confirm(CODE));
    const restored = await startFlow(passwordResetMachine, {
      input: input("code"),
      fakes: fakes({ confirmResetCode: () => codeConfirmed({ verifiedNow: false }) }),
      snapshot: JSON.parse(first.persisted()),
    });
    const snapshot = await restored.send(reset(CODE));
    expect(snapshot.value).toBe("reset");
    expect(restored.signalTypes()).toEqual(["password_reset"]);
    expect(restored.timeline).toEqual([
      "actor:hashNewPassword",
      "actor:checkCode",
      "actor:confirmResetCode",
      "actor:resetPassword",
      "signal:password_reset",
    ]);
    expect(restored.calls("resetPassword").map((c) => [c.verificationId, c.passwordHash.reveal(), c.endSession])).toEqual([
      ["v-right", hashOf(PASSWORD), false],
    ]);
    expectNoSecretsPersisted(restored, CODE, PASSWORD, hashOf(PASSWORD));
  });

  s.it("with code and password in one RESET: the password first, then the code, then email_confirmed → password_reset", async () => {
    const flow = await codeFlow({}, fakes());
    const snapshot = await flow.send(reset(CODE));
    expect(snapshot.value).toBe("reset");
    expect(tagsOf(snapshot)).toEqual(["done"]);
    expect(flow.signalTypes()).toEqual(["email_confirmed", "password_reset"]);
    expect(flow.timeline).toEqual([
      "actor:requestPasswordReset",
      "actor:hashNewPassword",
      "actor:checkCode",
      "actor:confirmResetCode",
      "signal:email_confirmed",
      "actor:resetPassword",
      "signal:password_reset",
    ]);
    expect(flow.calls("hashNewPassword")).toEqual([{ verificationId: "v1", password: expect.any(Secret) }]);
  });

  s.it("with loginOnPasswordReset under mandatory verification, the code counts as verification: email_confirmed, password_reset, user_logged_in", async () => {
    const flow = await codeFlow({ loginOnPasswordReset: true, settings: settings({ emailVerification: "mandatory" }) }, fakes());
    const snapshot = await flow.send(reset(CODE));
    expect(snapshot.value).toBe("loggedIn");
    expect(flow.signalTypes()).toEqual(["email_confirmed", "password_reset", "user_logged_in"]);
    expect(flow.calls("sendVerificationEmail")).toEqual([]);
  });

  s.it("a right code with a weak password changes nothing: no confirmation, no signal, only the password's error", async () => {
    const flow = await codeFlow({}, fakes());
    const snapshot = await flow.send(reset(CODE, WEAK));
    expect(snapshot.value).toBe("awaitingCode");
    expect(snapshot.context.error).toBeNull();
    expect(snapshot.context.passwordError).toEqual({ code: "password_too_common", param: "password" });
    expect(flow.calls("checkCode")).toHaveLength(1);
    expect(flow.calls("confirmResetCode")).toEqual([]);
    expect(flow.calls("resetPassword")).toEqual([]);
    expect(flow.signals).toEqual([]);
    expectNoSecretsPersisted(flow, CODE, WEAK);
  });

  s.it("a wrong code with a weak password answers both errors (the code's counted), and resets nothing", async () => {
    const flow = await codeFlow({}, fakes());
    const snapshot = await flow.send(reset(WRONG, WEAK));
    expect(snapshot.value).toBe("awaitingCode");
    expect(snapshot.context.error).toEqual({ code: "incorrect_code", param: "key" });
    expect(snapshot.context.passwordError).toEqual({ code: "password_too_common", param: "password" });
    expect(flow.signals).toEqual([]);
  });

  s.it("a RESET without a password is checked as a whole: the code is counted, the password is `required`, nothing is hashed", async () => {
    const flow = await codeFlow({}, fakes());
    const snapshot = await flow.send({ type: "RESET", key: new Secret(WRONG), password: null });
    expect(snapshot.context.error).toEqual({ code: "incorrect_code", param: "key" });
    expect(snapshot.context.passwordError).toEqual({ code: "required", param: "password" });
    expect(flow.calls("hashNewPassword")).toEqual([]);
  });

  s.it("a good password with a wrong code keeps no hash at rest", async () => {
    const flow = await codeFlow({}, fakes());
    const snapshot = await flow.send(reset(WRONG));
    expect(snapshot.value).toBe("awaitingCode");
    expect(snapshot.context.passwordHash).toBeNull();
    expect(snapshot.context.passwordError).toBeNull();
    expectNoSecretsPersisted(flow, WRONG, PASSWORD, hashOf(PASSWORD));
  });

  s.it("when the account changed since the code was mailed, the right code ends the flow at codeGone", async () => {
    const flow = await codeFlow({}, fakes({ confirmResetCode: fail("flow_not_pending") }));
    const snapshot = await flow.send(reset(CODE));
    expect(snapshot.value).toBe("codeGone");
    expect(flow.signals).toEqual([]);
    expect(flow.calls("resetPassword")).toEqual([]);
  });

  s.it("when the reset is refused, ends rejected after email_confirmed", async () => {
    const flow = await codeFlow({}, fakes({ resetPassword: fail("invalid_password_reset", "key") }));
    const snapshot = await flow.send(reset(CODE));
    expect(snapshot.value).toBe("rejected");
    expect(snapshot.context.error).toEqual({ code: "invalid_password_reset", param: "key" });
    expect(flow.signalTypes()).toEqual(["email_confirmed"]);
  });

  s.it("ignores RESET in idle: a code flow must be requested first", async () => {
    const flow = await startFlow(passwordResetMachine, { input: input("code"), fakes: fakes() });
    const snapshot = await flow.send(reset(CODE));
    expect(snapshot.value).toBe("idle");
    expect(flow.timeline).toEqual([]);
  });
});

codeVerificationScenarios(s, {
  param: "key",
  awaiting: (fakeActors) => codeFlow({}, fakes(fakeActors)),
  resume: (snapshot, fakeActors) => startFlow(passwordResetMachine, { input: input("code"), fakes: fakes(fakeActors), snapshot }),
  resent: { result: "sent", confirmation: null, signup: false },
  resentSignals: [],
});

describe("regression: a refused weak password never logs anybody out", () => {
  s.it("in link mode with a different user logged in, a weak password ends rejected with no signal at all and bob still in the session", async () => {
    const { flow, snapshot } = await linkReset({ sessionUser: bob, loginOnPasswordReset: true }, fakes(), WEAK);
    expect(snapshot.value).toBe("rejected");
    expect(snapshot.status).toBe("done");
    expect(tagsOf(snapshot)).toEqual(["rejected"]);
    expect(snapshot.context.error).toEqual({ code: "password_too_common", param: "password" });
    // Previously user_logged_out was emitted here although nobody was logged out.
    expect(flow.signals).toEqual([]);
    expect(flow.timeline).toEqual(["actor:checkResetKey", "actor:hashNewPassword"]);
    expect(flow.calls("hashNewPassword").map((call) => [call.verificationId, call.password.reveal()])).toEqual([["v1", WEAK]]);
    expect(flow.calls("resetPassword")).toEqual([]);
    expect(flow.calls("startSession")).toEqual([]);
    expect(snapshot.context.endsSession).toBe(false);
    expect(snapshot.context.sessionUser).toEqual(bob);
    expectNoSecretsPersisted(flow, KEY, WEAK);
  });

  s.it("in code mode with a different user logged in, a weak then a good password emits exactly one user_logged_out, then password_reset", async () => {
    const flow = await codeFlow({ sessionUser: bob }, fakes({ confirmResetCode: () => codeConfirmed({ verifiedNow: false }) }));
    let snapshot = await flow.send(reset(CODE, WEAK));
    expect(snapshot.value).toBe("awaitingCode");
    expect(snapshot.context.passwordError).toEqual({ code: "password_too_common", param: "password" });
    expect(flow.signals).toEqual([]);
    expect(snapshot.context.endsSession).toBe(false);
    expect(snapshot.context.sessionUser).toEqual(bob);
    snapshot = await flow.send(reset(CODE, PASSWORD));
    expect(snapshot.value).toBe("reset");
    expect(flow.signals).toEqual([
      { type: "user_logged_out", user: bob },
      { type: "password_reset", user: alice },
    ]);
    expect(flow.calls("resetPassword").map((call) => call.endSession)).toEqual([true]);
    expectNoSecretsPersisted(flow, CODE, WEAK, PASSWORD, hashOf(PASSWORD));
  });
});

s.itCoversEveryStateAndTransition(passwordResetMachine, {
  transitions: {
    "verificationStage --always#1--> sendingVerification":
      "the optional-verification offer is for signups only, and a password-reset login always has signup=false",
    "verificationMailed --always#1--> loggingIn":
      "verificationMailed is only entered through the mandatory branch, whose guard (mandatory, unverified) still holds there",
  },
});
