import { describe, expect } from "vitest";
import type { AuthenticateOutput, FlowSettings } from "../../machines/contracts.ts";
import { loginMachine } from "../../machines/login.ts";
import type { LoginEvent } from "../../machines/login.ts";
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

const PASSWORD = "correct-horse-login-password-9";
const s = scenarios();

const alice = user({ id: "u1", username: "alice", email: "alice@example.com" });
const primary = address({ id: "e1", userId: "u1", email: "alice@example.com", verified: false });
const sessionAlice = user({ id: "u1", username: "alice", email: "alice@example.com", hasUsablePassword: true });

/** Authenticated by email with the given address, or by username (`emailAddress` null). */
function authenticated(overrides: Partial<AuthenticateOutput> = {}): AuthenticateOutput {
  return { user: alice, emailAddress: primary, hasVerifiedEmail: false, ...overrides };
}

function fakes(overrides: Fakes = {}): Fakes {
  return {
    authenticatePassword: () => authenticated({ emailAddress: { ...primary, verified: true }, hasVerifiedEmail: true }),
    sendVerificationEmail: () => sent(confirmation(primary)),
    startSession: () => ({ user: sessionAlice }),
    sendLoginCode: () => ({ verificationId: "lc-1" }),
    ...overrides,
  };
}

const byEmail = (password = PASSWORD): LoginEvent => ({
  type: "SUBMIT" as const,
  email: "alice@example.com",
  username: null,
  password: new Secret(password),
});
const byUsername = (password = PASSWORD): LoginEvent => ({
  type: "SUBMIT" as const,
  email: null,
  username: "alice",
  password: new Secret(password),
});

async function login(
  flowSettings: FlowSettings,
  fakeActors: Fakes,
  event: LoginEvent = byEmail(),
  sessionUser: UserRef | null = null,
) {
  const flow = await startFlow(loginMachine, { input: { settings: flowSettings, sessionUser }, fakes: fakeActors });
  expect(flow.snapshot().value).toBe("idle");
  const snapshot = await flow.send(event);
  return { flow, snapshot };
}

describe("password login by email", () => {
  s.it("with a verified login address, emits only user_logged_in and ends authenticated", async () => {
    const { flow, snapshot } = await login(settings({ emailVerification: "mandatory", loginMethods: ["email"] }), fakes());
    expect(snapshot.value).toBe("loggedIn");
    expect(snapshot.status).toBe("done");
    expect(tagsOf(snapshot)).toEqual(["authenticated"]);
    expect(flow.signalTypes()).toEqual(["user_logged_in"]);
    expect(flow.signals[0]).toEqual({ type: "user_logged_in", user: sessionAlice });
    expect(flow.timeline).toEqual(["actor:authenticatePassword", "actor:startSession", "signal:user_logged_in"]);
    expect(snapshot.context.sessionUser).toEqual(sessionAlice);
    expect(snapshot.context.password).toBeNull();
    expectNoSecretsPersisted(flow, PASSWORD);
  });

  s.it("passes the form and the password to authenticatePassword and an email login to startSession", async () => {
    const { flow } = await login(settings({ loginMethods: ["email"] }), fakes());
    const [form] = flow.calls("authenticatePassword");
    expect(form?.email).toBe("alice@example.com");
    expect(form?.username).toBeNull();
    expect(form?.password).toBeInstanceOf(Secret);
    expect(form?.password.reveal()).toBe(PASSWORD);
    expect(flow.calls("startSession")).toEqual([
      {
        userId: "u1",
        login: { userId: "u1", signup: false, emailAddressId: "e1", method: "password", email: "alice@example.com" },
      },
    ]);
  });

  s.it("with mandatory verification and an unverified login address, mails a verification (signup=false) and parks the login", async () => {
    const { flow, snapshot } = await login(
      settings({ emailVerification: "mandatory" }),
      // Another address is verified: the login address is what counts for an email login.
      fakes({ authenticatePassword: () => authenticated({ hasVerifiedEmail: true }), sendVerificationEmail: () => sent(confirmation(primary), "ver-9") }),
    );
    expect(snapshot.value).toBe("verificationPending");
    expect(snapshot.status).toBe("done");
    expect(tagsOf(snapshot)).toEqual(["pending:verify_email"]);
    expect(flow.signalTypes()).toEqual(["email_confirmation_sent"]);
    expect(flow.signals[0]).toEqual({ type: "email_confirmation_sent", confirmation: confirmation(primary), signup: false });
    expect(flow.calls("sendVerificationEmail")).toEqual([{ userId: "u1", emailAddressId: "e1", signup: false }]);
    expect(flow.calls("startSession")).toEqual([]);
    expect(snapshot.context.verificationId).toBe("ver-9");
    expect(snapshot.context.login).toEqual({
      userId: "u1",
      signup: false,
      emailAddressId: "e1",
      method: "password",
      email: "alice@example.com",
    });
    expectNoSecretsPersisted(flow, PASSWORD);
  });

  s.it("with mandatory verification and the mail held back by a cooldown, emits nothing and still parks the login", async () => {
    const { flow, snapshot } = await login(
      settings({ emailVerification: "mandatory" }),
      fakes({ authenticatePassword: () => authenticated(), sendVerificationEmail: () => suppressed }),
    );
    expect(snapshot.value).toBe("verificationPending");
    expect(tagsOf(snapshot)).toEqual(["pending:verify_email"]);
    expect(flow.signalTypes()).toEqual([]);
    expect(flow.calls("sendVerificationEmail")).toHaveLength(1);
    expect(flow.calls("startSession")).toEqual([]);
  });

  s.it("with optional verification and an unverified address, logs in without mailing (only signups are offered a mail)", async () => {
    const { flow, snapshot } = await login(
      settings({ emailVerification: "optional" }),
      fakes({ authenticatePassword: () => authenticated() }),
    );
    expect(snapshot.value).toBe("loggedIn");
    expect(flow.signalTypes()).toEqual(["user_logged_in"]);
    expect(flow.calls("sendVerificationEmail")).toEqual([]);
  });

  s.it("with verification none and an unverified address, logs in without mailing", async () => {
    const { flow, snapshot } = await login(
      settings({ emailVerification: "none" }),
      fakes({ authenticatePassword: () => authenticated() }),
    );
    expect(snapshot.value).toBe("loggedIn");
    expect(flow.signalTypes()).toEqual(["user_logged_in"]);
    expect(flow.calls("sendVerificationEmail")).toEqual([]);
  });
});

describe("password login by username", () => {
  s.it("with mandatory verification and any verified address, logs in and records a username login", async () => {
    const { flow, snapshot } = await login(
      settings({ emailVerification: "mandatory", loginMethods: ["username"] }),
      fakes({ authenticatePassword: () => authenticated({ emailAddress: null, hasVerifiedEmail: true }) }),
      byUsername(),
    );
    expect(snapshot.value).toBe("loggedIn");
    expect(flow.signalTypes()).toEqual(["user_logged_in"]);
    expect(flow.calls("authenticatePassword")[0]?.username).toBe("alice");
    expect(flow.calls("authenticatePassword")[0]?.email).toBeNull();
    expect(flow.calls("startSession")[0]?.login).toEqual({
      userId: "u1",
      signup: false,
      emailAddressId: null,
      method: "password",
      username: "alice",
    });
  });

  s.it("with mandatory verification and no verified address, mails a verification for the user's address and parks", async () => {
    const { flow, snapshot } = await login(
      settings({ emailVerification: "mandatory" }),
      fakes({ authenticatePassword: () => authenticated({ emailAddress: null, hasVerifiedEmail: false }) }),
      byUsername(),
    );
    expect(snapshot.value).toBe("verificationPending");
    expect(flow.signalTypes()).toEqual(["email_confirmation_sent"]);
    expect(flow.signals[0]).toMatchObject({ signup: false });
    expect(flow.calls("sendVerificationEmail")).toEqual([{ userId: "u1", emailAddressId: null, signup: false }]);
  });
});

describe("password login with a required login code (loginByCodeRequired)", () => {
  const passwordLogin = { userId: "u1", signup: false, emailAddressId: "e1", method: "password", email: "alice@example.com" };

  s.it("listing \"password\", mails a login code and stops at codePending without any signal", async () => {
    const { flow, snapshot } = await login(
      settings({ loginByCodeRequired: ["password"] }),
      fakes({ sendLoginCode: () => ({ verificationId: "lc-7" }) }),
    );
    expect(snapshot.value).toBe("codePending");
    expect(snapshot.status).toBe("done");
    expect(tagsOf(snapshot)).toEqual(["pending:login_by_code"]);
    expect(flow.signals).toEqual([]);
    expect(flow.timeline).toEqual(["actor:authenticatePassword", "actor:sendLoginCode"]);
    expect(flow.calls("sendLoginCode")).toEqual([{ userId: "u1", emailAddressId: "e1" }]);
    expect(flow.calls("startSession")).toEqual([]);
    expect(snapshot.context.verificationId).toBe("lc-7");
    expect(snapshot.context.codeVerified).toBe(false);
    expect(snapshot.context.login).toEqual(passwordLogin);
    expect(snapshot.context.sessionUser).toBeNull();
    expect(snapshot.context.password).toBeNull();
    expectNoSecretsPersisted(flow, PASSWORD);
  });

  s.it("set to true, requires the code for a username login too, mailed to the user's primary address", async () => {
    const { flow, snapshot } = await login(
      settings({ loginByCodeRequired: true }),
      fakes({ authenticatePassword: () => authenticated({ emailAddress: null, hasVerifiedEmail: true }) }),
      byUsername(),
    );
    expect(snapshot.value).toBe("codePending");
    expect(tagsOf(snapshot)).toEqual(["pending:login_by_code"]);
    expect(flow.signals).toEqual([]);
    expect(flow.calls("sendLoginCode")).toEqual([{ userId: "u1", emailAddressId: null }]);
    expect(snapshot.context.login).toEqual({
      userId: "u1",
      signup: false,
      emailAddressId: null,
      method: "password",
      username: "alice",
    });
  });

  s.it("listing only other methods, requires no code: user_logged_in", async () => {
    const { flow, snapshot } = await login(settings({ loginByCodeRequired: ["socialaccount", "mfa"] }), fakes());
    expect(snapshot.value).toBe("loggedIn");
    expect(tagsOf(snapshot)).toEqual(["authenticated"]);
    expect(flow.signals).toEqual([{ type: "user_logged_in", user: sessionAlice }]);
    expect(flow.calls("sendLoginCode")).toEqual([]);
    expect(flow.calls("startSession")).toEqual([{ userId: "u1", login: passwordLogin }]);
  });

  s.it("set to an empty list, requires no code: user_logged_in", async () => {
    const { flow, snapshot } = await login(settings({ loginByCodeRequired: [] }), fakes());
    expect(snapshot.value).toBe("loggedIn");
    expect(flow.signalTypes()).toEqual(["user_logged_in"]);
    expect(flow.calls("sendLoginCode")).toEqual([]);
  });

  s.it("under mandatory verification of an unverified address, asks for the code before any verification mail", async () => {
    const { flow, snapshot } = await login(
      settings({ emailVerification: "mandatory", loginByCodeRequired: ["password"] }),
      fakes({ authenticatePassword: () => authenticated() }),
    );
    expect(snapshot.value).toBe("codePending");
    expect(flow.signalTypes()).toEqual([]);
    expect(flow.calls("sendLoginCode")).toEqual([{ userId: "u1", emailAddressId: "e1" }]);
    expect(flow.calls("sendVerificationEmail")).toEqual([]);
    expect(snapshot.context.emailVerified).toBe(false);
    expect(snapshot.context.verificationId).toBe("lc-1");
  });

  s.it("for an inactive user, stops at inactive without mailing a code", async () => {
    const { flow, snapshot } = await login(
      settings({ loginByCodeRequired: true }),
      fakes({ authenticatePassword: () => authenticated({ user: { ...alice, isActive: false } }) }),
    );
    expect(snapshot.value).toBe("inactive");
    expect(flow.signalTypes()).toEqual([]);
    expect(flow.calls("sendLoginCode")).toEqual([]);
  });

  s.it("when the login code cannot be mailed, ends failed without any signal", async () => {
    const { flow, snapshot } = await login(
      settings({ loginByCodeRequired: ["password"] }),
      fakes({ sendLoginCode: fail("rate_limited") }),
    );
    expect(snapshot.value).toBe("failed");
    expect(snapshot.status).toBe("done");
    expect(tagsOf(snapshot)).toEqual(["failed"]);
    expect(snapshot.context.error).toEqual({ code: "rate_limited" });
    expect(snapshot.context.verificationId).toBeNull();
    expect(flow.signalTypes()).toEqual([]);
    expect(flow.calls("sendLoginCode")).toHaveLength(1);
    expect(flow.calls("startSession")).toEqual([]);
  });
});

describe("password login refused or broken", () => {
  s.it("with a wrong email/password pair, ends rejected with email_password_mismatch and forgets the password", async () => {
    const { flow, snapshot } = await login(settings(), fakes({ authenticatePassword: fail("email_password_mismatch", "password") }), byEmail("wrong-password-xyz"));
    expect(snapshot.value).toBe("rejected");
    expect(snapshot.status).toBe("done");
    expect(tagsOf(snapshot)).toEqual(["rejected"]);
    expect(snapshot.context.error).toEqual({ code: "email_password_mismatch", param: "password" });
    expect(snapshot.context.password).toBeNull();
    expect(flow.signalTypes()).toEqual([]);
    expect(flow.calls("startSession")).toEqual([]);
    expectNoSecretsPersisted(flow, "wrong-password-xyz");
  });

  s.it("with a wrong username/password pair, ends rejected with username_password_mismatch", async () => {
    const { flow, snapshot } = await login(settings(), fakes({ authenticatePassword: fail("username_password_mismatch", "password") }), byUsername());
    expect(snapshot.value).toBe("rejected");
    expect(snapshot.context.error).toEqual({ code: "username_password_mismatch", param: "password" });
    expect(flow.signalTypes()).toEqual([]);
  });

  s.it("for an inactive user, emits nothing and stops at inactive", async () => {
    const { flow, snapshot } = await login(
      settings({ emailVerification: "mandatory" }),
      fakes({ authenticatePassword: () => authenticated({ user: { ...alice, isActive: false } }) }),
    );
    expect(snapshot.value).toBe("inactive");
    expect(snapshot.status).toBe("done");
    expect(tagsOf(snapshot)).toEqual(["inactive"]);
    expect(flow.signalTypes()).toEqual([]);
    expect(flow.calls("sendVerificationEmail")).toEqual([]);
    expect(flow.calls("startSession")).toEqual([]);
    expect(snapshot.context.password).toBeNull();
  });

  s.it("while somebody is logged in, checks the credentials first (allauth's input), then ends in conflict", async () => {
    const { flow, snapshot } = await login(
      settings(),
      fakes({ authenticatePassword: () => authenticated() }),
      byEmail(),
      user({ id: "u7" }),
    );
    expect(snapshot.value).toBe("conflict");
    expect(tagsOf(snapshot)).toEqual(["conflict"]);
    expect(flow.calls("authenticatePassword")).toHaveLength(1);
    expect(flow.signalTypes()).toEqual([]);
    expect(snapshot.context.password).toBeNull();
    expect(snapshot.context.login).toBeNull();
  });

  s.it("while somebody is logged in, wrong credentials are still the 400 mismatch", async () => {
    const { snapshot } = await login(
      settings(),
      fakes({ authenticatePassword: fail("email_password_mismatch", "password") }),
      byEmail("wrong-password-xyz"),
      user({ id: "u7" }),
    );
    expect(snapshot.value).toBe("rejected");
    expect(snapshot.context.error).toEqual({ code: "email_password_mismatch", param: "password" });
  });

  s.it("when the verification mail fails, ends failed without any signal", async () => {
    const { flow, snapshot } = await login(
      settings({ emailVerification: "mandatory" }),
      fakes({ authenticatePassword: () => authenticated(), sendVerificationEmail: fail("unexpected") }),
    );
    expect(snapshot.value).toBe("failed");
    expect(tagsOf(snapshot)).toEqual(["failed"]);
    expect(snapshot.context.error).toEqual({ code: "unexpected" });
    expect(flow.signalTypes()).toEqual([]);
  });

  s.it("when starting the session fails, ends failed without user_logged_in", async () => {
    const { flow, snapshot } = await login(settings(), fakes({ startSession: fail("unexpected") }));
    expect(snapshot.value).toBe("failed");
    expect(tagsOf(snapshot)).toEqual(["failed"]);
    expect(flow.signalTypes()).toEqual([]);
    expect(snapshot.context.sessionUser).toBeNull();
  });
});

describe("password login with actors that are not provided", () => {
  s.it("fails loudly with 'not provided: authenticatePassword' and ends rejected", async () => {
    const flow = await startFlow(loginMachine, { input: { settings: settings(), sessionUser: null } });
    const snapshot = await flow.send(byEmail());
    expect(snapshot.value).toBe("rejected");
    expect(snapshot.context.error).toEqual({ code: "unexpected" });
    expect((flow.actorErrors[0] as Error).message).toBe("not provided: authenticatePassword");
    expect(flow.signalTypes()).toEqual([]);
    expectNoSecretsPersisted(flow, PASSWORD);
  });

  s.it("fails loudly with 'not provided: sendVerificationEmail' and ends failed", async () => {
    const { sendVerificationEmail: _omitted, ...rest } = fakes({ authenticatePassword: () => authenticated() });
    const { flow, snapshot } = await login(settings({ emailVerification: "mandatory" }), rest);
    expect(snapshot.value).toBe("failed");
    expect((flow.actorErrors[0] as Error).message).toBe("not provided: sendVerificationEmail");
    expect(flow.signalTypes()).toEqual([]);
  });
});

describe("password login secrets", () => {
  s.it("never serialises the password while authenticatePassword is in flight", async () => {
    const pending = deferred<AuthenticateOutput>();
    const flow = await startFlow(loginMachine, {
      input: { settings: settings(), sessionUser: null },
      fakes: fakes({ authenticatePassword: () => pending.promise }),
    });
    flow.actor.send(byEmail());
    expect(flow.snapshot().value).toBe("authenticating");
    expect(flow.persisted()).not.toContain(PASSWORD);
    expect(flow.persisted()).toContain("<redacted>");
    pending.resolve(authenticated({ emailAddress: { ...primary, verified: true } }));
    const snapshot = await flow.settled();
    expect(snapshot.value).toBe("loggedIn");
    expect(snapshot.context.password).toBeNull();
    expectNoSecretsPersisted(flow, PASSWORD);
  });
});

s.itCoversEveryStateAndTransition(loginMachine, {
  transitions: {
    "verificationStage --always#1--> sendingVerification":
      "the optional-verification offer is for signups only; a password login is never a signup",
    "verificationMailed --always#1--> loggingIn":
      "a login only mails under mandatory verification of an unverified address, which then always parks",
  },
});
