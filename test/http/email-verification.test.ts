/**
 * `GET|POST auth/email/verify` and `POST auth/email/verify/resend` end to end, after a
 * mandatory signup: link mode with and without `loginOnEmailConfirmation`, from the same and
 * from another session; code mode (attempts, expiry, resend); and `changeEmail`
 * (SIGNALS.md §3.7, §3.8, §4).
 */
import { TestContext } from "effect";
import { afterEach, describe, expect, test } from "vitest";
import type { AuthConfig } from "../../src/config.ts";
import { codeFromMail, harness, keyFromMail } from "../support/harness.ts";
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
  login,
  signup,
  take,
} from "./support.ts";

let h: Harness;

async function open(config: Partial<AuthConfig> = {}): Promise<Harness> {
  h = await harness(config, { layer: TestContext.TestContext });
  return h;
}

afterEach(async () => {
  await h?.close();
});

/** A mandatory signup from `client`; returns the new user's id and the mailed key or code. */
async function pendingSignup(client: Client, email = "alice@example.com", username = "alice") {
  const res = await signup(client, { email, username });
  expectPendingVerification(res);
  const signals = take(h);
  expect(signals.names).toEqual(["user_signed_up", "email_confirmation_sent"]);
  expect(signals.one("email_confirmation_sent").signup).toBe(true);
  const mails = h.takeMails();
  expect(mails).toHaveLength(1);
  return { userId: signals.one("user_signed_up").user.id, mail: mails[0]!, sent: signals.one("email_confirmation_sent") };
}

function verify(client: Client, key: string) {
  return client.request("POST", "auth/email/verify", { key });
}

describe("link mode, confirmed in the signup's own session", () => {
  test("with loginOnEmailConfirmation true it emits email_confirmed then user_logged_in and answers 200", async () => {
    await open({ account: { emailVerification: "mandatory", loginOnEmailConfirmation: true } });
    const browser = h.browser();
    const { userId, mail } = await pendingSignup(browser);
    expectLinkMail(mail, "alice@example.com");
    const key = keyFromMail(mail);
    const pendingCookie = browser.cookies.get("sessionid");

    const info = await browser.request("GET", "auth/email/verify", undefined, { "x-email-verification-key": key });
    expect(info.status).toBe(200);
    expect(info.body).toEqual({
      status: 200,
      data: { email: "alice@example.com", user: expect.objectContaining({ id: userId, username: "alice" }) },
      meta: { is_authenticating: true },
    });
    expect(take(h).names).toEqual([]);

    const res = await verify(browser, key);

    const signals = take(h);
    expect(signals.names).toEqual(["email_confirmed", "user_logged_in"]);
    const confirmed = signals.one("email_confirmed");
    expect(confirmed.emailAddress).toMatchObject({ email: "alice@example.com", userId, verified: true, primary: true });
    expect(confirmed).not.toHaveProperty("user");
    expect(confirmed.request.user).toBeNull();
    const loggedIn = signals.one("user_logged_in");
    expect(loggedIn.user.id).toBe(userId);
    expect(loggedIn.request.user?.id).toBe(userId);
    expectAuthenticated(res, { id: userId, email: "alice@example.com", username: "alice" }, "browser");
    expect(browser.cookies.get("sessionid")).not.toBe(pendingCookie);
    expect(h.mails).toEqual([]);
    expect(await emailRows(h)).toEqual([{ user_id: userId, email: "alice@example.com", verified: 1, is_primary: 1 }]);

    // The key is single use.
    const again = await verify(h.browser(), key);
    expectErrors(again, [{ param: "key", code: "invalid_or_expired_key" }]);
    expect(take(h).names).toEqual([]);
  });

  test("with loginOnEmailConfirmation false it emits email_confirmed only and answers 401 with nothing pending", async () => {
    await open({ account: { emailVerification: "mandatory", loginOnEmailConfirmation: false } });
    const app = h.app();
    const { userId, mail } = await pendingSignup(app);

    const res = await verify(app, keyFromMail(mail));

    const signals = take(h);
    expect(signals.names).toEqual(["email_confirmed"]);
    expect(signals.one("email_confirmed").emailAddress).toMatchObject({ email: "alice@example.com", verified: true });
    expectNotAuthenticated(res);
    expectNotAuthenticated(await app.request("GET", "auth/session"));
    expect(await emailRows(h)).toEqual([{ user_id: userId, email: "alice@example.com", verified: 1, is_primary: 1 }]);
    expect(h.mails).toEqual([]);

    // The now verified user logs in with the password: user_logged_in only.
    const loggedIn = await login(app, { username: "alice" });
    expectAuthenticated(loggedIn, { id: userId }, "app");
    expect(take(h).names).toEqual(["user_logged_in"]);
  });
});

describe("link mode, confirmed from another session", () => {
  test("another client emits email_confirmed only and stays unauthenticated even with loginOnEmailConfirmation", async () => {
    await open({ account: { emailVerification: "mandatory", loginOnEmailConfirmation: true } });
    const { userId, mail } = await pendingSignup(h.browser());
    const key = keyFromMail(mail);
    const other = h.app();

    const info = await other.request("GET", "auth/email/verify", undefined, { "x-email-verification-key": key });
    expect(info.body.meta).toEqual({ is_authenticating: false });

    const res = await verify(other, key);

    const signals = take(h);
    expect(signals.names).toEqual(["email_confirmed"]);
    expect(signals.one("email_confirmed").emailAddress.userId).toBe(userId);
    expect(signals.one("email_confirmed").request.user).toBeNull();
    expectNotAuthenticated(res);
    expect(await emailRows(h)).toEqual([{ user_id: userId, email: "alice@example.com", verified: 1, is_primary: 1 }]);
  });

  test("a logged-in other user confirming the key emits email_confirmed only and stays logged in as themselves", async () => {
    await open({ account: { emailVerification: "mandatory", loginOnEmailConfirmation: true } });
    const { userId, mail } = await pendingSignup(h.browser());
    // Another user, verified and logged in.
    const bobClient = h.browser();
    await signup(h.app(), { email: "bob@example.com", username: "bob" });
    await h.query("UPDATE auth_email_address SET verified = 1 WHERE email = 'bob@example.com'");
    await login(bobClient, { username: "bob" });
    h.takeSignals();
    h.takeMails();

    const res = await verify(bobClient, keyFromMail(mail));

    const signals = take(h);
    expect(signals.names).toEqual(["email_confirmed"]);
    expect(signals.one("email_confirmed").emailAddress.userId).toBe(userId);
    expect(signals.one("email_confirmed").request.user?.username).toBe("bob");
    expectAuthenticated(res, { username: "bob" }, "browser");
  });
});

describe("link mode, bad keys", () => {
  test("an unknown key answers 400 invalid key and emits nothing", async () => {
    await open({ account: { emailVerification: "mandatory" } });
    const browser = h.browser();
    await pendingSignup(browser);

    const res = await verify(browser, "not-a-real-key");

    expectErrors(res, [{ param: "key", code: "invalid_or_expired_key" }]);
    expect(res.body.errors[0].message).toBe("Invalid or expired key.");
    expect(take(h).names).toEqual([]);
    expectPendingVerification(await browser.request("GET", "auth/session"));
    expect((await emailRows(h))[0]!.verified).toBe(0);
  });

  test("a key older than emailConfirmationExpireDays (3) is refused", async () => {
    await open({ account: { emailVerification: "mandatory" } });
    const { mail } = await pendingSignup(h.browser());
    await advance(h, `${3 * 86400 + 1} seconds`);

    const res = await verify(h.app(), keyFromMail(mail));

    expectErrors(res, [{ param: "key", code: "invalid_or_expired_key" }]);
    expect(take(h).names).toEqual([]);
    expect((await emailRows(h))[0]!.verified).toBe(0);
  });
});

describe("changeEmail with a signup", () => {
  test("confirming emits email_confirmed, email_changed with fromEmailAddress null, then user_logged_in", async () => {
    await open({ account: { emailVerification: "mandatory", changeEmail: true, loginOnEmailConfirmation: true } });
    const browser = h.browser();
    const { userId, mail } = await pendingSignup(browser);

    const res = await verify(browser, keyFromMail(mail));

    const signals = take(h);
    expect(signals.names).toEqual(["email_confirmed", "email_changed", "user_logged_in"]);
    const changed = signals.one("email_changed");
    expect(changed.fromEmailAddress).toBeNull();
    expect(changed.toEmailAddress).toMatchObject({ email: "alice@example.com", userId, verified: true, primary: true });
    expect(changed.user.id).toBe(userId);
    expect(changed.request.user).toBeNull();
    expect(signals.one("user_logged_in").request.user?.id).toBe(userId);
    expectAuthenticated(res, { id: userId, email: "alice@example.com" }, "browser");
    expect(h.mails).toEqual([]);
    expect(await emailRows(h)).toEqual([{ user_id: userId, email: "alice@example.com", verified: 1, is_primary: 1 }]);
  });
});

describe("code mode (emailVerificationByCodeEnabled)", () => {
  const code = { emailVerification: "mandatory", emailVerificationByCodeEnabled: true } as const;

  test("the signup mails a code on its own line and the code logs in even with loginOnEmailConfirmation false", async () => {
    await open({ account: { ...code, loginOnEmailConfirmation: false } });
    const app = h.app();
    const { userId, mail, sent } = await pendingSignup(app);
    expectCodeMail(mail, "alice@example.com");
    expect(sent.confirmation.kind).toBe("code");
    expect(sent.confirmation.emailAddress).toMatchObject({ email: "alice@example.com", verified: false });
    const theCode = codeFromMail(mail);
    expect(theCode).toMatch(/^[A-Z]{4}-[A-Z]{4}$/);
    expect(JSON.stringify(sent)).not.toContain(theCode);

    const withoutCode = await app.request("GET", "auth/email/verify");
    expect(withoutCode.status).toBe(400);
    // A missing code is a wrong one (counted): allauth answers `required`.
    expect(withoutCode.body.errors[0]).toMatchObject({ code: "required", param: "key" });
    const info = await app.request("GET", "auth/email/verify", undefined, { "x-email-verification-key": theCode });
    expect(info.body).toEqual({
      status: 200,
      data: { email: "alice@example.com", user: expect.objectContaining({ id: userId }) },
      meta: { is_authenticating: true },
    });

    const res = await verify(app, theCode);

    const signals = take(h);
    expect(signals.names).toEqual(["email_confirmed", "user_logged_in"]);
    expect(signals.one("email_confirmed").emailAddress).toMatchObject({ email: "alice@example.com", verified: true, primary: true });
    expect(signals.one("email_confirmed").request.user).toBeNull();
    expect(signals.one("user_logged_in").request.user?.id).toBe(userId);
    expectAuthenticated(res, { id: userId, email: "alice@example.com" }, "app");
    expect(await emailRows(h)).toEqual([{ user_id: userId, email: "alice@example.com", verified: 1, is_primary: 1 }]);
    expect(h.mails).toEqual([]);
  });

  test("a code typed in lower case without the dash is accepted", async () => {
    await open({ account: code });
    const browser = h.browser();
    const { mail } = await pendingSignup(browser);

    const res = await verify(browser, codeFromMail(mail).replace("-", " ").toLowerCase());

    expect(take(h).names).toEqual(["email_confirmed", "user_logged_in"]);
    expectAuthenticated(res, { username: "alice" }, "browser");
  });

  test("a wrong code answers 400 incorrect_code, emits nothing and leaves the flow pending", async () => {
    await open({ account: code });
    const app = h.app();
    const { mail } = await pendingSignup(app);

    const res = await verify(app, "BBBB-BBBB");

    expectErrors(res, [{ param: "key", code: "incorrect_code" }]);
    expect(res.body.errors[0].message).toBe("Incorrect code.");
    expect(take(h).names).toEqual([]);
    expectPendingVerification(await app.request("GET", "auth/session"));
    expect((await emailRows(h))[0]!.verified).toBe(0);

    const right = await verify(app, codeFromMail(mail));
    expect(take(h).names).toEqual(["email_confirmed", "user_logged_in"]);
    expect(right.status).toBe(200);
  });

  test("three wrong codes end the flow: the right code then answers 409 and nothing is verified", async () => {
    await open({ account: code });
    const browser = h.browser();
    const { mail } = await pendingSignup(browser);

    for (let i = 0; i < 2; i++) {
      expectErrors(await verify(browser, "BBBB-BBBB"), [{ param: "key", code: "incorrect_code" }]);
      expectPendingVerification(await browser.request("GET", "auth/session"));
    }
    const third = await verify(browser, "CCCC-CCCC");
    expect(third.status).toBe(400);
    expect(third.body.errors).toEqual([expect.objectContaining({ param: "key", code: "incorrect_code" })]);
    expectNotAuthenticated(await browser.request("GET", "auth/session"));

    const late = await verify(browser, codeFromMail(mail));

    expectStatus(late, 409);
    expect(take(h).names).toEqual([]);
    expect(h.mails).toEqual([]);
    expect((await emailRows(h))[0]!.verified).toBe(0);
    expect(await h.count("auth_flow")).toBe(0);
  });

  test("a code still works just before 15 minutes", async () => {
    await open({ account: code });
    const app = h.app();
    const { mail } = await pendingSignup(app);
    await advance(h, "899 seconds");

    const res = await verify(app, codeFromMail(mail));

    expect(take(h).names).toEqual(["email_confirmed", "user_logged_in"]);
    expect(res.status).toBe(200);
  });

  test("after 15 minutes the code is refused: 409, nothing pending, nothing verified", async () => {
    await open({ account: code });
    const app = h.app();
    const { mail } = await pendingSignup(app);
    await advance(h, "901 seconds");

    const res = await verify(app, codeFromMail(mail));

    expectStatus(res, 409);
    expect(take(h).names).toEqual([]);
    expectNotAuthenticated(await app.request("GET", "auth/session"));
    expect((await emailRows(h))[0]!.verified).toBe(0);
  });

  test("a client without the pending flow gets 409 for the right code", async () => {
    await open({ account: code });
    const { mail } = await pendingSignup(h.browser());

    const res = await verify(h.app(), codeFromMail(mail));

    expectStatus(res, 409);
    expect(take(h).names).toEqual([]);
    expect((await emailRows(h))[0]!.verified).toBe(0);
  });

  test("with resend supported a resend mails a new code, emits email_confirmation_sent again, and the old code is refused", async () => {
    await open({ account: { ...code, emailVerificationSupportsResend: true } });
    const app = h.app();
    const { userId, mail } = await pendingSignup(app);
    const oldCode = codeFromMail(mail);
    // The signup's code mail took the address's `confirm_email` allowance (1/10s).
    expect((await app.request("POST", "auth/email/verify/resend")).status).toBe(429);
    expect(h.takeMails()).toEqual([]);
    await advance(h, "11 seconds");

    const res = await app.request("POST", "auth/email/verify/resend");

    expect(res.status).toBe(200);
    expect(res.body.status).toBe(200);
    const signals = take(h);
    expect(signals.names).toEqual(["email_confirmation_sent"]);
    expect(signals.one("email_confirmation_sent").signup).toBe(true);
    expect(signals.one("email_confirmation_sent").confirmation).toMatchObject({
      kind: "code",
      emailAddress: { email: "alice@example.com", userId },
    });
    const mails = h.takeMails();
    expect(mails).toHaveLength(1);
    expectCodeMail(mails[0], "alice@example.com");
    const newCode = codeFromMail(mails[0]!);
    expect(newCode).not.toBe(oldCode);

    // A second resend inside the 10 s cooldown is refused.
    const tooSoon = await app.request("POST", "auth/email/verify/resend");
    expect(tooSoon.status).toBe(429);
    expect(take(h).names).toEqual([]);
    expect(h.mails).toEqual([]);

    expectErrors(await verify(app, oldCode), [{ param: "key", code: "incorrect_code" }]);
    expect(take(h).names).toEqual([]);

    const ok = await verify(app, newCode);
    expect(take(h).names).toEqual(["email_confirmed", "user_logged_in"]);
    expectAuthenticated(ok, { id: userId }, "app");
  });

  test("without resend support a resend answers 409 and sends nothing", async () => {
    await open({ account: code });
    const browser = h.browser();
    await pendingSignup(browser);

    const res = await browser.request("POST", "auth/email/verify/resend");

    expectStatus(res, 409);
    expect(take(h).names).toEqual([]);
    expect(h.mails).toEqual([]);
    expectPendingVerification(await browser.request("GET", "auth/session"));
  });

  test("an enumeration-prevention fake signup looks pending, mails no code, and refuses every code", async () => {
    await open({ account: code });
    await pendingSignup(h.browser(), "owner@example.com", "owner");
    await advance(h, "181 seconds"); // past the owner's confirm_email cooldown
    const app = h.app();

    const res = await signup(app, { email: "owner@example.com", username: "intruder" });

    expectPendingVerification(res);
    expect(take(h).names).toEqual([]);
    const mails = h.takeMails();
    expect(mails.map((m) => m.subject)).toEqual(["[example.com] Account Already Exists"]);
    expect(mails[0]!.text).not.toMatch(/^[A-Z]{4}-[A-Z]{4}$/m);
    expectErrors(await verify(app, "BBBB-BBBB"), [{ param: "key", code: "incorrect_code" }]);
    expect(take(h).names).toEqual([]);
    expect(await h.count("auth_user")).toBe(1);
  });
});

describe("resend in link mode", () => {
  test("answers 409 and sends nothing", async () => {
    await open({ account: { emailVerification: "mandatory", emailVerificationSupportsResend: true } });
    const browser = h.browser();
    await pendingSignup(browser);

    const res = await browser.request("POST", "auth/email/verify/resend");

    expectStatus(res, 409);
    expect(take(h).names).toEqual([]);
    expect(h.mails).toEqual([]);
  });
});
