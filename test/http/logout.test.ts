/**
 * `DELETE auth/session` and `GET auth/session` end to end: `user_logged_out` is emitted while
 * the request still holds the user (SIGNALS.md §3.2), an anonymous headless logout emits it
 * with `user: null`, and an app token that names no session answers 410.
 */
import { afterEach, describe, expect, test } from "vitest";
import type { AuthConfig } from "../../src/config.ts";
import { harness } from "../support/harness.ts";
import type { Harness } from "../support/harness.ts";
import {
  expectAuthenticated,
  expectNotAuthenticated,
  expectPendingVerification,
  login,
  raw,
  setCookieNames,
  signup,
  take,
} from "./support.ts";

let h: Harness;

async function open(config: Partial<AuthConfig> = {}): Promise<Harness> {
  h = await harness(config);
  return h;
}

afterEach(async () => {
  await h?.close();
});

describe("logout of a logged-in session", () => {
  test("a browser logout emits user_logged_out with request.user still the user, answers 401 and clears the cookie", async () => {
    await open({ account: { emailVerification: "none" } });
    const browser = h.browser();
    const res0 = await signup(browser, { username: "alice", email: "alice@example.com" });
    expectAuthenticated(res0, {}, "browser");
    const id = res0.body.data.user.id as string;
    h.takeSignals();
    expect(await h.count("auth_session")).toBe(1);

    const res = await browser.request("DELETE", "auth/session");

    const signals = take(h);
    expect(signals.names).toEqual(["user_logged_out"]);
    const loggedOut = signals.one("user_logged_out");
    expect(loggedOut.user?.id).toBe(id);
    expect(loggedOut.request.user?.id).toBe(id);
    expect(loggedOut.request.sessionId).toEqual(expect.any(String));
    expectNotAuthenticated(res);
    // The session cookie goes, and the CSRF token (bound to it) is replaced.
    expect(setCookieNames(res)).toEqual(["csrftoken", "sessionid"]);
    expect(res.headers.getSetCookie().find((c) => c.startsWith("sessionid="))).toMatch(/Max-Age=0/);
    expect(browser.cookies.has("sessionid")).toBe(false);
    expect(await h.count("auth_session")).toBe(0);
    expect(await h.count("auth_user")).toBe(1);
    expect(h.mails).toEqual([]);

    expectNotAuthenticated(await browser.request("GET", "auth/session"));
    expect(take(h).names).toEqual([]);
  });

  test("an app logout emits user_logged_out with the user, and the old token is then gone (410)", async () => {
    await open({ account: { emailVerification: "none", loginMethods: ["email"] } });
    await signup(h.app(), { email: "bob@example.com" });
    h.takeSignals();
    const app = h.app();
    const loggedIn = await login(app, { email: "bob@example.com" });
    expectAuthenticated(loggedIn, {}, "app");
    const id = loggedIn.body.data.user.id as string;
    const token = app.token!;
    h.takeSignals();

    const res = await app.request("DELETE", "auth/session");

    const signals = take(h);
    expect(signals.names).toEqual(["user_logged_out"]);
    expect(signals.one("user_logged_out").user?.id).toBe(id);
    expect(signals.one("user_logged_out").request.user?.id).toBe(id);
    expectNotAuthenticated(res);
    expect(res.body.meta).not.toHaveProperty("session_token");

    const stale = await app.request("GET", "auth/session");
    expect(stale.status).toBe(410);
    expect(app.token).toBe(token);
    app.token = null;
    expectNotAuthenticated(await app.request("GET", "auth/session"));
    expect(take(h).names).toEqual([]);
  });

  test("logging out one session leaves the user's other sessions logged in", async () => {
    await open({ account: { emailVerification: "none", loginMethods: ["email"] } });
    await signup(h.app(), { email: "cy@example.com" });
    const browser = h.browser();
    const app = h.app();
    await login(browser, { email: "cy@example.com" });
    await login(app, { email: "cy@example.com" });
    h.takeSignals();

    await browser.request("DELETE", "auth/session");

    expect(take(h).names).toEqual(["user_logged_out"]);
    expectAuthenticated(await app.request("GET", "auth/session"), { email: "cy@example.com" }, "app-session");
    expectNotAuthenticated(await browser.request("GET", "auth/session"));
  });
});

describe("logout without a logged-in user", () => {
  test("an anonymous browser DELETE emits user_logged_out with user null and answers 401", async () => {
    await open();
    const browser = h.browser();

    const res = await browser.request("DELETE", "auth/session");

    const signals = take(h);
    expect(signals.names).toEqual(["user_logged_out"]);
    expect(signals.one("user_logged_out").user).toBeNull();
    expect(signals.one("user_logged_out").request.user).toBeNull();
    expectNotAuthenticated(res);
    expect(await h.count("auth_session")).toBe(0);
  });

  test("an anonymous app DELETE emits user_logged_out with user null", async () => {
    await open();
    const res = await h.app().request("DELETE", "auth/session");
    const signals = take(h);
    expect(signals.names).toEqual(["user_logged_out"]);
    expect(signals.one("user_logged_out").user).toBeNull();
    expectNotAuthenticated(res);
  });

  test("a DELETE during a pending email verification emits user_logged_out with user null and drops the pending flow", async () => {
    await open({ account: { emailVerification: "mandatory" } });
    const browser = h.browser();
    expectPendingVerification(await signup(browser, { username: "dee", email: "dee@example.com" }));
    h.takeSignals();

    const res = await browser.request("DELETE", "auth/session");

    const signals = take(h);
    expect(signals.names).toEqual(["user_logged_out"]);
    expect(signals.one("user_logged_out").user).toBeNull();
    expectNotAuthenticated(res);
    expectNotAuthenticated(await browser.request("GET", "auth/session"));
    expect(await h.count("auth_session")).toBe(0);
  });

  test("a browser DELETE without X-CSRFToken answers 403 and does not log out", async () => {
    await open({ account: { emailVerification: "none" } });
    const browser = h.browser();
    await signup(browser, { username: "eve" });
    h.takeSignals();

    const res = await raw(h, "DELETE", "browser/v1/auth/session", {
      headers: { cookie: [...browser.cookies].map(([k, v]) => `${k}=${v}`).join("; ") },
    });

    expect(res.status).toBe(403);
    expect(take(h).names).toEqual([]);
    expectAuthenticated(await browser.request("GET", "auth/session"), { username: "eve" }, "browser");
  });
});

describe("GET auth/session", () => {
  test("an app client with an unknown X-Session-Token gets 410 and no signal", async () => {
    await open();
    const app = h.app();
    app.token = "no-such-session-token";

    const res = await app.request("GET", "auth/session");

    expect(res.status).toBe(410);
    // allauth's UnauthorizedResponse: the flows, and `is_authenticated` null (built with no user).
    expect(res.body).toEqual({
      status: 410,
      data: { flows: expect.arrayContaining([{ id: "login" }, { id: "signup" }]) },
      meta: { is_authenticated: null },
    });
    expect(take(h).names).toEqual([]);
  });

  test("a browser client with an unknown session cookie gets 401 and the cookie cleared", async () => {
    await open();
    const browser = h.browser();
    browser.cookies.set("sessionid", "no-such-session");

    const res = await browser.request("GET", "auth/session");

    expectNotAuthenticated(res);
    expect(browser.cookies.has("sessionid")).toBe(false);
  });

  test("an anonymous client without a session gets 401 with the login and signup flows", async () => {
    await open();
    const res = await h.app().request("GET", "auth/session");
    expectNotAuthenticated(res);
    expect(res.body.data.flows).toEqual([{ id: "login" }, { id: "signup" }]);
    expect(res.body.meta).toEqual({ is_authenticated: false });
  });
});
