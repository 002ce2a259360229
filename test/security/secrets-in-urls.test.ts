/**
 * Secrets never travel in the API's URLs (SECURITY.md LG-07), so access logs cannot hold them:
 * the API takes a verification or reset key only from a header or the body, never from the query;
 * an app session token only from `X-Session-Token`; a code only from the body. The one-time links
 * of the mails are the only URLs with a key, and that key works once.
 */
import { afterEach, describe, expect, it } from "vitest";
import { goodPassword, harness, keyFromMail } from "../support/harness.ts";
import type { Harness } from "../support/harness.ts";
import { fastHasher, loginCodeRequested } from "../http/support.ts";

let h: Harness;
afterEach(async () => {
  await h?.close();
});

const resetKey = (text: string) => decodeURIComponent(/password\/reset\/key\/(\S+)/.exec(text)![1]!);

describe("keys, codes and session tokens in the query are ignored (LG-07)", () => {
  it("a verification key, a reset key and a session token are read from headers and bodies only", async () => {
    h = await harness({ account: { loginMethods: ["email"], emailVerification: "mandatory" }, passwordHasher: fastHasher });
    const client = h.app();
    expect((await client.request("POST", "auth/signup", { email: "ann@example.com", password: goodPassword })).status).toBe(401);
    const key = keyFromMail(h.takeMails()[0]!);

    const inQuery = await client.request("GET", `auth/email/verify?key=${encodeURIComponent(key)}`);
    expect(inQuery.status).toBe(400);
    expect(inQuery.body.errors).toEqual([{ param: "key", code: "required", message: "This field is required." }]);
    expect((await client.request("GET", "auth/email/verify", undefined, { "x-email-verification-key": key })).status).toBe(200);
    expect((await client.request("POST", `auth/email/verify?key=${encodeURIComponent(key)}`, {})).status).toBe(400);
    expect(h.takeSignals()).toEqual(["user_signed_up", "email_confirmation_sent"]);
    expect((await client.request("POST", "auth/email/verify", { key })).status).toBe(401);
    expect(h.takeSignals()).toEqual(["email_confirmed"]);
    const loggedIn = h.app();
    expect((await loggedIn.request("POST", "auth/login", { email: "ann@example.com", password: goodPassword })).status).toBe(200);
    const token = loggedIn.token!;

    const anonymous = h.app();
    expect((await anonymous.request("GET", `auth/session?session_token=${token}&x-session-token=${token}`)).status).toBe(401);
    expect((await anonymous.request("GET", "auth/session", undefined, { "x-session-token": token })).status).toBe(200);

    await h.app().request("POST", "auth/password/request", { email: "ann@example.com" });
    const reset = resetKey(h.takeMails()[0]!.text);
    const resetInQuery = await h.app().request("GET", `auth/password/reset?key=${encodeURIComponent(reset)}`);
    expect(resetInQuery.status).toBe(400);
    expect((await h.app().request("GET", "auth/password/reset", undefined, { "x-password-reset-key": reset })).status).toBe(200);
  });

  it("a login code in the query confirms nothing", async () => {
    h = await harness({ account: { loginMethods: ["email"], emailVerification: "none", loginByCodeEnabled: true }, passwordHasher: fastHasher });
    const { client, code } = await loginCodeRequested(h);
    const inQuery = await client.request("POST", `auth/code/confirm?code=${code}`, {});
    expect(inQuery.status).toBe(400);
    expect(h.takeSignals()).toEqual([]);
    expect((await client.request("POST", "auth/code/confirm", { code })).status).toBe(200);
    expect(h.takeSignals()).toEqual(["email_confirmed", "user_logged_in"]);
  });
});
