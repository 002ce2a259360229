/**
 * Session-level behaviour shared by every endpoint: a dead app token answers 410 anywhere, a
 * login rotates the browser's CSRF token (Django's `rotate_token`), and the user JSON leaves out
 * what allauth's `serialize_user` leaves out.
 */
import { describe, expect, it } from "vitest";
import { goodPassword, harness } from "../support/harness.ts";
import type { Client, Harness } from "../support/harness.ts";
import { fastHasher, take } from "./support.ts";

const account = { loginMethods: ["email"] as const, emailVerification: "none" as const };

function csrfCookie(res: { headers: Headers }): string | null {
  const cookie = res.headers.getSetCookie().find((c) => c.startsWith("csrftoken="));
  return cookie === undefined ? null : cookie.slice("csrftoken=".length).split(";")[0]!;
}

describe("a dead app session token", () => {
  const endpoints: ReadonlyArray<[string, string, unknown?]> = [
    ["GET", "config"],
    ["GET", "auth/session"],
    ["DELETE", "auth/session"],
    ["POST", "auth/login", { email: "ann@example.com", password: goodPassword }],
    ["POST", "auth/signup", { email: "bob@example.com", password: goodPassword }],
    ["GET", "account/email"],
    ["POST", "account/password/change", { current_password: goodPassword, new_password: "x".repeat(20) }],
    ["POST", "auth/reauthenticate", { password: goodPassword }],
    ["POST", "auth/password/request", { email: "ann@example.com" }],
  ];

  it.each(endpoints)("answers 410 with flows and is_authenticated null on %s %s, and does nothing", async (method, path, body) => {
    const h = await harness({ account, passwordHasher: fastHasher });
    const app = h.app();
    await app.request("POST", "auth/signup", { email: "ann@example.com", password: goodPassword });
    const stale = app.token;
    await app.request("DELETE", "auth/session");
    take(h);
    h.takeMails();
    app.token = stale;
    const users = await h.count("auth_user");

    const res = await app.request(method, path, body);

    expect(res.status).toBe(410);
    expect(res.body).toEqual({
      status: 410,
      data: { flows: expect.arrayContaining([{ id: "login" }, { id: "signup" }]) },
      meta: { is_authenticated: null },
    });
    expect(take(h).names).toEqual([]);
    expect(h.takeMails()).toEqual([]);
    expect(await h.count("auth_session")).toBe(0);
    expect(await h.count("auth_user")).toBe(users);
    await h.close();
  });

  it("a browser with a dead session cookie is simply anonymous (401), as Django flushes it", async () => {
    const h = await harness({ account, passwordHasher: fastHasher });
    const browser = h.browser();
    browser.cookies.set("sessionid", "no-such-session");
    const res = await browser.request("GET", "account/email");
    expect(res.status).toBe(401);
    expect(res.body.meta.is_authenticated).toBe(false);
    await h.close();
  });
});

describe("CSRF token rotation at login", () => {
  async function expectRotated(h: Harness, browser: Client, login: () => Promise<{ status: number; headers: Headers }>) {
    const before = browser.cookies.get("csrftoken")!;
    const res = await login();
    expect(res.status).toBe(200);
    const after = csrfCookie(res);
    expect(after).not.toBeNull();
    expect(after).not.toBe(before);
    expect(after!.length).toBeGreaterThanOrEqual(32);
    // The browser now holds the new cookie: the old token in the header no longer matches it.
    const old = await browser.request("POST", "account/email", { email: "new@example.com" }, { "x-csrftoken": before });
    expect(old.status).toBe(403);
    expect(take(h).names).toEqual([]);
    const fresh = await browser.request("GET", "account/email");
    expect(fresh.status).toBe(200);
    const withNew = await browser.request("PUT", "account/email", { email: "nobody@example.com" });
    expect(withNew.status).toBe(400);
  }

  it("a password login sets a new csrftoken cookie and the old one stops working", async () => {
    const h = await harness({ account, passwordHasher: fastHasher });
    const setup = h.browser();
    await setup.request("POST", "auth/signup", { email: "ann@example.com", password: goodPassword });
    take(h);
    const browser = h.browser();
    await browser.request("GET", "config");
    await expectRotated(h, browser, async () => {
      const res = await browser.request("POST", "auth/login", { email: "ann@example.com", password: goodPassword });
      expect(take(h).names).toEqual(["user_logged_in"]);
      return res;
    });
    await h.close();
  });

  it("a signup that logs in rotates it too", async () => {
    const h = await harness({ account, passwordHasher: fastHasher });
    const browser = h.browser();
    await browser.request("GET", "config");
    await expectRotated(h, browser, async () => {
      const res = await browser.request("POST", "auth/signup", { email: "ann@example.com", password: goodPassword });
      expect(take(h).names).toEqual(["user_signed_up", "user_logged_in"]);
      return res;
    });
    await h.close();
  });

  it("a failed login and an anonymous request keep the token", async () => {
    const h = await harness({ account, passwordHasher: fastHasher });
    const browser = h.browser();
    await browser.request("GET", "config");
    const failed = await browser.request("POST", "auth/login", { email: "ann@example.com", password: goodPassword });
    expect(failed.status).toBe(400);
    expect(csrfCookie(failed)).toBeNull();
    expect(csrfCookie(await browser.request("GET", "auth/session"))).toBeNull();
    expect(take(h).names).toEqual([]);
    await h.close();
  });

  it("an app login sets no csrftoken cookie", async () => {
    const h = await harness({ account, passwordHasher: fastHasher });
    const app = h.app();
    const res = await app.request("POST", "auth/signup", { email: "ann@example.com", password: goodPassword });
    expect(res.status).toBe(200);
    expect(res.headers.getSetCookie()).toEqual([]);
    await h.close();
  });
});

describe("user JSON", () => {
  it("leaves out username when the account has none, and email when it has no address", async () => {
    const h = await harness({ account, passwordHasher: fastHasher });
    const byEmail = await h.app().request("POST", "auth/signup", { email: "ann@example.com", password: goodPassword });
    expect(byEmail.body.data.user).toEqual({
      id: expect.any(String),
      display: "ann@example.com",
      has_usable_password: true,
      email: "ann@example.com",
    });
    await h.close();

    const u = await harness({
      passwordHasher: fastHasher,
      account: { loginMethods: ["username"], emailVerification: "none", signupFields: ["username*", "email", "password1*"] },
    });
    const byName = await u.app().request("POST", "auth/signup", { username: "carol", password: goodPassword });
    expect(byName.body.data.user).toEqual({
      id: expect.any(String),
      display: "carol",
      has_usable_password: true,
      username: "carol",
    });
    await u.close();
  });
});
