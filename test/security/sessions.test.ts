/**
 * Session tokens and what a session grants (SECURITY.md SE-01, SE-02, SE-04, SE-05, SE-10): tokens
 * are 256 random bits, unique, and only their keyed digest is stored, so a database row is no
 * session; a logout kills the token for good, a GET changes nothing, and a logout during a login
 * by code kills the pending code; a session that holds only a pending stage (a login code, an
 * email verification, a provider redirect) is anonymous to every endpoint that needs a user; a
 * session ends two weeks after its login however busy it is, and after `sessionIdleTimeout`
 * without a request.
 */
import { Effect, TestContext } from "effect";
import { afterEach, describe, expect, it } from "vitest";
import type { AuthConfig } from "../../src/config.ts";
import { Tokens } from "../../src/services/tokens.ts";
import { codeFromMail, goodPassword, harness } from "../support/harness.ts";
import type { Client, ClientResponse, Harness } from "../support/harness.ts";
import { startRedirect } from "../support/social.ts";
import { advance, fastHasher, raw, take } from "../http/support.ts";

let h: Harness;

afterEach(async () => {
  await h?.close();
});

async function open(account: AuthConfig["account"] = {}, config: Partial<AuthConfig> = {}, testClock = false): Promise<Harness> {
  h = await harness(
    { passwordHasher: fastHasher, account: { loginMethods: ["email"], emailVerification: "none", ...account }, ...config },
    testClock ? { layer: TestContext.TestContext } : {},
  );
  return h;
}

async function account(email = "ann@example.com"): Promise<void> {
  const client = h.app();
  expect((await client.request("POST", "auth/signup", { email, password: goodPassword })).status).toBe(200);
  await client.request("DELETE", "auth/session");
  h.takeSignals();
  h.takeMails();
}

function cookieHeader(client: Client): string {
  return [...client.cookies].map(([k, v]) => `${k}=${v}`).join("; ");
}

/**
 * Every endpoint that needs a user refuses and names nobody: 401 (a browser whose CSRF token
 * belonged to a dead session gets the CSRF 403 on a POST), and the password stays as it was.
 */
async function expectAnonymous(send: (method: string, path: string, body?: unknown) => Promise<ClientResponse>): Promise<void> {
  const session = await send("GET", "auth/session");
  expect(session.status).toBe(401);
  expect(session.body.meta.is_authenticated).toBe(false);
  expect(session.body.data.user).toBeUndefined();
  expect((await send("GET", "account/email")).status).toBe(401);
  const before = await h.query<{ password: string }>("SELECT password FROM auth_user ORDER BY id");
  const change = await send("POST", "account/password/change", { current_password: goodPassword, new_password: "another long passphrase 77" });
  expect([401, 403]).toContain(change.status);
  expect(await h.query<{ password: string }>("SELECT password FROM auth_user ORDER BY id")).toEqual(before);
}

describe("session tokens are random and stored only as digests (SE-01, SE-02)", () => {
  it("100 app logins get 100 distinct tokens of 32 random bytes; the token service gives 10 000 distinct keys", async () => {
    await open({ rateLimits: false });
    await account();
    const tokens = new Set<string>();
    for (let i = 0; i < 100; i++) {
      const res = await h.app().request("POST", "auth/login", { email: "ann@example.com", password: goodPassword });
      expect(res.status).toBe(200);
      const token = res.body.meta.session_token as string;
      expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(Buffer.from(token, "base64url")).toHaveLength(32);
      tokens.add(token);
    }
    expect(tokens.size).toBe(100);
    const keys = await h.auth.runtime.runPromise(Effect.map(Tokens, (t) => Array.from({ length: 10_000 }, () => t.key())));
    expect(new Set(keys).size).toBe(10_000);
    expect(keys.every((k) => Buffer.from(k, "base64url").length === 32)).toBe(true);
  });

  it("the browser's sessionid is 32 random bytes too, and no session row holds it", async () => {
    await open();
    await account();
    const browser = h.browser();
    expect((await browser.request("POST", "auth/login", { email: "ann@example.com", password: goodPassword })).status).toBe(200);
    const token = browser.cookies.get("sessionid")!;
    expect(Buffer.from(token, "base64url")).toHaveLength(32);
    const rows = await h.query<Record<string, unknown>>("SELECT * FROM auth_session");
    expect(rows).toHaveLength(1);
    expect(JSON.stringify(rows)).not.toContain(token);
  });

  it("the stored digest presented as a token is no session: 410 for the app, anonymous for the browser", async () => {
    await open();
    await account();
    const app = h.app();
    expect((await app.request("POST", "auth/login", { email: "ann@example.com", password: goodPassword })).status).toBe(200);
    const [row] = await h.query<{ id: string }>("SELECT id FROM auth_session");
    expect(row!.id).not.toBe(app.token);
    expect(JSON.stringify(await h.query("SELECT * FROM auth_session"))).not.toContain(app.token!);
    const asApp = await raw(h, "GET", "app/v1/auth/session", { headers: { "x-session-token": row!.id } });
    expect(asApp.status).toBe(410);
    const asBrowser = await raw(h, "GET", "browser/v1/auth/session", { headers: { cookie: `sessionid=${row!.id}` } });
    expect([asBrowser.status, asBrowser.body.meta.is_authenticated]).toEqual([401, false]);
    // The real token still works: the refusals above were about the value, not the session.
    expect((await app.request("GET", "auth/session")).status).toBe(200);
  });
});

describe("logout (SE-04)", () => {
  it("the old browser cookie replayed after the logout is anonymous; GET auth/session never logs out", async () => {
    await open();
    await account();
    const browser = h.browser();
    await browser.request("POST", "auth/login", { email: "ann@example.com", password: goodPassword });
    h.takeSignals();
    for (let i = 0; i < 3; i++) {
      expect((await browser.request("GET", "auth/session")).status).toBe(200);
    }
    expect(take(h).names).toEqual([]);
    const old = cookieHeader(browser);
    expect((await browser.request("DELETE", "auth/session")).status).toBe(401);
    expect(take(h).names).toEqual(["user_logged_out"]);
    expect(await h.count("auth_session")).toBe(0);
    await expectAnonymous((method, path, body) =>
      raw(h, method, `browser/v1/${path}`, {
        headers: { cookie: old, "x-csrftoken": browser.cookies.get("csrftoken") ?? "" },
        ...(body === undefined ? {} : { body }),
      }),
    );
    expect(take(h).names).toEqual([]);
  });

  it("a logout during a login by code: the pending code can no longer log anybody in", async () => {
    await open({ loginByCodeEnabled: true });
    await account();
    const app = h.app();
    expect((await app.request("POST", "auth/code/request", { email: "ann@example.com" })).status).toBe(401);
    const code = codeFromMail(h.takeMails()[0]!);
    const token = app.token!;
    expect(await h.count("auth_flow")).toBe(1);
    await app.request("DELETE", "auth/session");
    expect(take(h).names).toEqual(["user_logged_out"]);
    expect(await h.count("auth_flow")).toBe(0);
    // The old token names nothing any more; a fresh session has no flow to confirm.
    const replayed = await raw(h, "POST", "app/v1/auth/code/confirm", { headers: { "x-session-token": token }, body: { code } });
    expect(replayed.status).toBe(410);
    app.token = null;
    expect((await app.request("POST", "auth/code/confirm", { code })).status).toBe(409);
    expect(take(h).names).toEqual([]);
    expect(await h.count("auth_session")).toBe(0);
  });
});

describe("a pending stage is not a login (SE-10)", () => {
  it("mid login by code (app and browser)", async () => {
    await open({ loginByCodeEnabled: true });
    await account();
    for (const client of [h.app(), h.browser()]) {
      expect((await client.request("POST", "auth/code/request", { email: "ann@example.com" })).status).toBe(401);
      await expectAnonymous((method, path, body) => client.request(method, path, body));
    }
    expect(take(h).names).toEqual([]);
  });

  it("mid email verification, after a signup and after a password login", async () => {
    await open({ emailVerification: "mandatory" });
    const signup = h.app();
    const res = await signup.request("POST", "auth/signup", { email: "ann@example.com", password: goodPassword });
    expect(res.body.data.flows).toContainEqual({ id: "verify_email", is_pending: true });
    await expectAnonymous((method, path, body) => signup.request(method, path, body));
    const login = h.browser();
    const stalled = await login.request("POST", "auth/login", { email: "ann@example.com", password: goodPassword });
    expect([stalled.status, stalled.body.meta.is_authenticated]).toEqual([401, false]);
    await expectAnonymous((method, path, body) => login.request(method, path, body));
    expect(take(h).names).toEqual(["user_signed_up", "email_confirmation_sent"]);
  });

  it("mid provider redirect: the browser that was sent to the provider is still anonymous", async () => {
    await open({}, { socialaccount: { providers: [{ type: "dummy" }] } });
    const browser = h.browser();
    const to = await startRedirect(h, browser, { provider: "dummy" });
    expect(to.pathname).toBe("/accounts/dummy/login/");
    await expectAnonymous((method, path, body) => browser.request(method, path, body));
    expect(take(h).names).toEqual([]);
  });
});

describe("timeouts enforced by the server (SE-05)", () => {
  const day = 86_400;

  async function appLogin(): Promise<Client> {
    const app = h.app();
    expect((await app.request("POST", "auth/login", { email: "ann@example.com", password: goodPassword })).status).toBe(200);
    return app;
  }

  it("absolute: a session used every day still ends two weeks after its login (app 410, browser anonymous)", async () => {
    await open({}, { sessionIdleTimeout: 2 * day }, true);
    await account();
    const app = await appLogin();
    const browser = h.browser();
    expect((await browser.request("POST", "auth/login", { email: "ann@example.com", password: goodPassword })).status).toBe(200);
    for (let i = 1; i <= 13; i++) {
      await advance(h, `${day} seconds`);
      expect((await app.request("GET", "auth/session")).status, `day ${i}`).toBe(200);
      expect((await browser.request("GET", "auth/session")).status, `day ${i}`).toBe(200);
    }
    await advance(h, `${day} seconds`);
    expect((await app.request("GET", "auth/session")).status).toBe(410);
    const stale = await browser.request("GET", "auth/session");
    expect([stale.status, stale.body.meta.is_authenticated]).toEqual([401, false]);
    expect(await h.auth.getSession({ headers: { "x-session-token": app.token! } })).toBeNull();
  });

  it("idle: sessionIdleTimeout ends a session left unused that long; each request restarts the count", async () => {
    await open({}, { sessionIdleTimeout: 1800 }, true);
    await account();
    const app = await appLogin();
    for (let i = 0; i < 3; i++) {
      await advance(h, "1700 seconds");
      expect((await app.request("GET", "account/email")).status).toBe(200);
    }
    expect(await h.auth.getSession({ headers: { "x-session-token": app.token! } })).not.toBeNull();
    await advance(h, "1801 seconds");
    expect(await h.auth.getSession({ headers: { "x-session-token": app.token! } })).toBeNull();
    expect((await app.request("GET", "account/email")).status).toBe(410);
    expect(take(h).names).toEqual(["user_logged_in"]);
  });

  it("without sessionIdleTimeout (the default) a session unused for 13 days still works", async () => {
    await open({}, {}, true);
    await account();
    const app = await appLogin();
    await advance(h, `${13 * day} seconds`);
    expect((await app.request("GET", "auth/session")).status).toBe(200);
  });
});
