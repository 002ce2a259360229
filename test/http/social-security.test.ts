/**
 * The browser's provider round trip under attack (SECURITY.md OA-01, OA-02, OA-03, OA-04,
 * OA-05, OA-06, OA-10, OA-13, OA-14): a state tampered with, replayed, expired, carried to
 * another browser, provider or user; an answer with the wrong nonce or issuer, a spent code, a
 * changed redirect URI, a provider error or a malformed query. Each ends as a 302 to the
 * frontend with `?error=…&error_process=…`, nobody logged in, no signal, nothing written and
 * nothing reported.
 */
import { createHash } from "node:crypto";
import { TestContext } from "effect";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import type { AuthConfig } from "../../src/config.ts";
import type { CreateAuthOptions } from "../../src/auth.ts";
import { harness } from "../support/harness.ts";
import type { Client, Harness } from "../support/harness.ts";
import type { IdentityProvider } from "../support/oidc-provider.ts";
import { clientId, clientSecret, frontendCallback, locationOf, socialConfig, startProvider, startRedirect, visit } from "../support/social.ts";
import { advance, login, signup } from "./support.ts";

const errorPage = "/social/error";
const failed = (page: string, code: string, process = "login") => `${page}?error=${code}&error_process=${process}`;
const tables = ["auth_user", "auth_social_account", "auth_email_address", "auth_social_state"] as const;

let idp: IdentityProvider;
let other: IdentityProvider;
let h: Harness;
let reports: Array<string>;

beforeAll(async () => {
  idp = await startProvider();
  other = await startProvider();
});
afterAll(async () => {
  await idp.close();
  await other.close();
});
afterEach(async () => {
  vi.restoreAllMocks();
  await h?.close();
});

/** `devidp` and `otheridp` (a second, independent provider with the same client), plus the dummy. */
async function open(config: Partial<AuthConfig> = {}, options: CreateAuthOptions = {}): Promise<Harness> {
  reports = [];
  const otherProvider = { id: "otheridp", type: "openid_connect", name: "Other IdP", clientId, secret: clientSecret, serverUrl: other.issuer } as const;
  h = await harness(
    {
      account: { loginMethods: ["email"], emailVerification: "none" },
      frontendUrls: { socialaccountLoginError: errorPage },
      socialaccount: socialConfig(idp, { providers: [otherProvider] }),
      ...config,
    },
    { report: (message) => void reports.push(message), ...options },
  );
  return h;
}

type Counts = Record<(typeof tables)[number], number>;

async function counts(): Promise<Counts> {
  const entries = await Promise.all(tables.map(async (table) => [table, await h.count(table)] as const));
  return Object.fromEntries(entries) as Counts;
}

/** The callback URL `back` with its query edited (a value of null drops the parameter). */
function edited(back: URL, changes: Record<string, string | null>): string {
  const url = new URL(back);
  for (const [name, value] of Object.entries(changes)) {
    if (value === null) url.searchParams.delete(name);
    else url.searchParams.set(name, value);
  }
  return url.pathname + url.search;
}

const pathOf = (url: URL) => url.pathname + url.search;

/**
 * A callback that failed cleanly: a 302 to `location`, the browser's session as it was (`who`: the
 * logged-in address, or null), no signal, no report, and of the tables only `auth_social_state` moved
 * (by `spent` rows).
 */
async function expectClean(response: Response, location: string, browser: Client, before: Counts, spent = 1, who: string | null = null) {
  expect(response.status).toBe(302);
  expect(locationOf(response)).toBe(location);
  const session = await browser.request("GET", "auth/session");
  expect(session.status).toBe(who === null ? 401 : 200);
  if (who !== null) expect(session.body.data.user.email).toBe(who);
  expect(h.takeSignals()).toEqual([]);
  expect(reports).toEqual([]);
  expect(await counts()).toEqual({ ...before, auth_social_state: before.auth_social_state - spent });
}

/** Starts a redirect in `browser` and signs in at the provider: the callback URL it sends back. */
async function answered(browser: Client, account = "alice", fields: Parameters<typeof startRedirect>[2] = {}): Promise<URL> {
  return idp.signIn((await startRedirect(h, browser, fields)).href, { account });
}

/** Calls to a provider's token endpoint since the spy was set. */
function tokenCalls(spy: { mock: { calls: Array<Array<unknown>> } }, provider: IdentityProvider): number {
  return spy.mock.calls.filter(([input]) => String(input instanceof Request ? input.url : input) === `${provider.issuer}/token`).length;
}

describe("the redirect state", () => {
  it("tampered by one character, empty or missing: unknown on the error page, and the genuine state stays usable (OA-03)", async () => {
    await open();
    const browser = h.browser();
    const back = await answered(browser);
    const state = back.searchParams.get("state")!;
    const before = await counts();
    const oneOff = `${state.slice(0, -1)}${state.endsWith("A") ? "B" : "A"}`;
    for (const value of [oneOff, "", null]) {
      await expectClean(await visit(h, browser, edited(back, { state: value })), failed(errorPage, "unknown"), browser, before, 0);
    }
    const genuine = await visit(h, browser, pathOf(back));
    expect(locationOf(genuine)).toBe(frontendCallback);
    expect(h.takeSignals()).toEqual(["pre_social_login", "user_signed_up", "user_logged_in"]);
  });

  it("replayed: the second use is unknown, and the first logged in exactly once", async () => {
    await open();
    const browser = h.browser();
    const back = await answered(browser);
    expect(locationOf(await visit(h, browser, pathOf(back)))).toBe(frontendCallback);
    expect(h.takeSignals()).toEqual(["pre_social_login", "user_signed_up", "user_logged_in"]);
    const before = await counts();
    expect(before).toEqual({ auth_user: 1, auth_social_account: 1, auth_email_address: 1, auth_social_state: 0 });
    await expectClean(await visit(h, browser, pathOf(back)), failed(errorPage, "unknown"), browser, before, 0, "alice@example.com");
  });

  it("expired (stateTimeout, 600 s): unknown, and the row is taken; one second earlier it works", async () => {
    await open({}, { layer: TestContext.TestContext });
    const browser = h.browser();
    const late = await answered(browser);
    const early = h.browser();
    const inTime = await answered(early, "carol");
    await advance(h, "599 seconds");
    expect(locationOf(await visit(h, early, pathOf(inTime)))).toBe(frontendCallback);
    h.takeSignals();
    await advance(h, "1 seconds");
    const before = await counts();
    await expectClean(await visit(h, browser, pathOf(late)), failed(errorPage, "unknown"), browser, before);
  });

  it("carried to another browser: unknown there, and spent for the browser that started it", async () => {
    await open();
    const browser = h.browser();
    const back = await answered(browser);
    const thief = h.browser();
    await startRedirect(h, thief);
    const before = await counts();
    expect(before.auth_social_state).toBe(2);
    await expectClean(await visit(h, thief, pathOf(back)), failed(errorPage, "unknown"), thief, before);
    await expectClean(await visit(h, browser, pathOf(back)), failed(errorPage, "unknown"), browser, { ...before, auth_social_state: 1 }, 0);
  });

  it("a connect state after its user logged out, or once another user logged in: unknown (OA-04)", async () => {
    await open();
    const browser = h.browser();
    await signup(browser, { email: "uma@example.com" });
    await signup(h.browser(), { email: "vic@example.com" });
    const first = await answered(browser, "alice", { process: "connect" });
    const second = await answered(browser, "alice", { process: "connect" });
    await browser.request("DELETE", "auth/session");
    h.takeSignals();
    const before = await counts();
    await expectClean(await visit(h, browser, pathOf(first)), failed(errorPage, "unknown"), browser, before, 1);
    expect((await login(browser, { email: "vic@example.com" })).status).toBe(200);
    h.takeSignals();
    await expectClean(await visit(h, browser, pathOf(second)), failed(errorPage, "unknown"), browser, { ...before, auth_social_state: before.auth_social_state - 1 }, 1, "vic@example.com");
    // Logging in and out renews the session, which alone refuses the states above; the binding to
    // the user holds without it too.
    const third = await answered(browser, "alice", { process: "connect" });
    await h.query("UPDATE auth_social_state SET user_id = (SELECT id FROM auth_user WHERE email = ?)", "uma@example.com");
    const now = await counts();
    await expectClean(await visit(h, browser, pathOf(third)), failed(errorPage, "unknown"), browser, now, 1, "vic@example.com");
  });

  it("taken to another provider's callback, or the dummy's page, and back: unknown (OA-04)", async () => {
    await open();
    const browser = h.browser();
    const back = await answered(browser);
    const before = await counts();
    await expectClean(await visit(h, browser, back.pathname.replace("devidp", "otheridp") + back.search), failed(errorPage, "unknown"), browser, before);
    const again = await answered(browser);
    const dummyForm = { id: "7", email: "eve@example.com", email_verified: "true" };
    await expectClean(await visit(h, browser, `/accounts/dummy/login/?state=${again.searchParams.get("state")}`, { form: dummyForm }), failed(errorPage, "unknown"), browser, before);
    const dummy = await startRedirect(h, browser, { provider: "dummy" });
    const dummyState = dummy.searchParams.get("state")!;
    await expectClean(await visit(h, browser, edited(back, { state: dummyState })), failed(errorPage, "unknown"), browser, before);
  });
});

describe("the provider's answer", () => {
  it("an ID token with another nonce, or none: unknown (OA-05)", async () => {
    await open();
    const browser = h.browser();
    const fetchSpy = vi.spyOn(globalThis, "fetch");
    for (const nonce of ["a-nonce-this-redirect-never-sent", null]) {
      const authorization = await startRedirect(h, browser);
      if (nonce === null) authorization.searchParams.delete("nonce");
      else authorization.searchParams.set("nonce", nonce);
      const back = await idp.signIn(authorization.href, { account: "alice" });
      const before = await counts();
      await expectClean(await visit(h, browser, pathOf(back)), failed(frontendCallback, "unknown"), browser, before);
    }
    // The codes were good: both were exchanged, and the ID tokens refused.
    expect(tokenCalls(fetchSpy, idp)).toBe(2);
  });

  it("mix-up: a code from another identity provider, with or without its iss, is unknown and never exchanged with ours (OA-06)", async () => {
    await open();
    const browser = h.browser();
    const fetchSpy = vi.spyOn(globalThis, "fetch");
    for (const keepIss of [true, false]) {
      const authorization = await startRedirect(h, browser);
      const back = await other.signIn(new URL(pathOf(authorization), other.issuer).href, { account: "alice" });
      expect(back.searchParams.get("iss")).toBe(other.issuer);
      const before = await counts();
      await expectClean(await visit(h, browser, keepIss ? pathOf(back) : edited(back, { iss: null })), failed(frontendCallback, "unknown"), browser, before);
    }
    expect(tokenCalls(fetchSpy, idp)).toBe(0);
    expect(tokenCalls(fetchSpy, other)).toBe(0);
  });

  it("a code already exchanged, under a fresh state: unknown, after one exchange attempt", async () => {
    await open();
    const victim = h.browser();
    const back = await answered(victim);
    expect(locationOf(await visit(h, victim, pathOf(back)))).toBe(frontendCallback);
    h.takeSignals();
    const attacker = h.browser();
    const fresh = await startRedirect(h, attacker);
    const before = await counts();
    const fetchSpy = vi.spyOn(globalThis, "fetch");
    const replay = edited(back, { state: fresh.searchParams.get("state") });
    await expectClean(await visit(h, attacker, replay), failed(frontendCallback, "unknown"), attacker, before);
    expect(tokenCalls(fetchSpy, idp)).toBe(1);
  });

  it("a stored redirect URI one character off: the provider refuses the code, unknown", async () => {
    await open();
    const browser = h.browser();
    const authorization = await startRedirect(h, browser);
    const uri = authorization.searchParams.get("redirect_uri")!;
    await h.query("UPDATE auth_social_state SET redirect_uri = ?", uri.replace("callback/", "callbacK/"));
    const back = await idp.signIn(authorization.href, { account: "alice" });
    const before = await counts();
    const fetchSpy = vi.spyOn(globalThis, "fetch");
    await expectClean(await visit(h, browser, pathOf(back)), failed(frontendCallback, "unknown"), browser, before);
    expect(tokenCalls(fetchSpy, idp)).toBe(1);
  });

  it("error=access_denied is cancelled; another error, no code, an 8 KB code or bad percent-encoding is unknown, none sent to the provider", async () => {
    await open();
    const browser = h.browser();
    const fetchSpy = vi.spyOn(globalThis, "fetch");
    const cancelled = await idp.cancel((await startRedirect(h, browser)).href);
    expect(cancelled.searchParams.get("error")).toBe("access_denied");
    let before = await counts();
    await expectClean(await visit(h, browser, pathOf(cancelled)), failed(frontendCallback, "cancelled"), browser, before);
    const connect = await startRedirect(h, browser, { process: "connect" });
    before = await counts();
    const denied = `${new URL(connect.searchParams.get("redirect_uri")!).pathname}?error=access_denied&state=${connect.searchParams.get("state")}`;
    await expectClean(await visit(h, browser, denied), failed(frontendCallback, "cancelled", "connect"), browser, before);
    const broken: Array<(back: URL) => string> = [
      (back) => edited(back, { code: null, error: "server_error" }),
      (back) => edited(back, { code: null }),
      (back) => edited(back, { code: "c".repeat(8192) }),
      (back) => pathOf(back).replace(/code=[^&]+/, "code=%E0%A4%A"),
      (back) => pathOf(back).replace(/code=[^&]+/, "code=ab%ZZcd"),
      (back) => pathOf(back).replace(/code=[^&]+/, "code=%FF%FE"),
    ];
    for (const tamper of broken) {
      const back = await answered(browser);
      before = await counts();
      await expectClean(await visit(h, browser, tamper(back)), failed(frontendCallback, "unknown"), browser, before);
    }
    expect(tokenCalls(fetchSpy, idp)).toBe(0);
  });
});

/** Posts the redirect form as `browser`, with its CSRF token unless `csrf` says otherwise. */
async function postForm(browser: Client, fields: Record<string, string>, csrf?: string | null): Promise<Response> {
  if (!browser.cookies.has("csrftoken")) await browser.request("GET", "config");
  const token = csrf === undefined ? browser.cookies.get("csrftoken")! : csrf;
  const form = { provider: "devidp", process: "login", callback_url: frontendCallback, ...fields, ...(token === null ? {} : { csrfmiddlewaretoken: token }) };
  return visit(h, browser, "/_allauth/browser/v1/auth/provider/redirect", { form });
}

describe("the redirect form", () => {
  it("an unknown provider, a callback_url that is not a path or an allowed host, a bad process: unknown on the error page, no state", async () => {
    await open();
    const browser = h.browser();
    const before = await counts();
    const bad: Array<Record<string, string>> = [
      { provider: "nosuch" },
      { provider: "" },
      ...["https://evil.example/cb", "//evil.example", "/\\evil.example", "javascript:alert(1)", "https:evil.example", "https://127.0.0.1@evil.example/cb", "https://localhost.evil.example/cb", "%2F%2Fevil.example", "", "/x".repeat(1100)].map(
        (url) => ({ callback_url: url }),
      ),
      { process: "bogus" },
      { process: "" },
    ];
    for (const fields of bad) {
      await expectClean(await postForm(browser, fields), failed(errorPage, "unknown"), browser, before, 0);
    }
    expect(locationOf(await postForm(browser, { callback_url: "http://localhost:3000/cb" }))).toMatch(new RegExp(`^${idp.issuer}/auth\\?`));
  });

  it("without the CSRF token, with a wrong one, or as JSON: 403; a GET: 405; no state either way (OA-10)", async () => {
    await open();
    const browser = h.browser();
    const before = await counts();
    for (const csrf of [null, "", "x".repeat(32)]) {
      const res = await postForm(browser, {}, csrf);
      expect(res.status).toBe(403);
      expect(await res.json()).toEqual({ status: 403 });
    }
    const json = await browser.request("POST", "auth/provider/redirect", { provider: "devidp", process: "login", callback_url: frontendCallback });
    expect([json.status, json.body]).toEqual([403, { status: 403 }]);
    const get = await browser.request("GET", "auth/provider/redirect");
    expect([get.status, get.body]).toEqual([405, { status: 405 }]);
    expect(await counts()).toEqual(before);
    expect(h.takeSignals()).toEqual([]);
  });

  it("a Host outside allowedHosts: 400 disallowed_host, no state", async () => {
    await open();
    const browser = h.browser();
    await browser.request("GET", "config");
    const csrf = browser.cookies.get("csrftoken")!;
    const res = await h.auth.handler(
      new Request("http://evil.example/_allauth/browser/v1/auth/provider/redirect", {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", cookie: `csrftoken=${csrf}`, "user-agent": "vitest" },
        body: new URLSearchParams({ provider: "devidp", process: "login", callback_url: "/cb", csrfmiddlewaretoken: csrf }).toString(),
      }),
      { ip: "10.0.0.9" },
    );
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ status: 400, errors: [{ message: "The request's host is not allowed.", code: "disallowed_host" }] });
    expect(await h.count("auth_social_state")).toBe(0);
  });

  it("S256 and a nonce go to the provider; the stored row holds neither the state nor the verifier the token request proves (OA-01)", async () => {
    await open();
    const browser = h.browser();
    const authorization = await startRedirect(h, browser);
    const sent = authorization.searchParams;
    expect(sent.get("code_challenge_method")).toBe("S256");
    expect(sent.get("code_challenge")).toMatch(/^[\w-]{43}$/);
    expect(sent.get("nonce")).toMatch(/^[\w-]{43}$/);
    const state = sent.get("state")!;
    expect(state).toMatch(/^[\w-]{43}$/);
    const rows = await h.query<Record<string, unknown>>("SELECT * FROM auth_social_state");
    expect(rows).toHaveLength(1);
    const stored = JSON.stringify(rows);
    expect(stored).not.toContain(state);
    expect(rows[0]!["pkce_verifier_sealed"]).not.toMatch(/^[\w-]{43,128}$/);
    const fetchSpy = vi.spyOn(globalThis, "fetch");
    const back = await idp.signIn(authorization.href, { account: "alice" });
    expect(locationOf(await visit(h, browser, pathOf(back)))).toBe(frontendCallback);
    const exchange = fetchSpy.mock.calls.filter(([input]) => String(input) === `${idp.issuer}/token`);
    expect(exchange).toHaveLength(1);
    const verifier = new URLSearchParams(String(exchange[0]![1]!.body)).get("code_verifier")!;
    expect(verifier).toMatch(/^[\w-]{43,128}$/);
    expect(createHash("sha256").update(verifier).digest("base64url")).toBe(sent.get("code_challenge"));
    expect(stored).not.toContain(verifier);
  });
});
