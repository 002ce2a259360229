import { describe, expect, it } from "vitest";
import { codeFromMail, goodPassword, harness } from "../support/harness.ts";
import type { Client, Harness } from "../support/harness.ts";
import { raw } from "./support.ts";

const newPassword = "another long passphrase 77";

async function loggedIn(h: Harness, client: Client, email = "ann@example.com"): Promise<void> {
  const response = await client.request("POST", "auth/signup", { email, password: goodPassword });
  expect(response.status).toBe(200);
  h.takeSignals();
  h.takeMails();
}

const base = { account: { loginMethods: ["email"] as const, emailVerification: "none" as const } };

describe("POST account/password/change", () => {
  it("emits password_changed, keeps this session under a new cookie and ends the user's other sessions (SE-06)", async () => {
    const h = await harness(base);
    const browser = h.browser();
    await loggedIn(h, browser);
    const other = h.app();
    expect((await other.request("POST", "auth/login", { email: "ann@example.com", password: goodPassword })).status).toBe(200);
    h.takeSignals();
    expect(await h.count("auth_session")).toBe(2);
    const oldCookie = browser.cookies.get("sessionid")!;
    const [{ public_id: publicId }] = (await h.query<{ public_id: number }>(
      "SELECT public_id FROM auth_session WHERE id NOT IN (SELECT id FROM auth_session ORDER BY created_at DESC LIMIT 1)",
    )) as [{ public_id: number }];

    const response = await browser.request("POST", "account/password/change", {
      current_password: goodPassword,
      new_password: newPassword,
    });
    expect(response.status).toBe(200);
    expect(response.body.meta.is_authenticated).toBe(true);
    expect(h.takeSignals()).toEqual(["password_changed"]);
    expect(h.signals).toEqual([]);
    expect(await h.count("auth_session")).toBe(1);
    expect((await other.request("GET", "auth/session")).status).toBe(410);
    expect((await browser.request("GET", "auth/session")).status).toBe(200);
    // allauth's update_session_auth_hash: the same session (same public id), under a new cookie.
    expect(browser.cookies.get("sessionid")).not.toBe(oldCookie);
    expect((await h.query<{ public_id: number }>("SELECT public_id FROM auth_session")).map((r) => Number(r.public_id))).toEqual([
      Number(publicId),
    ]);
    const stale = await raw(h, "GET", "browser/v1/auth/session", { headers: { cookie: `sessionid=${oldCookie}` } });
    expect([stale.status, stale.body.meta.is_authenticated]).toEqual([401, false]);

    await browser.request("DELETE", "auth/session");
    const old = await browser.request("POST", "auth/login", { email: "ann@example.com", password: goodPassword });
    expect(old.status).toBe(400);
    const fresh = await browser.request("POST", "auth/login", { email: "ann@example.com", password: newPassword });
    expect(fresh.status).toBe(200);
    await h.close();
  });

  it("an app session gets its new token in meta.session_token; the old token is gone and the pending flows stay (SE-06)", async () => {
    const h = await harness({ account: { ...base.account, emailVerificationByCodeEnabled: true, emailVerification: "mandatory" } });
    const app = h.app();
    expect((await app.request("POST", "auth/signup", { email: "ann@example.com", password: goodPassword })).status).toBe(401);
    expect((await app.request("POST", "auth/email/verify", { key: codeFromMail(h.takeMails()[0]!) })).status).toBe(200);
    h.takeSignals();
    // A code-mode add waits in the session for its code.
    expect((await app.request("POST", "account/email", { email: "second@example.com" })).status).toBe(200);
    const code = codeFromMail(h.takeMails()[0]!);
    h.takeSignals();
    const oldToken = app.token!;
    const response = await app.request("POST", "account/password/change", { current_password: goodPassword, new_password: newPassword });
    expect(response.status).toBe(200);
    expect(h.takeSignals()).toEqual(["password_changed"]);
    expect(response.body.meta.session_token).toEqual(expect.any(String));
    expect(app.token).toBe(response.body.meta.session_token);
    expect(app.token).not.toBe(oldToken);
    expect((await raw(h, "GET", "app/v1/auth/session", { headers: { "x-session-token": oldToken } })).status).toBe(410);
    expect((await app.request("GET", "auth/session")).status).toBe(200);
    expect((await app.request("POST", "auth/email/verify", { key: code })).status).toBe(200);
    expect(h.takeSignals()).toEqual(["email_added", "email_confirmed"]);
    await h.close();
  });

  it("the user's other app session then answers 410 on any endpoint and its token logs nobody in", async () => {
    const h = await harness(base);
    const browser = h.browser();
    await loggedIn(h, browser);
    const other = h.app();
    await other.request("POST", "auth/login", { email: "ann@example.com", password: goodPassword });
    const token = other.token;
    h.takeSignals();
    await browser.request("POST", "account/password/change", { current_password: goodPassword, new_password: newPassword });
    expect(h.takeSignals()).toEqual(["password_changed"]);
    for (const [method, path, body] of [
      ["GET", "account/email", undefined],
      ["GET", "config", undefined],
      ["POST", "auth/login", { email: "ann@example.com", password: newPassword }],
      ["POST", "account/password/change", { current_password: newPassword, new_password: "yet another passphrase 5" }],
    ] as const) {
      other.token = token;
      const res = await other.request(method, path, body);
      expect([path, res.status, res.body.meta]).toEqual([path, 410, { is_authenticated: null }]);
    }
    expect(h.takeSignals()).toEqual([]);
    expect(await h.count("auth_session")).toBe(1);
    await h.close();
  });

  it("with logoutOnPasswordChange emits user_logged_out (user still set) then password_changed, and answers 401", async () => {
    const h = await harness({ account: { ...base.account, logoutOnPasswordChange: true } });
    const browser = h.browser();
    await loggedIn(h, browser);
    const recorded = h.signals;
    const response = await browser.request("POST", "account/password/change", {
      current_password: goodPassword,
      new_password: newPassword,
    });
    expect(response.status).toBe(401);
    expect(recorded.map((s) => s.type)).toEqual(["user_logged_out", "password_changed"]);
    expect(recorded[0]!.request.user?.email).toBe("ann@example.com");
    expect(recorded[1]!.request.user).toBeNull();
    expect(await h.count("auth_session")).toBe(0);
    await h.close();
  });

  it("refuses a wrong current password with enter_current_password and changes nothing (CR-14)", async () => {
    const h = await harness(base);
    const browser = h.browser();
    await loggedIn(h, browser);
    const [before] = await h.query<{ password: string }>("SELECT password FROM auth_user");
    const response = await browser.request("POST", "account/password/change", {
      current_password: "not my password at all",
      new_password: newPassword,
    });
    expect(response.status).toBe(400);
    expect(response.body.errors).toEqual([
      { code: "enter_current_password", param: "current_password", message: "Please type your current password." },
    ]);
    expect(h.takeSignals()).toEqual([]);
    const [after] = await h.query<{ password: string }>("SELECT password FROM auth_user");
    expect(after!.password).toBe(before!.password);
    await h.close();
  });

  it("asks for the current password when the user has one, and changes nothing (CR-14)", async () => {
    const h = await harness(base);
    const browser = h.browser();
    await loggedIn(h, browser);
    const [before] = await h.query<{ password: string }>("SELECT password FROM auth_user");
    // Without current_password this is the "set password" form, which a user with a password cannot use.
    const response = await browser.request("POST", "account/password/change", { new_password: newPassword });
    expect(response.status).toBe(400);
    expect(response.body.errors[0]).toMatchObject({ code: "required", param: "current_password" });
    expect(h.takeSignals()).toEqual([]);
    const [after] = await h.query<{ password: string }>("SELECT password FROM auth_user");
    expect(after!.password).toBe(before!.password);
    expect((await browser.request("POST", "auth/login", { email: "ann@example.com", password: newPassword })).status).not.toBe(200);
    await h.close();
  });

  it("refuses a weak new password with a reason, before hashing", async () => {
    const h = await harness(base);
    const browser = h.browser();
    await loggedIn(h, browser);
    const response = await browser.request("POST", "account/password/change", {
      current_password: goodPassword,
      new_password: "short",
    });
    expect(response.status).toBe(400);
    expect(response.body.errors[0]).toMatchObject({ code: "password_too_short", param: "new_password" });
    expect(h.takeSignals()).toEqual([]);
    await h.close();
  });

  it("sets a first password with password_set for a user without a usable one", async () => {
    const h = await harness({ account: { ...base.account, emailNotifications: true } });
    const browser = h.browser();
    await loggedIn(h, browser);
    await h.query("UPDATE auth_user SET password = '!unusable'");
    const session = await browser.request("GET", "auth/session");
    expect(session.body.data.user.has_usable_password).toBe(false);
    const response = await browser.request("POST", "account/password/change", { new_password: newPassword });
    expect(response.status).toBe(200);
    expect(response.body.data.user.has_usable_password).toBe(true);
    expect(h.takeSignals()).toEqual(["password_set"]);
    const mails = h.takeMails();
    expect(mails.map((m) => [m.to, m.subject])).toEqual([["ann@example.com", "[example.com] Password Set"]]);
    expect(mails[0]!.text).not.toContain(newPassword);
    await h.close();
  });

  it("mails a notification on change when emailNotifications is on", async () => {
    const h = await harness({ account: { ...base.account, emailNotifications: true } });
    const browser = h.browser();
    await loggedIn(h, browser);
    await browser.request("POST", "account/password/change", { current_password: goodPassword, new_password: newPassword });
    expect(h.takeMails().map((m) => m.subject)).toEqual(["[example.com] Password Changed"]);
    await h.close();
  });

  it("answers 401 to an anonymous session and 429 after five changes a minute", async () => {
    const h = await harness({
      ...base,
      passwordHasher: { hash: async (p) => `fast$${p}`, verify: async (s, p) => s === `fast$${p}` },
    });
    const browser = h.browser();
    expect((await h.browser().request("POST", "account/password/change", { new_password: newPassword })).status).toBe(401);
    await loggedIn(h, browser);
    const statuses: Array<number> = [];
    for (let i = 0; i < 6; i++) {
      const response = await browser.request("POST", "account/password/change", {
        current_password: "wrong wrong wrong wrong",
        new_password: newPassword,
      });
      statuses.push(response.status);
    }
    expect(statuses).toEqual([400, 400, 400, 400, 400, 429]);
    expect(h.takeSignals()).toEqual([]);
    await h.close();
  });
});
