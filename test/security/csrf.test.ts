/**
 * CSRF tokens bound to the session (issue #10 finding 10, SECURITY.md IV-10): a made-up pair of
 * equal cookie and header values, and a token issued for another browser's session, are refused
 * with 403 and write nothing; the token is masked anew each time it is handed out and any masking
 * of it is accepted; it changes when the session does (login, logout), and a refused browser gets
 * a valid token back so its next try works.
 */
import { afterEach, describe, expect, it } from "vitest";
import { fastHasher, take } from "../http/support.ts";
import { goodPassword, harness } from "../support/harness.ts";
import type { Client, Harness } from "../support/harness.ts";

const account = { loginMethods: ["email"] as const, emailVerification: "none" as const };

let h: Harness;
afterEach(async () => {
  await h?.close();
});

function setCsrf(res: { headers: Headers }): string | null {
  const cookie = res.headers.getSetCookie().find((c) => c.startsWith("csrftoken="));
  return cookie === undefined ? null : cookie.slice("csrftoken=".length).split(";")[0]!;
}

/** The same token under a different mask (the wire format is mask ‖ token XOR mask). */
function remask(value: string): string {
  const bytes = Buffer.from(value, "base64url");
  const half = bytes.length / 2;
  const token = bytes.subarray(0, half).map((m, i) => m ^ bytes[half + i]!);
  const pad = Buffer.from(Array.from({ length: half }, (_, i) => (i * 37 + 11) & 0xff));
  return Buffer.concat([pad, Buffer.from(token.map((t, i) => t ^ pad[i]!))]).toString("base64url");
}

async function snapshot(): Promise<string> {
  const counts = await Promise.all(["auth_user", "auth_email_address", "auth_session", "auth_outbox"].map((t) => h.count(t)));
  return counts.join(",");
}

async function signedUp(email: string): Promise<Client> {
  const browser = h.browser();
  const res = await browser.request("POST", "auth/signup", { email, password: goodPassword });
  expect(res.status).toBe(200);
  return browser;
}

describe("CSRF tokens bound to the session", () => {
  it("refuses a made-up token, even when the cookie and the header agree, and writes nothing", async () => {
    h = await harness({ account, passwordHasher: fastHasher });
    const browser = h.browser();
    const before = await snapshot();
    for (const forged of ["abcdefghijklmnopqrstuvwxyz012345", "A".repeat(86), "A".repeat(64)]) {
      browser.cookies.set("csrftoken", forged);
      const res = await browser.request("POST", "auth/signup", { email: "ann@example.com", password: goodPassword }, { "x-csrftoken": forged });
      expect(res.status).toBe(403);
      expect(res.body).toEqual({ status: 403 });
    }
    expect(await snapshot()).toBe(before);
    expect(take(h).names).toEqual([]);
    expect(h.takeMails()).toEqual([]);
  });

  it("refuses a token issued for another browser's session", async () => {
    h = await harness({ account, passwordHasher: fastHasher });
    const ann = await signedUp("ann@example.com");
    const eve = await signedUp("eve@example.com");
    take(h);
    // Eve's valid pair (cookie and header) sent with Ann's session cookie.
    ann.cookies.set("csrftoken", eve.cookies.get("csrftoken")!);
    const foreign = await ann.request("POST", "account/email", { email: "eve2@example.com" });
    expect(foreign.status).toBe(403);
    // An anonymous browser's token does not work for a session either.
    const anonymous = h.browser();
    await anonymous.request("GET", "config");
    ann.cookies.set("csrftoken", anonymous.cookies.get("csrftoken")!);
    const res = await ann.request("POST", "account/email", { email: "eve2@example.com" });
    expect(res.status).toBe(403);
    // Each refusal handed Ann a token of her own again.
    expect(ann.cookies.get("csrftoken")).not.toBe(anonymous.cookies.get("csrftoken"));
    expect(await h.count("auth_email_address")).toBe(2);
    expect(take(h).names).toEqual([]);
    // Ann's own token works.
    expect((await ann.request("POST", "account/email", { email: "ann2@example.com" })).status).toBe(200);
    expect(take(h).names).toEqual(["email_confirmation_sent", "email_added"]);
  });

  it("masks the token anew for every browser and accepts any masking of it", async () => {
    h = await harness({ account, passwordHasher: fastHasher });
    const values = new Set<string>();
    for (let i = 0; i < 5; i++) {
      const browser = h.browser();
      values.add(setCsrf(await browser.request("GET", "config"))!);
    }
    expect(values.size).toBe(5);
    for (const value of values) {
      expect(value).toMatch(/^[A-Za-z0-9_-]{86}$/);
    }
    const browser = h.browser();
    await browser.request("GET", "config");
    const cookie = browser.cookies.get("csrftoken")!;
    const header = remask(cookie);
    expect(header).not.toBe(cookie);
    const res = await browser.request("POST", "auth/signup", { email: "ann@example.com", password: goodPassword }, { "x-csrftoken": header });
    expect(res.status).toBe(200);
    expect(take(h).names).toEqual(["user_signed_up", "user_logged_in"]);
  });

  it("changes with the session: login and logout hand out a new token, and the old one stops working", async () => {
    h = await harness({ account, passwordHasher: fastHasher });
    await signedUp("ann@example.com");
    const browser = h.browser();
    await browser.request("GET", "config");
    const anonymous = browser.cookies.get("csrftoken")!;
    const login = await browser.request("POST", "auth/login", { email: "ann@example.com", password: goodPassword });
    expect(login.status).toBe(200);
    const loggedIn = setCsrf(login);
    expect(loggedIn).not.toBeNull();
    expect(loggedIn).not.toBe(anonymous);
    const stale = await browser.request("POST", "account/email", { email: "x@example.com" }, { "x-csrftoken": anonymous });
    expect(stale.status).toBe(403);

    const logout = await browser.request("DELETE", "auth/session");
    expect(logout.status).toBe(401);
    const afterLogout = setCsrf(logout);
    expect(afterLogout).not.toBeNull();
    // The logged-in token no longer passes once the session is gone.
    const old = await browser.request("POST", "auth/login", { email: "ann@example.com", password: goodPassword }, { "x-csrftoken": loggedIn! });
    expect(old.status).toBe(403);
    take(h);
  });

  it("a refused browser gets a valid token with the 403, and its retry passes", async () => {
    h = await harness({ account, passwordHasher: fastHasher });
    const browser = h.browser();
    browser.cookies.set("csrftoken", "abcdefghijklmnopqrstuvwxyz012345");
    const refused = await browser.request("POST", "auth/signup", { email: "ann@example.com", password: goodPassword });
    expect(refused.status).toBe(403);
    expect(setCsrf(refused)).toMatch(/^[A-Za-z0-9_-]{86}$/);
    const retry = await browser.request("POST", "auth/signup", { email: "ann@example.com", password: goodPassword });
    expect(retry.status).toBe(200);
    expect(take(h).names).toEqual(["user_signed_up", "user_logged_in"]);
  });
});
