/**
 * `POST auth/signup` end to end: signal order (SIGNALS.md §3.3, §4), response shapes, mails and
 * rows, for each email verification mode, enumeration prevention, inactive users, the signup
 * rate limit and CSRF.
 */
import { TestContext } from "effect";
import { afterEach, describe, expect, test } from "vitest";
import { goodPassword, harness } from "../support/harness.ts";
import type { Harness } from "../support/harness.ts";
import type { AuthConfig } from "../../src/config.ts";
import {
  advance,
  emailRows,
  expectAuthenticated,
  expectErrors,
  expectLinkMail,
  expectNotAuthenticated,
  expectPendingVerification,
  expectStatus,
  fastHasher,
  raw,
  setCookieNames,
  signup,
  take,
  userRows,
} from "./support.ts";

let h: Harness;

async function open(config: Partial<AuthConfig> = {}): Promise<Harness> {
  h = await harness(config);
  return h;
}

afterEach(async () => {
  await h?.close();
});

describe("signup with emailVerification none", () => {
  test("a browser signup emits user_signed_up then user_logged_in, answers 200 and sends no mail", async () => {
    await open({ account: { emailVerification: "none" } });
    const browser = h.browser();

    const res = await signup(browser, { email: "Alice@Example.com", username: "alice" });

    const signals = take(h);
    expect(signals.names).toEqual(["user_signed_up", "user_logged_in"]);
    const signedUp = signals.one("user_signed_up");
    const loggedIn = signals.one("user_logged_in");
    expect(signedUp.request.user).toBeNull();
    expect(signedUp.user).toMatchObject({ username: "alice", email: "alice@example.com", isActive: true });
    expect(loggedIn.user.id).toBe(signedUp.user.id);
    expect(loggedIn.request.user?.id).toBe(signedUp.user.id);
    expect(loggedIn.response?.status).toBe(200);

    expectAuthenticated(res, { id: signedUp.user.id, email: "alice@example.com", username: "alice" }, "browser");
    expect(browser.cookies.get("sessionid")).toEqual(expect.any(String));
    expect(h.mails).toEqual([]);
    expect(await h.count("auth_user")).toBe(1);
    expect(await emailRows(h)).toEqual([
      { user_id: signedUp.user.id, email: "alice@example.com", verified: 0, is_primary: 1 },
    ]);
    const [user] = await userRows(h);
    expect(user!.last_login).not.toBeNull();

    const session = await browser.request("GET", "auth/session");
    expectAuthenticated(session, { id: signedUp.user.id }, "browser");
  });
});

describe("signup with emailVerification optional", () => {
  test("an app signup emits user_signed_up, email_confirmation_sent(signup) and user_logged_in, and mails a link", async () => {
    await open({ account: { emailVerification: "optional" } });
    const app = h.app();

    const res = await signup(app, { email: "bob@example.com", username: "bob" });

    const signals = take(h);
    expect(signals.names).toEqual(["user_signed_up", "email_confirmation_sent", "user_logged_in"]);
    const signedUp = signals.one("user_signed_up");
    const sent = signals.one("email_confirmation_sent");
    expect(signedUp.request.user).toBeNull();
    expect(sent.signup).toBe(true);
    expect(sent.confirmation.kind).toBe("link");
    expect(sent.confirmation.emailAddress).toMatchObject({
      email: "bob@example.com",
      userId: signedUp.user.id,
      verified: false,
      primary: true,
    });
    expect(sent.request.user).toBeNull();
    expect(signals.one("user_logged_in").request.user?.id).toBe(signedUp.user.id);

    expectAuthenticated(res, { id: signedUp.user.id, email: "bob@example.com", username: "bob" }, "app");
    expect(app.token).toBe(res.body.meta.session_token);
    expect(h.mails).toHaveLength(1);
    expectLinkMail(h.mails[0], "bob@example.com");
    expect(await emailRows(h)).toEqual([
      { user_id: signedUp.user.id, email: "bob@example.com", verified: 0, is_primary: 1 },
    ]);
  });

  test("a signup without an email emits no email_confirmation_sent and sends no mail", async () => {
    await open({ account: { emailVerification: "optional" } });
    const res = await signup(h.app(), { username: "carol" });
    expect(take(h).names).toEqual(["user_signed_up", "user_logged_in"]);
    expectAuthenticated(res, { email: null, username: "carol" }, "app");
    expect(h.mails).toEqual([]);
    expect(await h.count("auth_email_address")).toBe(0);
  });
});

describe("signup with emailVerification mandatory", () => {
  test("a browser signup emits user_signed_up then email_confirmation_sent(signup) and stops at 401 pending verify_email", async () => {
    await open({ account: { emailVerification: "mandatory" } });
    const browser = h.browser();

    const res = await signup(browser, { email: "dave@example.com", username: "dave" });

    const signals = take(h);
    expect(signals.names).toEqual(["user_signed_up", "email_confirmation_sent"]);
    const signedUp = signals.one("user_signed_up");
    const sent = signals.one("email_confirmation_sent");
    expect(signedUp.request.user).toBeNull();
    expect(sent.signup).toBe(true);
    expect(sent.request.user).toBeNull();
    expect(sent.confirmation.emailAddress.email).toBe("dave@example.com");

    expectPendingVerification(res);
    expect(browser.cookies.get("sessionid")).toEqual(expect.any(String));
    expect(h.mails).toHaveLength(1);
    expectLinkMail(h.mails[0], "dave@example.com");
    expect(await h.count("auth_user")).toBe(1);
    expect(await emailRows(h)).toEqual([
      { user_id: signedUp.user.id, email: "dave@example.com", verified: 0, is_primary: 1 },
    ]);
    const [user] = await userRows(h);
    expect(user!.last_login).toBeNull();

    const session = await browser.request("GET", "auth/session");
    expectPendingVerification(session);
    expect(take(h).names).toEqual([]);
  });

  test("an app signup answers 401 pending with a session token that keeps the pending flow", async () => {
    await open({ account: { emailVerification: "mandatory" } });
    const app = h.app();

    const res = await signup(app, { email: "erin@example.com", username: "erin" });

    expect(take(h).names).toEqual(["user_signed_up", "email_confirmation_sent"]);
    expectPendingVerification(res);
    expect(res.body.meta.session_token).toEqual(expect.any(String));
    expectPendingVerification(await app.request("GET", "auth/session"));
  });
});

describe("signup with an email that is already taken", () => {
  async function registerOwner(status = 401): Promise<void> {
    const res = await signup(h.browser(), { email: "owner@example.com", username: "owner" });
    expect(res.status).toBe(status);
    h.takeSignals();
    h.takeMails();
  }

  test("with preventEnumeration true and mandatory verification it emits nothing and mails 'Account Already Exists'", async () => {
    h = await harness({ account: { emailVerification: "mandatory", preventEnumeration: true } }, { layer: TestContext.TestContext });
    await registerOwner();
    // Past the owner's confirm_email cooldown, which allauth also applies to the fake flow's mail.
    await advance(h, "181 seconds");

    const fake = h.browser();
    const fakeRes = await signup(fake, { email: "OWNER@example.com", username: "intruder" });

    expect(take(h).names).toEqual([]);
    expectPendingVerification(fakeRes);
    const mails = h.takeMails();
    expect(mails).toHaveLength(1);
    expect(mails[0]!.to).toBe("owner@example.com");
    expect(mails[0]!.subject).toBe("[example.com] Account Already Exists");
    expect(mails[0]!.text).not.toMatch(/verify-email|https?:\/\//);
    expect(mails[0]!.text).not.toMatch(/^[A-Z]{4}-[A-Z]{4}$/m);
    expect(await h.count("auth_user")).toBe(1);
    expect(await h.count("auth_email_address")).toBe(1);
    expect(await h.query("SELECT id FROM auth_user WHERE username = 'intruder'")).toEqual([]);

    // Indistinguishable from a real pending signup: status, body, cookies.
    const real = h.browser();
    const realRes = await signup(real, { email: "newcomer@example.com", username: "newcomer" });
    expect(take(h).names).toEqual(["user_signed_up", "email_confirmation_sent"]);
    expect(fakeRes.status).toBe(realRes.status);
    expect(fakeRes.body).toEqual(realRes.body);
    expect(setCookieNames(fakeRes)).toEqual(setCookieNames(realRes));
    expect([...fake.cookies.keys()].sort()).toEqual([...real.cookies.keys()].sort());
    expectPendingVerification(await fake.request("GET", "auth/session"));
  });

  test("with preventEnumeration true the app response carries a session token just as a real signup does", async () => {
    await open({ account: { emailVerification: "mandatory" } });
    await registerOwner();

    const fakeRes = await signup(h.app(), { email: "owner@example.com", username: "intruder" });
    const realRes = await signup(h.app(), { email: "other@example.com", username: "other" });

    const names = take(h).names;
    expect(names).toEqual(["user_signed_up", "email_confirmation_sent"]);
    expect(fakeRes.status).toBe(401);
    expect(realRes.status).toBe(401);
    expect(Object.keys(fakeRes.body.meta).sort()).toEqual(Object.keys(realRes.body.meta).sort());
    expect(fakeRes.body.meta.session_token).toEqual(expect.any(String));
    expect({ ...fakeRes.body, meta: { ...fakeRes.body.meta, session_token: "x" } }).toEqual({
      ...realRes.body,
      meta: { ...realRes.body.meta, session_token: "x" },
    });
    expect(await h.count("auth_user")).toBe(2);
  });

  test("with preventEnumeration false it answers 400 email_taken and emits nothing", async () => {
    await open({ account: { emailVerification: "mandatory", preventEnumeration: false } });
    await registerOwner();

    const res = await signup(h.browser(), { email: "owner@example.com", username: "intruder" });

    expect(take(h).names).toEqual([]);
    expectErrors(res, [{ param: "email", code: "email_taken" }]);
    expect(res.body.errors[0].message).toBe("A user is already registered with this email address.");
    expect(h.mails).toEqual([]);
    expect(await h.count("auth_user")).toBe(1);
  });

  test("with preventEnumeration true but optional verification the uniqueness error wins", async () => {
    await open({ account: { emailVerification: "optional", preventEnumeration: true } });
    const first = await signup(h.app(), { email: "owner@example.com", username: "owner" });
    expect(first.status).toBe(200);
    h.takeSignals();
    h.takeMails();

    const res = await signup(h.app(), { email: "owner@example.com", username: "intruder" });

    expect(take(h).names).toEqual([]);
    expectErrors(res, [{ param: "email", code: "email_taken" }]);
    expect(h.mails).toEqual([]);
    expect(await h.count("auth_user")).toBe(1);
  });

  test("with preventEnumeration strict and mandatory verification the taken email still gets the fake flow", async () => {
    // allauth `assess_unique_email`: with mandatory verification, strict hides the conflict too.
    h = await harness({ account: { emailVerification: "mandatory", preventEnumeration: "strict" } }, { layer: TestContext.TestContext });
    await registerOwner();
    await advance(h, "181 seconds");

    const res = await signup(h.browser(), { email: "owner@example.com", username: "twin" });

    expect(take(h).names).toEqual([]);
    expectPendingVerification(res);
    expect(h.mails.map((m) => [m.to, m.subject])).toEqual([["owner@example.com", "[example.com] Account Already Exists"]]);
    expect(await h.count("auth_user")).toBe(1);
    expect(await h.count("auth_email_address")).toBe(1);
  });

  test("with preventEnumeration strict and optional verification a second, unverified account is created: user_signed_up, email_confirmation_sent, user_logged_in", async () => {
    h = await harness({ account: { emailVerification: "optional", preventEnumeration: "strict" } }, { layer: TestContext.TestContext });
    await registerOwner(200);
    // Past the owner's confirm_email cooldown (1/180s per address), so the twin's mail is not suppressed.
    await advance(h, "181 seconds");

    const res = await signup(h.browser(), { email: "OWNER@example.com", username: "twin" });

    const signals = take(h);
    expect(signals.names).toEqual(["user_signed_up", "email_confirmation_sent", "user_logged_in"]);
    const twin = signals.one("user_signed_up").user;
    expect(twin.username).toBe("twin");
    expect(signals.one("user_signed_up").request.user).toBeNull();
    expect(signals.one("email_confirmation_sent").signup).toBe(true);
    expect(signals.one("email_confirmation_sent").confirmation.emailAddress.userId).toBe(twin.id);
    expect(signals.one("user_logged_in").request.user?.id).toBe(twin.id);
    expectAuthenticated(res, { id: twin.id, email: "owner@example.com", username: "twin" }, "browser");
    expect(h.mails).toHaveLength(1);
    expectLinkMail(h.mails[0], "owner@example.com");
    expect(await h.count("auth_user")).toBe(2);
    const rows = await emailRows(h);
    expect(rows.map((r) => [r.email, r.verified, r.is_primary])).toEqual([
      ["owner@example.com", 0, 1],
      ["owner@example.com", 0, 1],
    ]);
    expect(rows.map((r) => r.user_id)).toContain(twin.id);
  });

  test("with preventEnumeration strict inside the address's confirm_email cooldown the twin is signed up and logged in without a mail", async () => {
    await open({ account: { emailVerification: "optional", preventEnumeration: "strict" } });
    await registerOwner(200);

    const res = await signup(h.app(), { email: "owner@example.com", username: "twin" });

    // SIGNALS.md §3.8: a rate-limited confirmation sends no mail and no email_confirmation_sent.
    expect(take(h).names).toEqual(["user_signed_up", "user_logged_in"]);
    expectAuthenticated(res, { username: "twin" }, "app");
    expect(h.mails).toEqual([]);
    expect(await h.count("auth_user")).toBe(2);
  });
});

describe("signup of an inactive user", () => {
  test("emits user_signed_up and nothing else, answers 401 without a pending flow and sends no mail", async () => {
    await open({ account: { emailVerification: "mandatory" }, adapter: { isNewUserActive: () => false } });
    const browser = h.browser();

    const res = await signup(browser, { email: "frank@example.com", username: "frank" });

    const signals = take(h);
    expect(signals.names).toEqual(["user_signed_up"]);
    expect(signals.one("user_signed_up").user.isActive).toBe(false);
    expect(signals.one("user_signed_up").request.user).toBeNull();
    expectNotAuthenticated(res);
    expect(h.mails).toEqual([]);
    const users = await userRows(h);
    expect(users.map((u) => [u.username, Number(u.is_active), u.last_login])).toEqual([["frank", 0, null]]);
    expect(await emailRows(h)).toEqual([
      { user_id: users[0]!.id, email: "frank@example.com", verified: 0, is_primary: 1 },
    ]);
    expectNotAuthenticated(await browser.request("GET", "auth/session"));
  });

  test("with verification none an inactive user is not logged in either", async () => {
    await open({ account: { emailVerification: "none" }, adapter: { isNewUserActive: () => false } });
    const res = await signup(h.app(), { email: "gina@example.com", username: "gina" });
    expect(take(h).names).toEqual(["user_signed_up"]);
    expectNotAuthenticated(res);
    expect(res.body.meta).not.toHaveProperty("session_token");
  });
});

describe("signup guards", () => {
  test("signing up while logged in answers 409 and creates nobody", async () => {
    await open({ account: { emailVerification: "none" } });
    const app = h.app();
    expect((await signup(app, { email: "hal@example.com", username: "hal" })).status).toBe(200);
    h.takeSignals();

    const res = await signup(app, { email: "hal2@example.com", username: "hal2" });

    expectStatus(res, 409);
    expect(take(h).names).toEqual([]);
    expect(await h.count("auth_user")).toBe(1);
  });

  test("a taken username answers 400 username_taken and emits nothing", async () => {
    await open({ account: { emailVerification: "none" } });
    await signup(h.app(), { username: "ivy" });
    h.takeSignals();
    const res = await signup(h.app(), { username: "IVY" });
    expectErrors(res, [{ param: "username", code: "username_taken" }]);
    expect(take(h).names).toEqual([]);
    expect(await h.count("auth_user")).toBe(1);
  });

  test("a too short password answers 400 password_too_short and writes nothing", async () => {
    await open({ account: { emailVerification: "none" } });
    const res = await signup(h.browser(), { username: "jack", password: "tiny pw 9x" });
    expectErrors(res, [{ param: "password", code: "password_too_short" }]);
    expect(take(h).names).toEqual([]);
    expect(await h.count("auth_user")).toBe(0);
    expect(await h.count("auth_session")).toBe(0);
  });

  test("a browser POST without X-CSRFToken answers 403 and writes nothing", async () => {
    await open({ account: { emailVerification: "mandatory" } });
    const browser = h.browser();
    await browser.request("GET", "config");
    const csrf = browser.cookies.get("csrftoken");
    expect(csrf).toEqual(expect.any(String));

    const res = await raw(h, "POST", "browser/v1/auth/signup", {
      body: { email: "kim@example.com", username: "kim", password: goodPassword },
      headers: { cookie: `csrftoken=${csrf}` },
    });

    expectStatus(res, 403);
    expect(take(h).names).toEqual([]);
    expect(h.mails).toEqual([]);
    expect(await h.count("auth_user")).toBe(0);
    expect(await h.count("auth_session")).toBe(0);
    expect(await h.count("auth_rate_limit")).toBe(0);

    // A wrong token is refused the same way; the right one goes through.
    const wrong = await browser.request(
      "POST",
      "auth/signup",
      { email: "kim@example.com", username: "kim", password: goodPassword },
      { "x-csrftoken": "x".repeat(csrf!.length) },
    );
    expectStatus(wrong, 403);
    expect(await h.count("auth_user")).toBe(0);
    const right = await signup(browser, { email: "kim@example.com", username: "kim" });
    expectPendingVerification(right);
    expect(await h.count("auth_user")).toBe(1);
  });

  test("an app client needs no CSRF token", async () => {
    await open({ account: { emailVerification: "none" } });
    const res = await raw(h, "POST", "app/v1/auth/signup", { body: { username: "lee", password: goodPassword } });
    expect(res.status).toBe(200);
    expect(take(h).names).toEqual(["user_signed_up", "user_logged_in"]);
  });
});

describe("signup rate limit (20/m/ip)", () => {
  test("the 21st signup from one IP within a minute answers 429 and emits nothing", async () => {
    await open({ account: { emailVerification: "none" }, passwordHasher: fastHasher });
    const app = h.app();
    for (let i = 0; i < 20; i++) {
      app.token = null;
      const res = await signup(app, { username: `user${i}` });
      expect(res.status, `signup ${i + 1}`).toBe(200);
    }
    expect(take(h).names).toHaveLength(40);

    app.token = null;
    const res = await signup(app, { username: "user20" });

    expectStatus(res, 429);
    expect(take(h).names).toEqual([]);
    expect(await h.count("auth_user")).toBe(20);

    // Another address is not affected.
    const other = await signup(h.app(), { username: "elsewhere" });
    expect(other.status).toBe(200);
    expect(take(h).names).toEqual(["user_signed_up", "user_logged_in"]);
  });
});
