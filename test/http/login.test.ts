/**
 * `POST auth/login` end to end: password login by email and by username, the email
 * verification stage (SIGNALS.md §2, §4), inactive users, conflicts, session rotation and the
 * `login` / `login_failed` rate limits.
 */
import { TestContext } from "effect";
import { afterEach, describe, expect, test } from "vitest";
import type { AuthConfig } from "../../src/config.ts";
import { codeFromMail, harness } from "../support/harness.ts";
import type { Client, Harness } from "../support/harness.ts";
import {
  advance,
  emailRows,
  expectAuthenticated,
  expectCodeMail,
  expectErrors,
  expectLinkMail,
  expectNotAuthenticated,
  expectPendingVerification,
  expectStatus,
  fastHasher,
  login,
  raw,
  signup,
  take,
  userRows,
} from "./support.ts";

let h: Harness;

/** Every login harness runs on the TestClock so cooldowns and windows can be crossed. */
async function open(config: Partial<AuthConfig> = {}): Promise<Harness> {
  h = await harness(config, { layer: TestContext.TestContext });
  return h;
}

afterEach(async () => {
  await h?.close();
});

/**
 * Signs a user up through the API from a throwaway app client, optionally marks the address
 * verified, and forgets what that emitted and mailed. Returns the user's id.
 */
async function existingUser(fields: { email?: string; username?: string }, verified: boolean): Promise<string> {
  const res = await signup(h.app(), fields);
  expect([200, 401]).toContain(res.status);
  const [row] = await h.query<{ id: string }>(
    "SELECT id FROM auth_user WHERE email = ? OR username = ?",
    fields.email?.toLowerCase() ?? "",
    fields.username ?? "",
  );
  if (verified) {
    await h.query("UPDATE auth_email_address SET verified = 1 WHERE user_id = ?", row!.id);
  }
  h.takeSignals();
  h.takeMails();
  return row!.id;
}

describe("login by email (loginMethods ['email'])", () => {
  const config = { account: { loginMethods: ["email"], emailVerification: "mandatory" } } as const;

  test("a verified user gets user_logged_in only, with request.user set, and a 200 authenticated by password", async () => {
    await open(config);
    const id = await existingUser({ email: "alice@example.com" }, true);
    const browser = h.browser();

    const res = await login(browser, { email: "Alice@Example.com" });

    const signals = take(h);
    expect(signals.names).toEqual(["user_logged_in"]);
    const loggedIn = signals.one("user_logged_in");
    expect(loggedIn.user).toMatchObject({ id, email: "alice@example.com", isActive: true });
    expect(loggedIn.request.user?.id).toBe(id);
    expect(loggedIn.response?.status).toBe(200);
    expectAuthenticated(res, { id, email: "alice@example.com" }, "browser");
    expect(res.body.data.methods).toEqual([{ method: "password", at: expect.any(Number), email: "alice@example.com" }]);
    expect(h.mails).toEqual([]);
    const [user] = await userRows(h);
    expect(user!.last_login).not.toBeNull();
    expectAuthenticated(await browser.request("GET", "auth/session"), { id }, "browser");
  });

  test("a wrong password and an unknown account get the same 400 email_password_mismatch and no signal", async () => {
    await open(config);
    await existingUser({ email: "alice@example.com" }, true);

    const wrong = await login(h.browser(), { email: "alice@example.com", password: "not the right password at all" });
    const unknown = await login(h.browser(), { email: "nobody@example.com" });

    expect(take(h).names).toEqual([]);
    expectErrors(wrong, [{ param: "password", code: "email_password_mismatch" }]);
    expect(wrong.body.errors[0].message).toBe("The email address and/or password you specified are not correct.");
    expect(unknown.status).toBe(wrong.status);
    expect(unknown.body).toEqual(wrong.body);
    expect(h.mails).toEqual([]);
    expect(await h.count("auth_session")).toBe(1); // only the signup client's pending session
  });

  test("an unverified user gets email_confirmation_sent(signup false) and a mail, and a repeat inside the cooldown gets neither", async () => {
    await open(config);
    const id = await existingUser({ email: "bob@example.com" }, false);
    await advance(h, "181 seconds"); // past the cooldown of the signup's own mail

    const browser = h.browser();
    const first = await login(browser, { email: "bob@example.com" });

    const signals = take(h);
    expect(signals.names).toEqual(["email_confirmation_sent"]);
    const sent = signals.one("email_confirmation_sent");
    expect(sent.signup).toBe(false);
    expect(sent.request.user).toBeNull();
    expect(sent.confirmation).toMatchObject({ kind: "link", emailAddress: { email: "bob@example.com", userId: id, verified: false } });
    expectPendingVerification(first);
    const mails = h.takeMails();
    expect(mails).toHaveLength(1);
    expectLinkMail(mails[0], "bob@example.com");
    expect((await userRows(h))[0]!.last_login).toBeNull();

    // Again within 180 s, from another client: still pending, but no signal and no mail.
    await advance(h, "100 seconds");
    const again = await login(h.app(), { email: "bob@example.com" });
    expectPendingVerification(again);
    expect(take(h).names).toEqual([]);
    expect(h.takeMails()).toEqual([]);

    // Past the cooldown: a mail and the signal again.
    await advance(h, "81 seconds");
    const later = await login(browser, { email: "bob@example.com" });
    expectPendingVerification(later);
    const laterSignals = take(h);
    expect(laterSignals.names).toEqual(["email_confirmation_sent"]);
    expect(laterSignals.one("email_confirmation_sent").signup).toBe(false);
    const laterMails = h.takeMails();
    expect(laterMails).toHaveLength(1);
    expectLinkMail(laterMails[0], "bob@example.com");
    expect(await emailRows(h)).toEqual([{ user_id: id, email: "bob@example.com", verified: 0, is_primary: 1 }]);
  });
});

describe("login with mandatory verification by code", () => {
  const config = {
    account: { loginMethods: ["email"], emailVerification: "mandatory", emailVerificationByCodeEnabled: true },
  } as const;

  test("a user who never logged in gets email_confirmation_sent with signup true (code mode: 'never logged in'), and the code logs in", async () => {
    await open(config);
    const id = await existingUser({ email: "olga@example.com" }, false);
    await advance(h, "181 seconds");
    const app = h.app();

    const res = await login(app, { email: "olga@example.com" });

    const signals = take(h);
    expect(signals.names).toEqual(["email_confirmation_sent"]);
    // SIGNALS.md §3.8: in code mode `signup` is recomputed as "last_login is null".
    expect(signals.one("email_confirmation_sent").signup).toBe(true);
    expect(signals.one("email_confirmation_sent").confirmation).toMatchObject({ kind: "code", emailAddress: { userId: id } });
    expectPendingVerification(res);
    const mails = h.takeMails();
    expect(mails).toHaveLength(1);
    expectCodeMail(mails[0], "olga@example.com");
    const code = codeFromMail(mails[0]!);

    const verified = await app.request("POST", "auth/email/verify", { key: code });
    expect(take(h).names).toEqual(["email_confirmed", "user_logged_in"]);
    expectAuthenticated(verified, { id }, "app");
  });

  test("a user who has logged in before gets email_confirmation_sent with signup false", async () => {
    await open(config);
    const id = await existingUser({ email: "pia@example.com" }, false);
    await h.query("UPDATE auth_user SET last_login = 1 WHERE id = ?", id);
    await advance(h, "181 seconds");

    const res = await login(h.browser(), { email: "pia@example.com" });

    const signals = take(h);
    expect(signals.names).toEqual(["email_confirmation_sent"]);
    expect(signals.one("email_confirmation_sent").signup).toBe(false);
    expectPendingVerification(res);
    expect(h.mails).toHaveLength(1);
  });
});

describe("login by username (loginMethods ['username'])", () => {
  test("a user with a verified address gets user_logged_in only", async () => {
    await open({ account: { emailVerification: "mandatory" } });
    const id = await existingUser({ username: "carol", email: "carol@example.com" }, true);
    const app = h.app();

    const res = await login(app, { username: "Carol" });

    const signals = take(h);
    expect(signals.names).toEqual(["user_logged_in"]);
    expect(signals.one("user_logged_in").user.id).toBe(id);
    expect(signals.one("user_logged_in").request.user?.id).toBe(id);
    expectAuthenticated(res, { id, username: "carol" }, "app");
    // allauth records the username as sent.
    expect(res.body.data.methods).toEqual([{ method: "password", at: expect.any(Number), username: "Carol" }]);
    expect(h.mails).toEqual([]);
  });

  test("a wrong password and an unknown username get the same 400 username_password_mismatch", async () => {
    await open({ account: { emailVerification: "none" } });
    await existingUser({ username: "carol" }, false);

    const wrong = await login(h.app(), { username: "carol", password: "definitely the wrong password" });
    const unknown = await login(h.app(), { username: "nobody" });

    expect(take(h).names).toEqual([]);
    expectErrors(wrong, [{ param: "password", code: "username_password_mismatch" }]);
    expect(unknown.body).toEqual(wrong.body);
    expect(await h.count("auth_session")).toBe(1);
  });

  test("with mandatory verification a user without a verified address is mailed at the primary address", async () => {
    await open({ account: { emailVerification: "mandatory" } });
    const id = await existingUser({ username: "dora", email: "dora@example.com" }, false);
    await advance(h, "181 seconds");

    const res = await login(h.app(), { username: "dora" });

    const signals = take(h);
    expect(signals.names).toEqual(["email_confirmation_sent"]);
    expect(signals.one("email_confirmation_sent").signup).toBe(false);
    expect(signals.one("email_confirmation_sent").confirmation.emailAddress).toMatchObject({ userId: id, email: "dora@example.com" });
    expectPendingVerification(res);
    expect(h.mails).toHaveLength(1);
    expectLinkMail(h.mails[0], "dora@example.com");
  });
});

describe("login with loginMethods ['email', 'username']", () => {
  const config = { account: { loginMethods: ["email", "username"], emailVerification: "mandatory" } } as const;

  test("the same verified user logs in by email and by username, each time with user_logged_in only", async () => {
    await open(config);
    const id = await existingUser({ username: "erin", email: "erin@example.com" }, true);

    const byEmail = await login(h.browser(), { email: "erin@example.com" });
    const emailSignals = take(h);
    expect(emailSignals.names).toEqual(["user_logged_in"]);
    expect(emailSignals.one("user_logged_in").user.id).toBe(id);
    expectAuthenticated(byEmail, { id }, "browser");

    const byUsername = await login(h.app(), { username: "erin" });
    const usernameSignals = take(h);
    expect(usernameSignals.names).toEqual(["user_logged_in"]);
    expect(usernameSignals.one("user_logged_in").user.id).toBe(id);
    expectAuthenticated(byUsername, { id }, "app");
    expect(h.mails).toEqual([]);
  });

  test("the mismatch code follows the field used", async () => {
    await open(config);
    await existingUser({ username: "erin", email: "erin@example.com" }, true);
    const byEmail = await login(h.app(), { email: "erin@example.com", password: "the wrong password, clearly" });
    const byUsername = await login(h.app(), { username: "erin", password: "the wrong password, clearly" });
    expectErrors(byEmail, [{ param: "password", code: "email_password_mismatch" }]);
    expectErrors(byUsername, [{ param: "password", code: "username_password_mismatch" }]);
    expect(take(h).names).toEqual([]);
  });
});

describe("login with emailVerification optional", () => {
  test("an unverified user gets user_logged_in and no mail", async () => {
    await open({ account: { loginMethods: ["email"], emailVerification: "optional" } });
    const id = await existingUser({ email: "fay@example.com" }, false);
    await advance(h, "181 seconds");

    const res = await login(h.browser(), { email: "fay@example.com" });

    const signals = take(h);
    expect(signals.names).toEqual(["user_logged_in"]);
    expect(signals.one("user_logged_in").user.id).toBe(id);
    expectAuthenticated(res, { id }, "browser");
    expect(h.mails).toEqual([]);
    expect(await emailRows(h)).toEqual([{ user_id: id, email: "fay@example.com", verified: 0, is_primary: 1 }]);
  });
});

describe("login of an inactive user", () => {
  test("with the right password emits nothing and answers 401 without a pending flow", async () => {
    await open({ account: { loginMethods: ["email"], emailVerification: "mandatory" } });
    await existingUser({ email: "gus@example.com" }, true);
    await h.query("UPDATE auth_user SET is_active = 0");
    const browser = h.browser();

    const res = await login(browser, { email: "gus@example.com" });

    expect(take(h).names).toEqual([]);
    expectNotAuthenticated(res);
    expect(h.mails).toEqual([]);
    expect((await userRows(h))[0]!.last_login).toBeNull();
    expectNotAuthenticated(await browser.request("GET", "auth/session"));
  });

  test("an unverified inactive user under mandatory verification gets no verification mail", async () => {
    await open({ account: { loginMethods: ["email"], emailVerification: "mandatory" } });
    await existingUser({ email: "gus@example.com" }, false);
    await h.query("UPDATE auth_user SET is_active = 0");
    await advance(h, "181 seconds");

    const res = await login(h.app(), { email: "gus@example.com" });

    expect(take(h).names).toEqual([]);
    expectNotAuthenticated(res);
    expect(h.mails).toEqual([]);
  });
});

describe("login while logged in", () => {
  test("answers 409, emits nothing and keeps the session", async () => {
    await open({ account: { loginMethods: ["email"], emailVerification: "none" } });
    const id = await existingUser({ email: "hal@example.com" }, true);
    const browser = h.browser();
    expect((await login(browser, { email: "hal@example.com" })).status).toBe(200);
    h.takeSignals();
    const cookie = browser.cookies.get("sessionid");

    const res = await login(browser, { email: "hal@example.com" });

    expectStatus(res, 409);
    expect(take(h).names).toEqual([]);
    expect(browser.cookies.get("sessionid")).toBe(cookie);
    expectAuthenticated(await browser.request("GET", "auth/session"), { id }, "browser");
  });
});

describe("session rotation at login", () => {
  const config = { account: { loginMethods: ["email"], emailVerification: "mandatory" } } as const;

  async function pendingThenVerified(client: Client): Promise<void> {
    await existingUser({ email: "ivy@example.com" }, false);
    await advance(h, "181 seconds");
    expectPendingVerification(await login(client, { email: "ivy@example.com" }));
    await h.query("UPDATE auth_email_address SET verified = 1");
    h.takeSignals();
    h.takeMails();
  }

  test("a browser's sessionid cookie changes at login and the old one no longer names a session (SE-03)", async () => {
    await open(config);
    const browser = h.browser();
    await pendingThenVerified(browser);
    const before = browser.cookies.get("sessionid");
    expect(before).toEqual(expect.any(String));

    const res = await login(browser, { email: "ivy@example.com" });

    expect(take(h).names).toEqual(["user_logged_in"]);
    expectAuthenticated(res, {}, "browser");
    const after = browser.cookies.get("sessionid");
    expect(after).toEqual(expect.any(String));
    expect(after).not.toBe(before);
    const stale = await raw(h, "GET", "browser/v1/auth/session", { headers: { cookie: `sessionid=${before}` } });
    expectNotAuthenticated(stale);
    expect(await h.count("auth_session")).toBe(2); // the signup client's pending one, and the new one
  });

  test("an app's meta.session_token changes at login and the old token is gone (410) (SE-03)", async () => {
    await open(config);
    const app = h.app();
    await pendingThenVerified(app);
    const before = app.token;
    expect(before).toEqual(expect.any(String));

    const res = await login(app, { email: "ivy@example.com" });

    expect(take(h).names).toEqual(["user_logged_in"]);
    expectAuthenticated(res, {}, "app");
    expect(res.body.meta.session_token).not.toBe(before);
    const stale = await raw(h, "GET", "app/v1/auth/session", { headers: { "x-session-token": before! } });
    expect(stale.status).toBe(410);
    expectAuthenticated(await app.request("GET", "auth/session"), {}, "app-session");
  });
});

describe("login_failed rate limit (10/m/ip, 5/300s/key)", () => {
  test("the 6th attempt for one email within 300 s answers too_many_login_attempts even with the right password", async () => {
    await open({ account: { loginMethods: ["email"], emailVerification: "mandatory" } });
    const id = await existingUser({ email: "jay@example.com" }, true);
    const attacker = h.app();
    for (let i = 0; i < 5; i++) {
      const res = await login(attacker, { email: "jay@example.com", password: `wrong password number ${i}` });
      expectErrors(res, [{ param: "password", code: "email_password_mismatch" }]);
    }
    expect(take(h).names).toEqual([]);

    // From another address, with the right password: still throttled, per key.
    const owner = h.browser();
    const res = await login(owner, { email: "JAY@example.com" });

    expect(res.status).toBe(400);
    expect(res.body.errors).toEqual([expect.objectContaining({ code: "too_many_login_attempts", message: expect.any(String) })]);
    expect(take(h).names).toEqual([]);
    expect(h.mails).toEqual([]);
    expectNotAuthenticated(await owner.request("GET", "auth/session"));

    // Another account is not affected.
    await existingUser({ email: "kay@example.com" }, true);
    expect((await login(h.app(), { email: "kay@example.com" })).status).toBe(200);
    h.takeSignals();

    // Once the window has passed, the right password works.
    await advance(h, "301 seconds");
    const later = await login(owner, { email: "jay@example.com" });
    expect(take(h).names).toEqual(["user_logged_in"]);
    expectAuthenticated(later, { id }, "browser");
  });

  test("the 11th failure from one IP within a minute is throttled whatever the account", async () => {
    await open({ account: { loginMethods: ["email"], emailVerification: "none" }, passwordHasher: fastHasher });
    await existingUser({ email: "lou@example.com" }, true);
    const app = h.app();
    for (let i = 0; i < 10; i++) {
      const res = await login(app, { email: `nobody${i}@example.com` });
      expectErrors(res, [{ param: "password", code: "email_password_mismatch" }]);
    }

    const res = await login(app, { email: "lou@example.com" });

    expect(res.status).toBe(400);
    expect(res.body.errors).toEqual([expect.objectContaining({ code: "too_many_login_attempts" })]);
    expect(take(h).names).toEqual([]);
    expect((await login(h.app(), { email: "lou@example.com" })).status).toBe(200);
    expect(take(h).names).toEqual(["user_logged_in"]);
  });
});

describe("login rate limit (30/m/ip)", () => {
  test("the 31st login from one IP within a minute answers 429 and emits nothing", async () => {
    await open({ account: { loginMethods: ["email"], emailVerification: "none" }, passwordHasher: fastHasher });
    const id = await existingUser({ email: "max@example.com" }, true);
    const app = h.app();
    for (let i = 0; i < 30; i++) {
      app.token = null;
      const res = await login(app, { email: "max@example.com" });
      expect(res.status, `login ${i + 1}`).toBe(200);
    }
    expect(take(h).names).toEqual(Array.from({ length: 30 }, () => "user_logged_in"));

    app.token = null;
    const res = await login(app, { email: "max@example.com" });

    expectStatus(res, 429);
    expect(take(h).names).toEqual([]);

    // Another address still logs in; this one again after the minute.
    expect((await login(h.app(), { email: "max@example.com" })).status).toBe(200);
    expect(take(h).names).toEqual(["user_logged_in"]);
    await advance(h, "61 seconds");
    app.token = null;
    const later = await login(app, { email: "max@example.com" });
    expectAuthenticated(later, { id }, "app");
    expect(take(h).names).toEqual(["user_logged_in"]);
  });

  test("a browser login without X-CSRFToken answers 403, emits nothing and counts nothing", async () => {
    await open({ account: { loginMethods: ["email"], emailVerification: "none" } });
    await existingUser({ email: "ned@example.com" }, true);
    const sessions = await h.count("auth_session");
    const limits = await h.count("auth_rate_limit");

    const res = await raw(h, "POST", "browser/v1/auth/login", {
      body: { email: "ned@example.com", password: "whatever it is, it is long" },
      headers: { cookie: "csrftoken=abcdefghijklmnopqrstuvwxyz012345" },
    });

    expectStatus(res, 403);
    expect(take(h).names).toEqual([]);
    expect(await h.count("auth_session")).toBe(sessions);
    expect(await h.count("auth_rate_limit")).toBe(limits);
  });
});
