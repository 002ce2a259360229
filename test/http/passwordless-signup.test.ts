/**
 * `signupFields` without `password1` (allauth deletes the input's `password` field): the account
 * gets no usable password; its first password is then set through `account/password/change`
 * (`password_set`). With an optional `password1`, an empty password means the same.
 */
import { describe, expect, it } from "vitest";
import type { AccountConfig } from "../../src/config.ts";
import { codeFromMail, goodPassword, harness } from "../support/harness.ts";
import { spyHasher } from "../support/spy-hasher.ts";
import { take } from "./support.ts";

const passwordless: AccountConfig = { loginMethods: ["email"], emailVerification: "none", signupFields: ["email*"] };

async function open(account: AccountConfig) {
  const spy = spyHasher();
  const h = await harness({ passwordHasher: spy.hasher, account });
  spy.reset(); // the dummy hash made at start-up
  return { h, spy };
}

describe("passwordless signup", () => {
  it("creates a user without a usable password, hashing nothing, and logs in (CR-16)", async () => {
    const { h, spy } = await open(passwordless);
    const client = h.browser();
    const res = await client.request("POST", "auth/signup", { email: "ann@example.com" });
    expect(res.status).toBe(200);
    expect(res.body.data.user).toEqual({
      id: expect.any(String),
      display: "ann@example.com",
      email: "ann@example.com",
      has_usable_password: false,
    });
    expect(res.body.data.methods).toEqual([]);
    expect(take(h).names).toEqual(["user_signed_up", "user_logged_in"]);
    expect(spy.hashes).toBe(0);
    const [row] = await h.query<{ password: string }>("SELECT password FROM auth_user");
    expect(row!.password.startsWith("!")).toBe(true);
    expect(row!.password.length).toBeGreaterThan(20);
    await h.close();
  });

  it("no password logs in: a password login fails as a mismatch (CR-16)", async () => {
    const { h } = await open(passwordless);
    await h.app().request("POST", "auth/signup", { email: "ann@example.com" });
    take(h);
    const [row] = await h.query<{ password: string }>("SELECT password FROM auth_user");
    for (const password of [goodPassword, row!.password, row!.password.slice(1)]) {
      const res = await h.app().request("POST", "auth/login", { email: "ann@example.com", password });
      expect(res.status).toBe(400);
      expect(res.body.errors).toEqual([{ param: "password", code: "email_password_mismatch", message: expect.any(String) }]);
    }
    expect(take(h).names).toEqual([]);
    await h.close();
  });

  it("the first password is set through account/password/change: password_set, and it then logs in", async () => {
    const { h, spy } = await open({ ...passwordless, emailNotifications: true });
    const client = h.app();
    await client.request("POST", "auth/signup", { email: "ann@example.com" });
    take(h);
    const set = await client.request("POST", "account/password/change", { new_password: goodPassword });
    expect(set.status).toBe(200);
    expect(set.body.data.user.has_usable_password).toBe(true);
    expect(take(h).names).toEqual(["password_set"]);
    expect(spy.hashes).toBe(1);
    expect(h.takeMails().map((m) => [m.to, m.subject])).toEqual([["ann@example.com", "[example.com] Password Set"]]);
    expect((await client.request("GET", "auth/session")).body.data.user.has_usable_password).toBe(true);

    // Now a password exists: changing it again needs the current one.
    const again = await client.request("POST", "account/password/change", { new_password: "another long passphrase 77" });
    expect(again.status).toBe(400);
    expect(again.body.errors).toEqual([{ param: "current_password", code: "required", message: expect.any(String) }]);

    const other = h.app();
    const login = await other.request("POST", "auth/login", { email: "ann@example.com", password: goodPassword });
    expect(login.status).toBe(200);
    expect(take(h).names).toEqual(["user_logged_in"]);
    await h.close();
  });

  it("with a too short first password: 400 on new_password, nothing set, no signal", async () => {
    const { h } = await open(passwordless);
    const client = h.app();
    await client.request("POST", "auth/signup", { email: "ann@example.com" });
    take(h);
    const res = await client.request("POST", "account/password/change", { new_password: "short" });
    expect(res.status).toBe(400);
    expect(res.body.errors[0]).toMatchObject({ param: "new_password", code: "password_too_short" });
    expect(take(h).names).toEqual([]);
    expect((await client.request("GET", "auth/session")).body.data.user.has_usable_password).toBe(false);
    await h.close();
  });

  it("with an optional password1: a password given is usable, an empty one is not", async () => {
    const { h } = await open({ ...passwordless, signupFields: ["email*", "password1"] });
    const withPassword = await h.app().request("POST", "auth/signup", { email: "ann@example.com", password: goodPassword });
    expect(withPassword.body.data.user.has_usable_password).toBe(true);
    const without = await h.app().request("POST", "auth/signup", { email: "bob@example.com" });
    expect(without.status).toBe(200);
    expect(without.body.data.user.has_usable_password).toBe(false);
    const empty = await h.app().request("POST", "auth/signup", { email: "cid@example.com", password: "" });
    expect(empty.body.data.user.has_usable_password).toBe(false);
    const weak = await h.app().request("POST", "auth/signup", { email: "dee@example.com", password: "short" });
    expect(weak.status).toBe(400);
    expect(weak.body.errors[0]).toMatchObject({ param: "password", code: "password_too_short" });
    expect(take(h).names).toEqual(["user_signed_up", "user_logged_in", "user_signed_up", "user_logged_in", "user_signed_up", "user_logged_in"]);
    await h.close();
  });

  it("in code mode a taken address is hidden at no hashing cost, like a fresh one", async () => {
    const { h, spy } = await open({
      ...passwordless,
      emailVerification: "mandatory",
      emailVerificationByCodeEnabled: true,
      loginByCodeEnabled: true,
    });
    const first = h.browser();
    const fresh = await first.request("POST", "auth/signup", { email: "ann@example.com" });
    expect(fresh.status).toBe(401);
    expect(take(h).names).toEqual(["user_signed_up", "email_confirmation_sent"]);
    const code = codeFromMail(h.takeMails()[0]!);
    const again = await h.browser().request("POST", "auth/signup", { email: "ann@example.com" });
    expect(again.status).toBe(401);
    expect(again.body.data.flows).toEqual(fresh.body.data.flows);
    expect(take(h).names).toEqual([]);
    expect(h.takeMails().map((m) => m.subject)).toEqual(["[example.com] Account Already Exists"]);
    expect(spy.hashes).toBe(0);

    const verified = await first.request("POST", "auth/email/verify", { key: code });
    expect(verified.status).toBe(200);
    expect(verified.body.data.user.has_usable_password).toBe(false);
    expect(take(h).names).toEqual(["email_confirmed", "user_logged_in"]);
    await h.close();
  });
});
