/**
 * `data.methods` (ALLAUTH-ERRORS §26): one record per completed authentication step, written when
 * the step is done even if the login then stalls, `at` in seconds, wiped at logout; and the
 * reauthentication window reads only the last record.
 */
import { TestContext } from "effect";
import { describe, expect, it } from "vitest";
import type { AuthConfig } from "../../src/config.ts";
import type { Mail } from "../../src/services/mailer.ts";
import { codeFromMail, goodPassword, harness, keyFromMail } from "../support/harness.ts";
import { advance, fastHasher, take } from "./support.ts";

const newPassword = "a brand new passphrase 99";

async function setup(config: Partial<AuthConfig>, signup: { email: string; username?: string } = { email: "ann@example.com" }) {
  const h = await harness({ passwordHasher: fastHasher, ...config }, { layer: TestContext.TestContext });
  const client = h.app();
  expect([200, 401]).toContain((await client.request("POST", "auth/signup", { ...signup, password: goodPassword })).status);
  await h.query("UPDATE auth_email_address SET verified = 1");
  await client.request("DELETE", "auth/session");
  take(h);
  h.takeMails();
  await advance(h, "1000 seconds");
  return h;
}

function resetKey(mail: Mail): string {
  return decodeURIComponent(/password\/reset\/key\/(\S+)/.exec(mail.text)![1]!);
}

const emailOnly = { loginMethods: ["email"] as const, emailVerification: "none" as const };

describe("data.methods", () => {
  it("a password login records the email as sent, lowercased, with at in seconds", async () => {
    const h = await harness({ account: emailOnly, passwordHasher: fastHasher });
    await h.app().request("POST", "auth/signup", { email: "ann@example.com", password: goodPassword });
    take(h);
    const client = h.browser();
    const before = Date.now() / 1000;
    const res = await client.request("POST", "auth/login", { email: " ANN@Example.com", password: goodPassword });
    expect(res.status).toBe(200);
    expect(res.body.data.methods).toEqual([{ method: "password", at: expect.any(Number), email: "ann@example.com" }]);
    const at = res.body.data.methods[0].at;
    expect(at).toBeGreaterThanOrEqual(Math.floor(before));
    expect(at).toBeLessThanOrEqual(Date.now() / 1000 + 1);
    expect(Number.isInteger(at * 1000)).toBe(true);
    expect(take(h).names).toEqual(["user_logged_in"]);
    expect((await client.request("GET", "auth/session")).body.data.methods).toEqual(res.body.data.methods);
    await h.close();
  });

  it("a username login records the username and no email", async () => {
    const h = await setup(
      { account: { loginMethods: ["username"], emailVerification: "none" } },
      { email: "carol@example.com", username: "carol" },
    );
    const res = await h.app().request("POST", "auth/login", { username: "carol", password: goodPassword });
    expect(res.body.data.methods).toEqual([{ method: "password", at: 1000, username: "carol" }]);
    expect(take(h).names).toEqual(["user_logged_in"]);
    await h.close();
  });

  it("a fresh signup records nothing, also once its verification logs it in", async () => {
    const h = await harness(
      { passwordHasher: fastHasher, account: { ...emailOnly, emailVerification: "mandatory", loginOnEmailConfirmation: true } },
      { layer: TestContext.TestContext },
    );
    const client = h.browser();
    const signup = await client.request("POST", "auth/signup", { email: "ann@example.com", password: goodPassword });
    expect(signup.status).toBe(401);
    expect(take(h).names).toEqual(["user_signed_up", "email_confirmation_sent"]);
    const verified = await client.request("POST", "auth/email/verify", { key: keyFromMail(h.takeMails()[0]!) });
    expect(verified.status).toBe(200);
    expect(verified.body.data.methods).toEqual([]);
    expect(take(h).names).toEqual(["email_confirmed", "user_logged_in"]);

    const open = await harness({ passwordHasher: fastHasher, account: emailOnly });
    const direct = await open.app().request("POST", "auth/signup", { email: "bob@example.com", password: goodPassword });
    expect(direct.body.data.methods).toEqual([]);
    await open.close();
    await h.close();
  });

  it("a password login stalled at verification keeps its record from the password step", async () => {
    const h = await setup({ account: { ...emailOnly, emailVerification: "mandatory", loginOnEmailConfirmation: true } });
    await h.query("UPDATE auth_email_address SET verified = 0");
    const client = h.browser();
    const stalled = await client.request("POST", "auth/login", { email: "ann@example.com", password: goodPassword });
    expect(stalled.status).toBe(401);
    expect(stalled.body.data).not.toHaveProperty("methods");
    expect(take(h).names).toEqual(["email_confirmation_sent"]);
    await advance(h, "60 seconds");
    const verified = await client.request("POST", "auth/email/verify", { key: keyFromMail(h.takeMails()[0]!) });
    expect(verified.status).toBe(200);
    expect(verified.body.data.methods).toEqual([{ method: "password", at: 1000, email: "ann@example.com" }]);
    expect(take(h).names).toEqual(["email_confirmed", "user_logged_in"]);
    await h.close();
  });

  it("a code login records the code's address", async () => {
    const h = await setup({ account: { ...emailOnly, loginByCodeEnabled: true } });
    const client = h.app();
    await client.request("POST", "auth/code/request", { email: "Ann@Example.com" });
    await advance(h, "10 seconds");
    const res = await client.request("POST", "auth/code/confirm", { code: codeFromMail(h.takeMails()[0]!) });
    expect(res.status).toBe(200);
    expect(res.body.data.methods).toEqual([{ method: "code", at: 1010, email: "ann@example.com" }]);
    expect(take(h).names).toEqual(["user_logged_in"]);
    await h.close();
  });

  it("a required login code after a password records both, the code with the login's address", async () => {
    const h = await setup({ account: { ...emailOnly, loginByCodeRequired: true } });
    const client = h.app();
    const stalled = await client.request("POST", "auth/login", { email: "ann@example.com", password: goodPassword });
    expect(stalled.status).toBe(401);
    expect(stalled.body.data.flows).toContainEqual({ id: "login_by_code", is_pending: true });
    await advance(h, "5 seconds");
    const res = await client.request("POST", "auth/code/confirm", { code: codeFromMail(h.takeMails()[0]!) });
    expect(res.status).toBe(200);
    expect(res.body.data.methods).toEqual([
      { method: "password", at: 1000, email: "ann@example.com" },
      { method: "code", at: 1005, email: "ann@example.com" },
    ]);
    expect(take(h).names).toEqual(["user_logged_in"]);
    await h.close();
  });

  it("after a username login the required code records the primary address", async () => {
    const h = await setup(
      { account: { loginMethods: ["username"], emailVerification: "none", loginByCodeRequired: true } },
      { email: "carol@example.com", username: "carol" },
    );
    const client = h.browser();
    await client.request("POST", "auth/login", { username: "carol", password: goodPassword });
    const res = await client.request("POST", "auth/code/confirm", { code: codeFromMail(h.takeMails()[0]!) });
    expect(res.body.data.methods).toEqual([
      { method: "password", at: 1000, username: "carol" },
      { method: "code", at: 1000, email: "carol@example.com" },
    ]);
    expect(take(h).names).toEqual(["user_logged_in"]);
    await h.close();
  });

  it("reauthentication appends a password record with reauthenticated and no identifier", async () => {
    const h = await setup({ account: emailOnly });
    const client = h.app();
    await client.request("POST", "auth/login", { email: "ann@example.com", password: goodPassword });
    await advance(h, "30 seconds");
    const res = await client.request("POST", "auth/reauthenticate", { password: goodPassword });
    expect(res.status).toBe(200);
    expect(res.body.data.methods).toEqual([
      { method: "password", at: 1000, email: "ann@example.com" },
      { method: "password", at: 1030, reauthenticated: true },
    ]);
    expect(take(h).names).toEqual(["user_logged_in"]);
    await h.close();
  });

  it("a reset that logs in records password_reset: no address by link, the address by code", async () => {
    const link = await setup({ account: { ...emailOnly, loginOnPasswordReset: true } });
    const a = link.app();
    await a.request("POST", "auth/password/request", { email: "ann@example.com" });
    const byLink = await a.request("POST", "auth/password/reset", { key: resetKey(link.takeMails()[0]!), password: newPassword });
    expect(byLink.status).toBe(200);
    expect(byLink.body.data.methods).toEqual([{ method: "password_reset", at: 1000 }]);
    expect(take(link).names).toEqual(["password_reset", "user_logged_in"]);
    await link.close();

    const code = await setup({ account: { ...emailOnly, loginOnPasswordReset: true, passwordResetByCodeEnabled: true } });
    const b = code.app();
    await b.request("POST", "auth/password/request", { email: "ann@example.com" });
    const theCode = codeFromMail(code.takeMails()[0]!);
    expect((await b.request("GET", "auth/password/reset", undefined, { "x-password-reset-key": theCode })).status).toBe(200);
    const byCode = await b.request("POST", "auth/password/reset", { key: theCode, password: newPassword });
    expect(byCode.status).toBe(200);
    expect(byCode.body.data.methods).toEqual([{ method: "password_reset", at: 1000, email: "ann@example.com" }]);
    expect(take(code).names).toEqual(["password_reset", "user_logged_in"]);
    await code.close();
  });

  it("logout wipes the records: the next login in the same browser starts a new list", async () => {
    const h = await setup({ account: emailOnly });
    const client = h.browser();
    await client.request("POST", "auth/login", { email: "ann@example.com", password: goodPassword });
    await client.request("DELETE", "auth/session");
    await advance(h, "7 seconds");
    const again = await client.request("POST", "auth/login", { email: "ann@example.com", password: goodPassword });
    expect(again.body.data.methods).toEqual([{ method: "password", at: 1007, email: "ann@example.com" }]);
    expect(take(h).names).toEqual(["user_logged_in", "user_logged_out", "user_logged_in"]);
    await h.close();
  });

  it("the reauthentication window is measured from the last record only", async () => {
    const h = await setup({ account: { ...emailOnly, reauthenticationRequired: true } });
    const client = h.app();
    await client.request("POST", "auth/login", { email: "ann@example.com", password: goodPassword });
    await advance(h, "299 seconds");
    await client.request("POST", "auth/reauthenticate", { password: goodPassword });
    take(h);
    await advance(h, "200 seconds");
    // 499 s after the login, 200 s after the reauthentication: still within the window.
    const added = await client.request("POST", "account/email", { email: "new@example.com" });
    expect(added.status).toBe(200);
    expect(take(h).names).toEqual(["email_confirmation_sent", "email_added"]);
    await advance(h, "100 seconds");
    const late = await client.request("POST", "account/email", { email: "other@example.com" });
    expect(late.status).toBe(401);
    expect(late.body.data.flows).toEqual([{ id: "reauthenticate" }]);
    expect(take(h).names).toEqual([]);
    await h.close();
  });
});
