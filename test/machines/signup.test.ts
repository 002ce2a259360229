import { describe, expect } from "vitest";
import type { EmailVerificationMode, FlowSettings } from "../../machines/contracts.ts";
import { Secret } from "../../machines/secret.ts";
import { signupMachine } from "../../machines/signup.ts";
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
import type { ValidateSignupOutput } from "../../machines/contracts.ts";
import type { UserRef } from "../../machines/signals.ts";

const PASSWORD = "Tr0ub4dor&3-signup-password";
const s = scenarios();

const created = user({ id: "u1", username: "alice", email: "alice@example.com" });
const createdAddress = address({ id: "e1", userId: "u1", email: "alice@example.com", verified: false });
const loggedInUser = user({ id: "u1", username: "alice", email: "alice@example.com" });

/** Happy-path fakes: a fresh address, a mail that goes out, a session that starts. */
function fakes(overrides: Fakes = {}): Fakes {
  return {
    validateSignup: (form): ValidateSignupOutput => ({
      email: form.email === null ? null : form.email.toLowerCase(),
      username: form.username,
      emailTaken: false,
    }),
    createUser: () => ({ user: created, emailAddress: createdAddress }),
    sendAccountExistsMail: () => undefined,
    sendVerificationEmail: () => sent(confirmation(createdAddress)),
    startSession: () => ({ user: loggedInUser }),
    sendLoginCode: () => ({ verificationId: "lc-1" }),
    ...overrides,
  };
}

const taken = (form: { email: string | null; username: string | null }): ValidateSignupOutput => ({
  email: form.email === null ? null : form.email.toLowerCase(),
  username: form.username,
  emailTaken: true,
});

function submit(overrides: { email?: string | null; username?: string | null; password?: string | null } = {}) {
  return {
    type: "SUBMIT" as const,
    email: overrides.email === undefined ? "Alice@Example.COM" : overrides.email,
    username: overrides.username === undefined ? "alice" : overrides.username,
    password: overrides.password === null ? null : new Secret(overrides.password ?? PASSWORD),
  };
}

async function signup(
  flowSettings: FlowSettings,
  fakeActors: Fakes,
  sessionUser: UserRef | null = null,
  event = submit(),
) {
  const flow = await startFlow(signupMachine, { input: { settings: flowSettings, sessionUser }, fakes: fakeActors });
  expect(flow.snapshot().value).toBe("idle");
  const snapshot = await flow.send(event);
  return { flow, snapshot };
}

describe("signup with a fresh email", () => {
  s.it("with verification none, emits user_signed_up then user_logged_in and ends authenticated", async () => {
    const { flow, snapshot } = await signup(settings({ emailVerification: "none" }), fakes());
    expect(snapshot.value).toBe("loggedIn");
    expect(snapshot.status).toBe("done");
    expect(tagsOf(snapshot)).toEqual(["authenticated"]);
    expect(flow.signalTypes()).toEqual(["user_signed_up", "user_logged_in"]);
    expect(flow.signals[0]).toEqual({ type: "user_signed_up", user: created });
    expect(flow.signals[1]).toEqual({ type: "user_logged_in", user: loggedInUser });
    expect(flow.calls("sendVerificationEmail")).toEqual([]);
    expect(flow.calls("sendAccountExistsMail")).toEqual([]);
    expect(flow.timeline).toEqual([
      "actor:validateSignup",
      "actor:createUser",
      "signal:user_signed_up",
      "actor:startSession",
      "signal:user_logged_in",
    ]);
    expect(snapshot.context.sessionUser).toEqual(loggedInUser);
    expect(snapshot.context.password).toBeNull();
    expect(snapshot.context.error).toBeNull();
    expectNoSecretsPersisted(flow, PASSWORD);
  });

  s.it("without a password (passwordless signup) hands null to validateSignup and createUser", async () => {
    const { flow, snapshot } = await signup(settings({ emailVerification: "none" }), fakes(), null, submit({ password: null }));
    expect(snapshot.value).toBe("loggedIn");
    expect(flow.calls("validateSignup")[0]?.password).toBeNull();
    expect(flow.calls("createUser")[0]?.password).toBeNull();
    expect(flow.timeline.filter((t) => t.startsWith("signal:"))).toEqual(["signal:user_signed_up", "signal:user_logged_in"]);
  });

  s.it("hands the raw form to validateSignup and the cleaned values and the password to createUser", async () => {
    const { flow } = await signup(settings({ emailVerification: "none" }), fakes());
    const [validated] = flow.calls("validateSignup");
    expect(validated?.email).toBe("Alice@Example.COM");
    expect(validated?.username).toBe("alice");
    expect(validated?.password).toBeInstanceOf(Secret);
    expect(validated?.password?.reveal()).toBe(PASSWORD);
    const [creating] = flow.calls("createUser");
    expect(creating?.email).toBe("alice@example.com");
    expect(creating?.username).toBe("alice");
    expect(creating?.password?.reveal()).toBe(PASSWORD);
  });

  s.it("starts the session with a signup login carrying the new user's id, address, email and username", async () => {
    const { flow } = await signup(settings({ emailVerification: "none" }), fakes());
    expect(flow.calls("startSession")).toEqual([
      {
        userId: "u1",
        login: {
          userId: "u1",
          signup: true,
          emailAddressId: "e1",
          method: "password",
          email: "alice@example.com",
          username: "alice",
        },
      },
    ]);
  });

  s.it("without an email and without a username, the login carries neither", async () => {
    const noUsername = user({ id: "u2", username: null, email: null });
    const { flow, snapshot } = await signup(
      settings({ emailVerification: "none" }),
      fakes({
        createUser: () => ({ user: noUsername, emailAddress: null }),
        startSession: () => ({ user: noUsername }),
      }),
      null,
      submit({ email: null, username: null }),
    );
    expect(snapshot.value).toBe("loggedIn");
    expect(flow.signalTypes()).toEqual(["user_signed_up", "user_logged_in"]);
    expect(flow.calls("startSession")[0]?.login).toEqual({
      userId: "u2",
      signup: true,
      emailAddressId: null,
      method: "password",
    });
  });

  s.it("with optional verification, mails a verification (signup=true) between user_signed_up and user_logged_in", async () => {
    const { flow, snapshot } = await signup(settings({ emailVerification: "optional" }), fakes());
    expect(snapshot.value).toBe("loggedIn");
    expect(tagsOf(snapshot)).toEqual(["authenticated"]);
    expect(flow.signalTypes()).toEqual(["user_signed_up", "email_confirmation_sent", "user_logged_in"]);
    expect(flow.signals[1]).toEqual({
      type: "email_confirmation_sent",
      confirmation: confirmation(createdAddress),
      signup: true,
    });
    expect(flow.calls("sendVerificationEmail")).toEqual([{ userId: "u1", emailAddressId: "e1", signup: true }]);
    expect(flow.timeline).toEqual([
      "actor:validateSignup",
      "actor:createUser",
      "signal:user_signed_up",
      "actor:sendVerificationEmail",
      "signal:email_confirmation_sent",
      "actor:startSession",
      "signal:user_logged_in",
    ]);
    expectNoSecretsPersisted(flow, PASSWORD);
  });

  s.it("with optional verification and a mail suppressed by a cooldown, emits no email_confirmation_sent and still logs in", async () => {
    const { flow, snapshot } = await signup(
      settings({ emailVerification: "optional" }),
      fakes({ sendVerificationEmail: () => suppressed }),
    );
    expect(snapshot.value).toBe("loggedIn");
    expect(tagsOf(snapshot)).toEqual(["authenticated"]);
    expect(flow.signalTypes()).toEqual(["user_signed_up", "user_logged_in"]);
    expect(flow.calls("sendVerificationEmail")).toHaveLength(1);
    expect(snapshot.context.verificationId).toBeNull();
  });

  s.it("with optional verification and an address already verified at creation, mails nothing", async () => {
    const { flow, snapshot } = await signup(
      settings({ emailVerification: "optional" }),
      fakes({ createUser: () => ({ user: created, emailAddress: { ...createdAddress, verified: true } }) }),
    );
    expect(snapshot.value).toBe("loggedIn");
    expect(flow.signalTypes()).toEqual(["user_signed_up", "user_logged_in"]);
    expect(flow.calls("sendVerificationEmail")).toEqual([]);
  });

  s.it("with mandatory verification, emits user_signed_up then email_confirmation_sent(signup=true) and parks the login", async () => {
    const { flow, snapshot } = await signup(
      settings({ emailVerification: "mandatory" }),
      fakes({ sendVerificationEmail: () => sent(confirmation(createdAddress, "code"), "ver-1") }),
    );
    expect(snapshot.value).toBe("verificationPending");
    expect(snapshot.status).toBe("done");
    expect(tagsOf(snapshot)).toEqual(["pending:verify_email"]);
    expect(flow.signalTypes()).toEqual(["user_signed_up", "email_confirmation_sent"]);
    expect(flow.signals[1]).toMatchObject({ type: "email_confirmation_sent", signup: true });
    expect(flow.calls("sendVerificationEmail")).toEqual([{ userId: "u1", emailAddressId: "e1", signup: true }]);
    expect(flow.calls("startSession")).toEqual([]);
    expect(snapshot.context.verificationId).toBe("ver-1");
    expect(snapshot.context.login).toEqual({
      userId: "u1",
      signup: true,
      emailAddressId: "e1",
      method: "password",
      email: "alice@example.com",
      username: "alice",
    });
    expect(snapshot.context.password).toBeNull();
    expectNoSecretsPersisted(flow, PASSWORD);
  });

  s.it("with mandatory verification and a mail suppressed by a cooldown, emits only user_signed_up and parks the login", async () => {
    const { flow, snapshot } = await signup(
      settings({ emailVerification: "mandatory" }),
      fakes({ sendVerificationEmail: () => suppressed }),
    );
    expect(snapshot.value).toBe("verificationPending");
    expect(tagsOf(snapshot)).toEqual(["pending:verify_email"]);
    expect(flow.signalTypes()).toEqual(["user_signed_up"]);
    expect(flow.calls("startSession")).toEqual([]);
  });

  s.it("with mandatory verification and an address verified at creation, logs in without mailing", async () => {
    const { flow, snapshot } = await signup(
      settings({ emailVerification: "mandatory" }),
      fakes({ createUser: () => ({ user: created, emailAddress: { ...createdAddress, verified: true } }) }),
    );
    expect(snapshot.value).toBe("loggedIn");
    expect(flow.signalTypes()).toEqual(["user_signed_up", "user_logged_in"]);
    expect(flow.calls("sendVerificationEmail")).toEqual([]);
  });

  s.it("yielding an inactive user, emits user_signed_up only and stops at inactive", async () => {
    const inactive = { ...created, isActive: false };
    const { flow, snapshot } = await signup(
      settings({ emailVerification: "mandatory" }),
      fakes({ createUser: () => ({ user: inactive, emailAddress: createdAddress }) }),
    );
    expect(snapshot.value).toBe("inactive");
    expect(snapshot.status).toBe("done");
    expect(tagsOf(snapshot)).toEqual(["inactive"]);
    expect(flow.signalTypes()).toEqual(["user_signed_up"]);
    expect(flow.signals[0]).toEqual({ type: "user_signed_up", user: inactive });
    expect(flow.calls("sendVerificationEmail")).toEqual([]);
    expect(flow.calls("startSession")).toEqual([]);
  });
});

describe("signup with a required login code (loginByCodeRequired)", () => {
  const parkedSignup = {
    userId: "u1",
    signup: true,
    emailAddressId: "e1",
    method: "password",
    email: "alice@example.com",
    username: "alice",
  };

  s.it("set to true, emits user_signed_up, mails a login code and stops at codePending without user_logged_in", async () => {
    const { flow, snapshot } = await signup(
      settings({ emailVerification: "none", loginByCodeRequired: true }),
      fakes({ sendLoginCode: () => ({ verificationId: "lc-42" }) }),
    );
    expect(snapshot.value).toBe("codePending");
    expect(snapshot.status).toBe("done");
    expect(tagsOf(snapshot)).toEqual(["pending:login_by_code"]);
    expect(flow.signals).toEqual([{ type: "user_signed_up", user: created }]);
    expect(flow.timeline).toEqual([
      "actor:validateSignup",
      "actor:createUser",
      "signal:user_signed_up",
      "actor:sendLoginCode",
    ]);
    expect(flow.calls("sendLoginCode")).toEqual([{ userId: "u1", emailAddressId: "e1" }]);
    expect(flow.calls("startSession")).toEqual([]);
    expect(snapshot.context.verificationId).toBe("lc-42");
    expect(snapshot.context.codeVerified).toBe(false);
    // The login is parked as it is, for the login-by-code stage to complete.
    expect(snapshot.context.login).toEqual(parkedSignup);
    expect(snapshot.context.sessionUser).toBeNull();
    expect(snapshot.context.password).toBeNull();
    expectNoSecretsPersisted(flow, PASSWORD);
  });

  s.it("set to true under mandatory verification, asks for the code before any verification mail", async () => {
    const { flow, snapshot } = await signup(
      settings({ emailVerification: "mandatory", loginByCodeRequired: true }),
      fakes(),
    );
    expect(snapshot.value).toBe("codePending");
    expect(flow.signalTypes()).toEqual(["user_signed_up"]);
    expect(flow.calls("sendLoginCode")).toEqual([{ userId: "u1", emailAddressId: "e1" }]);
    expect(flow.calls("sendVerificationEmail")).toEqual([]);
    expect(flow.calls("startSession")).toEqual([]);
    expect(snapshot.context.verificationId).toBe("lc-1");
  });

  s.it("set to a non-empty list of other methods, still requires the code for a signup (no recorded method)", async () => {
    const { flow, snapshot } = await signup(
      settings({ emailVerification: "optional", loginByCodeRequired: ["socialaccount"] }),
      fakes(),
    );
    expect(snapshot.value).toBe("codePending");
    expect(tagsOf(snapshot)).toEqual(["pending:login_by_code"]);
    expect(flow.signalTypes()).toEqual(["user_signed_up"]);
    expect(flow.calls("sendLoginCode")).toEqual([{ userId: "u1", emailAddressId: "e1" }]);
    expect(flow.calls("sendVerificationEmail")).toEqual([]);
    expect(flow.calls("startSession")).toEqual([]);
  });

  s.it("for a signup without an address, asks sendLoginCode for the user's primary address (emailAddressId null)", async () => {
    const noEmail = user({ id: "u2", username: "bob", email: null });
    const { flow, snapshot } = await signup(
      settings({ emailVerification: "none", loginByCodeRequired: true }),
      fakes({ createUser: () => ({ user: noEmail, emailAddress: null }) }),
      null,
      submit({ email: null, username: "bob" }),
    );
    expect(snapshot.value).toBe("codePending");
    expect(flow.signals).toEqual([{ type: "user_signed_up", user: noEmail }]);
    expect(flow.calls("sendLoginCode")).toEqual([{ userId: "u2", emailAddressId: null }]);
  });

  s.it("set to an empty list, requires no code: user_signed_up then user_logged_in", async () => {
    const { flow, snapshot } = await signup(settings({ emailVerification: "none", loginByCodeRequired: [] }), fakes());
    expect(snapshot.value).toBe("loggedIn");
    expect(tagsOf(snapshot)).toEqual(["authenticated"]);
    expect(flow.signalTypes()).toEqual(["user_signed_up", "user_logged_in"]);
    expect(flow.calls("sendLoginCode")).toEqual([]);
    expect(flow.calls("startSession")).toEqual([{ userId: "u1", login: parkedSignup }]);
  });

  s.it("set to false, requires no code: user_signed_up then user_logged_in", async () => {
    const { flow, snapshot } = await signup(settings({ emailVerification: "none", loginByCodeRequired: false }), fakes());
    expect(snapshot.value).toBe("loggedIn");
    expect(flow.signalTypes()).toEqual(["user_signed_up", "user_logged_in"]);
    expect(flow.calls("sendLoginCode")).toEqual([]);
  });

  s.it("for an inactive new user, stops at inactive before any login code", async () => {
    const inactive = { ...created, isActive: false };
    const { flow, snapshot } = await signup(
      settings({ loginByCodeRequired: true }),
      fakes({ createUser: () => ({ user: inactive, emailAddress: createdAddress }) }),
    );
    expect(snapshot.value).toBe("inactive");
    expect(flow.signals).toEqual([{ type: "user_signed_up", user: inactive }]);
    expect(flow.calls("sendLoginCode")).toEqual([]);
  });

  s.it("when the login code cannot be mailed, ends failed after user_signed_up and without user_logged_in", async () => {
    const { flow, snapshot } = await signup(
      settings({ emailVerification: "none", loginByCodeRequired: true }),
      fakes({ sendLoginCode: fail("rate_limited") }),
    );
    expect(snapshot.value).toBe("failed");
    expect(snapshot.status).toBe("done");
    expect(tagsOf(snapshot)).toEqual(["failed"]);
    expect(snapshot.context.error).toEqual({ code: "rate_limited" });
    expect(snapshot.context.verificationId).toBeNull();
    expect(flow.signalTypes()).toEqual(["user_signed_up"]);
    expect(flow.calls("sendLoginCode")).toHaveLength(1);
    expect(flow.calls("startSession")).toEqual([]);
  });

  s.it("fails loudly with 'not provided: sendLoginCode' and ends failed after user_signed_up", async () => {
    const { sendLoginCode: _omitted, ...rest } = fakes();
    const { flow, snapshot } = await signup(settings({ loginByCodeRequired: true }), rest);
    expect(snapshot.value).toBe("failed");
    expect(snapshot.context.error).toEqual({ code: "unexpected" });
    expect((flow.actorErrors[0] as Error).message).toBe("not provided: sendLoginCode");
    expect(flow.signalTypes()).toEqual(["user_signed_up"]);
  });
});

describe("signup with a taken email", () => {
  const modes: Array<EmailVerificationMode> = ["none", "optional", "mandatory"];

  s.it("with preventEnumeration true and mandatory verification, mails 'account exists', creates nobody, emits nothing and looks pending", async () => {
    const { flow, snapshot } = await signup(
      settings({ preventEnumeration: true, emailVerification: "mandatory" }),
      fakes({ validateSignup: taken }),
    );
    expect(snapshot.value).toBe("verificationPending");
    expect(snapshot.status).toBe("done");
    expect(tagsOf(snapshot)).toEqual(["pending:verify_email"]);
    expect(flow.signalTypes()).toEqual([]);
    expect(flow.calls("createUser")).toEqual([]);
    expect(flow.calls("sendVerificationEmail")).toEqual([]);
    expect(flow.calls("startSession")).toEqual([]);
    const [mail] = flow.calls("sendAccountExistsMail");
    expect(mail?.email).toBe("alice@example.com");
    expect(mail?.password?.reveal()).toBe(PASSWORD);
    expect(snapshot.context.user).toBeNull();
    expect(snapshot.context.login).toBeNull();
    expect(snapshot.context.error).toBeNull();
    expectNoSecretsPersisted(flow, PASSWORD);
  });

  for (const mode of ["none", "optional"] as const) {
    s.it(`with preventEnumeration true and ${mode} verification, rejects with email_taken and emits nothing`, async () => {
      const { flow, snapshot } = await signup(
        settings({ preventEnumeration: true, emailVerification: mode }),
        fakes({ validateSignup: taken }),
      );
      expect(snapshot.value).toBe("rejected");
      expect(tagsOf(snapshot)).toEqual(["rejected"]);
      expect(snapshot.context.error).toEqual({ code: "email_taken", param: "email" });
      expect(flow.signalTypes()).toEqual([]);
      expect(flow.calls("createUser")).toEqual([]);
      expect(flow.calls("sendAccountExistsMail")).toEqual([]);
      expect(snapshot.context.password).toBeNull();
      expectNoSecretsPersisted(flow, PASSWORD);
    });
  }

  for (const mode of modes) {
    s.it(`with preventEnumeration false and ${mode} verification, rejects with email_taken and emits nothing`, async () => {
      const { flow, snapshot } = await signup(
        settings({ preventEnumeration: false, emailVerification: mode }),
        fakes({ validateSignup: taken }),
      );
      expect(snapshot.value).toBe("rejected");
      expect(tagsOf(snapshot)).toEqual(["rejected"]);
      expect(snapshot.context.error).toEqual({ code: "email_taken", param: "email" });
      expect(flow.signalTypes()).toEqual([]);
      expect(flow.calls("createUser")).toEqual([]);
      expect(flow.calls("sendAccountExistsMail")).toEqual([]);
    });
  }

  s.it("with preventEnumeration strict and no verification, creates the duplicate account and logs it in", async () => {
    const { flow, snapshot } = await signup(
      settings({ preventEnumeration: "strict", emailVerification: "none" }),
      fakes({ validateSignup: taken }),
    );
    expect(snapshot.value).toBe("loggedIn");
    expect(tagsOf(snapshot)).toEqual(["authenticated"]);
    expect(flow.signalTypes()).toEqual(["user_signed_up", "user_logged_in"]);
    expect(flow.calls("createUser")[0]?.email).toBe("alice@example.com");
    expect(flow.calls("sendAccountExistsMail")).toEqual([]);
  });

  s.it("with preventEnumeration strict and optional verification, creates the duplicate, mails a verification and logs in", async () => {
    const { flow, snapshot } = await signup(
      settings({ preventEnumeration: "strict", emailVerification: "optional" }),
      fakes({ validateSignup: taken }),
    );
    expect(snapshot.value).toBe("loggedIn");
    expect(flow.signalTypes()).toEqual(["user_signed_up", "email_confirmation_sent", "user_logged_in"]);
    expect(flow.signals[1]).toMatchObject({ signup: true });
    expect(flow.calls("sendAccountExistsMail")).toEqual([]);
  });
});

describe("signup losing a race for its email (createUser fails with email_taken)", () => {
  s.it("with preventEnumeration true and mandatory verification, hides it like a taken email: 'account exists' mail, no signal, pending", async () => {
    const { flow, snapshot } = await signup(
      settings({ preventEnumeration: true, emailVerification: "mandatory" }),
      fakes({ createUser: fail("email_taken", "email") }),
    );
    expect(snapshot.value).toBe("verificationPending");
    expect(snapshot.status).toBe("done");
    expect(tagsOf(snapshot)).toEqual(["pending:verify_email"]);
    expect(flow.signalTypes()).toEqual([]);
    expect(flow.timeline).toEqual(["actor:validateSignup", "actor:createUser", "actor:sendAccountExistsMail"]);
    const [mail] = flow.calls("sendAccountExistsMail");
    expect(mail?.email).toBe("alice@example.com");
    expect(mail?.password?.reveal()).toBe(PASSWORD);
    expect(flow.calls("sendVerificationEmail")).toEqual([]);
    expect(flow.calls("startSession")).toEqual([]);
    expect(snapshot.context.user).toBeNull();
    expect(snapshot.context.login).toBeNull();
    expect(snapshot.context.error).toBeNull();
    expect(snapshot.context.password).toBeNull();
    expectNoSecretsPersisted(flow, PASSWORD);
  });

  s.it("with preventEnumeration false, rejects with email_taken and sends nothing", async () => {
    const { flow, snapshot } = await signup(
      settings({ preventEnumeration: false, emailVerification: "mandatory" }),
      fakes({ createUser: fail("email_taken", "email") }),
    );
    expect(snapshot.value).toBe("rejected");
    expect(snapshot.context.error).toEqual({ code: "email_taken", param: "email" });
    expect(flow.signalTypes()).toEqual([]);
    expect(flow.calls("sendAccountExistsMail")).toEqual([]);
    expect(snapshot.context.password).toBeNull();
  });

  s.it("with optional verification, rejects with email_taken (only mandatory verification hides it)", async () => {
    const { flow, snapshot } = await signup(
      settings({ preventEnumeration: true, emailVerification: "optional" }),
      fakes({ createUser: fail("email_taken", "email") }),
    );
    expect(snapshot.value).toBe("rejected");
    expect(snapshot.context.error).toEqual({ code: "email_taken", param: "email" });
    expect(flow.signalTypes()).toEqual([]);
    expect(flow.calls("sendAccountExistsMail")).toEqual([]);
  });
});

describe("signup refused or broken", () => {
  s.it("while somebody is logged in, ends in conflict without validating or keeping the password", async () => {
    const { flow, snapshot } = await signup(settings(), fakes(), user({ id: "other" }));
    expect(snapshot.value).toBe("conflict");
    expect(snapshot.status).toBe("done");
    expect(tagsOf(snapshot)).toEqual(["conflict"]);
    expect(flow.signalTypes()).toEqual([]);
    expect(flow.calls("validateSignup")).toEqual([]);
    expect(snapshot.context.password).toBeNull();
    expectNoSecretsPersisted(flow, PASSWORD);
  });

  s.it("with invalid input, ends rejected with the validator's error and forgets the password", async () => {
    const { flow, snapshot } = await signup(settings(), fakes({ validateSignup: fail("password_too_short", "password") }));
    expect(snapshot.value).toBe("rejected");
    expect(tagsOf(snapshot)).toEqual(["rejected"]);
    expect(snapshot.context.error).toEqual({ code: "password_too_short", param: "password" });
    expect(flow.signalTypes()).toEqual([]);
    expect(flow.calls("createUser")).toEqual([]);
    expect(snapshot.context.password).toBeNull();
    expectNoSecretsPersisted(flow, PASSWORD);
  });

  s.it("when creating the user fails, ends rejected without user_signed_up", async () => {
    const { flow, snapshot } = await signup(settings(), fakes({ createUser: fail("username_taken", "username") }));
    expect(snapshot.value).toBe("rejected");
    expect(tagsOf(snapshot)).toEqual(["rejected"]);
    expect(snapshot.context.error).toEqual({ code: "username_taken", param: "username" });
    expect(flow.signalTypes()).toEqual([]);
    expect(flow.calls("startSession")).toEqual([]);
    expect(snapshot.context.password).toBeNull();
  });

  s.it("when the 'account exists' mail fails, ends failed and still emits nothing", async () => {
    const { flow, snapshot } = await signup(
      settings({ emailVerification: "mandatory" }),
      fakes({ validateSignup: taken, sendAccountExistsMail: fail("unexpected") }),
    );
    expect(snapshot.value).toBe("failed");
    expect(tagsOf(snapshot)).toEqual(["failed"]);
    expect(snapshot.context.error).toEqual({ code: "unexpected" });
    expect(flow.signalTypes()).toEqual([]);
    expectNoSecretsPersisted(flow, PASSWORD);
  });

  s.it("when the verification mail fails, ends failed after user_signed_up (the user stays created)", async () => {
    const { flow, snapshot } = await signup(
      settings({ emailVerification: "mandatory" }),
      fakes({ sendVerificationEmail: fail("rate_limited") }),
    );
    expect(snapshot.value).toBe("failed");
    expect(tagsOf(snapshot)).toEqual(["failed"]);
    expect(snapshot.context.error).toEqual({ code: "rate_limited" });
    expect(flow.signalTypes()).toEqual(["user_signed_up"]);
    expect(flow.calls("startSession")).toEqual([]);
  });

  s.it("when starting the session fails, ends failed after user_signed_up and without user_logged_in", async () => {
    const { flow, snapshot } = await signup(settings({ emailVerification: "none" }), fakes({ startSession: fail("unexpected") }));
    expect(snapshot.value).toBe("failed");
    expect(tagsOf(snapshot)).toEqual(["failed"]);
    expect(flow.signalTypes()).toEqual(["user_signed_up"]);
    expect(snapshot.context.sessionUser).toBeNull();
  });
});

describe("signup with actors that are not provided", () => {
  s.it("fails loudly with 'not provided: validateSignup' and ends rejected", async () => {
    const flow = await startFlow(signupMachine, { input: { settings: settings(), sessionUser: null } });
    const snapshot = await flow.send(submit());
    expect(snapshot.value).toBe("rejected");
    expect(snapshot.context.error).toEqual({ code: "unexpected" });
    expect(flow.actorErrors).toHaveLength(1);
    expect(String((flow.actorErrors[0] as Error).message)).toBe("not provided: validateSignup");
    expect(flow.signalTypes()).toEqual([]);
    expectNoSecretsPersisted(flow, PASSWORD);
  });

  s.it("fails loudly with 'not provided: startSession' and ends failed after user_signed_up", async () => {
    const { startSession: _omitted, ...rest } = fakes();
    const { flow, snapshot } = await signup(settings({ emailVerification: "none" }), rest);
    expect(snapshot.value).toBe("failed");
    expect(tagsOf(snapshot)).toEqual(["failed"]);
    expect((flow.actorErrors[0] as Error).message).toBe("not provided: startSession");
    expect(flow.signalTypes()).toEqual(["user_signed_up"]);
  });

  s.it("fails loudly with 'not provided: sendAccountExistsMail' and ends failed in the fake flow", async () => {
    const { sendAccountExistsMail: _omitted, ...rest } = fakes({ validateSignup: taken });
    const { flow, snapshot } = await signup(settings({ emailVerification: "mandatory" }), rest);
    expect(snapshot.value).toBe("failed");
    expect((flow.actorErrors[0] as Error).message).toBe("not provided: sendAccountExistsMail");
    expect(flow.signalTypes()).toEqual([]);
  });
});

describe("signup secrets", () => {
  s.it("never serialises the password, even while an actor holding it is in flight", async () => {
    const pending = deferred<ValidateSignupOutput>();
    const flow = await startFlow(signupMachine, {
      input: { settings: settings({ emailVerification: "none" }), sessionUser: null },
      fakes: fakes({ validateSignup: () => pending.promise }),
    });
    flow.actor.send(submit());
    await Promise.resolve();
    expect(flow.snapshot().value).toBe("validating");
    expect(flow.snapshot().context.password).toBeInstanceOf(Secret);
    const midFlight = flow.persisted();
    expect(midFlight).not.toContain(PASSWORD);
    expect(midFlight).toContain("<redacted>");
    pending.resolve({ email: "alice@example.com", username: "alice", emailTaken: false });
    const snapshot = await flow.settled();
    expect(snapshot.value).toBe("loggedIn");
    expectNoSecretsPersisted(flow, PASSWORD);
    expect(JSON.stringify(flow.signals)).not.toContain(PASSWORD);
  });
});

s.itCoversEveryStateAndTransition(signupMachine);
