/**
 * A password reset by code beside the rest of the session: allauth keeps its process under a
 * session key of its own, so it pends beside a login stage, and a logged-in user may ask for one.
 */
import { TestContext } from "effect";
import { describe, expect, it } from "vitest";
import { codeFromMail, goodPassword, harness } from "../support/harness.ts";
import type { Harness } from "../support/harness.ts";
import { fastHasher, take } from "./support.ts";

const newPassword = "a brand new passphrase 99";
const account = {
  loginMethods: ["email"] as const,
  emailVerification: "optional" as const,
  passwordResetByCodeEnabled: true,
  loginByCodeEnabled: true,
};

async function open() {
  return harness({ passwordHasher: fastHasher, account }, { layer: TestContext.TestContext });
}

async function member(h: Harness): Promise<void> {
  const client = h.app();
  expect((await client.request("POST", "auth/signup", { email: "ann@example.com", password: goodPassword })).status).toBe(200);
  await h.query("UPDATE auth_email_address SET verified = 1 WHERE email = ?", "ann@example.com");
  await client.request("DELETE", "auth/session");
  h.takeSignals();
  h.takeMails();
}

describe("password reset by code beside a pending login by code", () => {
  it("both pend, the reset completes, and the login code still logs in", async () => {
    const h = await open();
    await member(h);
    const client = h.browser();
    expect((await client.request("POST", "auth/code/request", { email: "ann@example.com" })).status).toBe(401);
    const loginCode = codeFromMail(h.takeMails()[0]!);
    const requested = await client.request("POST", "auth/password/request", { email: "ann@example.com" });
    expect(requested.status).toBe(401);
    expect(requested.body.data.flows).toEqual([
      { id: "login" },
      { id: "login_by_code", is_pending: true },
      { id: "signup" },
      { id: "password_reset_by_code", is_pending: true },
    ]);
    const resetCode = codeFromMail(h.takeMails()[0]!);

    const reset = await client.request("POST", "auth/password/reset", { key: resetCode, password: newPassword });
    expect(reset.status).toBe(401);
    expect(reset.body.data.flows).toContainEqual({ id: "login_by_code", is_pending: true });
    expect(reset.body.data.flows).toContainEqual({ id: "password_reset_by_code", is_pending: false });
    expect(take(h).names).toEqual(["password_reset"]);

    const confirmed = await client.request("POST", "auth/code/confirm", { code: loginCode });
    expect(confirmed.status).toBe(200);
    expect(take(h).names).toEqual(["user_logged_in"]);
    await h.close();
  });

  it("a login code request after the reset request leaves the reset pending", async () => {
    const h = await open();
    await member(h);
    const client = h.app();
    await client.request("POST", "auth/password/request", { email: "ann@example.com" });
    const resetCode = codeFromMail(h.takeMails()[0]!);
    const login = await client.request("POST", "auth/code/request", { email: "ann@example.com" });
    expect(login.body.data.flows).toContainEqual({ id: "password_reset_by_code", is_pending: true });
    h.takeMails();
    const checked = await client.request("GET", "auth/password/reset", undefined, { "x-password-reset-key": resetCode });
    expect(checked.status).toBe(200);
    expect(checked.body.data.user.email).toBe("ann@example.com");
    await h.close();
  });
});

describe("POST auth/password/request while logged in", () => {
  it("mails the code and answers the session as it is (200, the user), as allauth's AuthenticationResponse", async () => {
    const h = await open();
    await member(h);
    const client = h.app();
    expect((await client.request("POST", "auth/login", { email: "ann@example.com", password: goodPassword })).status).toBe(200);
    take(h);
    const requested = await client.request("POST", "auth/password/request", { email: "ann@example.com" });
    expect(requested.status).toBe(200);
    expect(requested.body.meta.is_authenticated).toBe(true);
    expect(requested.body.data.user.email).toBe("ann@example.com");
    const mails = h.takeMails();
    expect(mails.map((m) => [m.to, m.subject])).toEqual([["ann@example.com", "[example.com] Password Reset Code"]]);
    expect(take(h).names).toEqual([]);
    const checked = await client.request("GET", "auth/password/reset", undefined, { "x-password-reset-key": codeFromMail(mails[0]!) });
    expect(checked.status).toBe(200);
    await h.close();
  });
});
