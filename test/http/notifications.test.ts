/**
 * Who receives each security notification (`emailNotifications`), as allauth's
 * `send_notification_mail` decides: the account's primary address, except "email changed",
 * which goes to the address it changed from.
 */
import { describe, expect, it } from "vitest";
import type { AuthConfig } from "../../src/config.ts";
import { goodPassword, harness } from "../support/harness.ts";
import type { Harness } from "../support/harness.ts";
import { fastHasher, take } from "./support.ts";

const newPassword = "a brand new passphrase 99";
const account = { loginMethods: ["email"] as const, emailVerification: "none" as const, emailNotifications: true };

/** ann@ (primary) and bob@ (secondary), both verified; the client is logged in. */
async function twoAddresses(config: Partial<AuthConfig> = {}) {
  const h = await harness({ passwordHasher: fastHasher, account, ...config });
  const client = h.browser();
  await client.request("POST", "auth/signup", { email: "ann@example.com", password: goodPassword });
  await client.request("POST", "account/email", { email: "bob@example.com" });
  await h.query("UPDATE auth_email_address SET verified = 1");
  take(h);
  h.takeMails();
  return { h, client };
}

function sent(h: Harness): Array<[string, string]> {
  return h.takeMails().map((m) => [m.to, m.subject]);
}

describe("security notifications", () => {
  it("email changed (new primary): to the old primary address", async () => {
    const { h, client } = await twoAddresses();
    const res = await client.request("PATCH", "account/email", { email: "bob@example.com", primary: true });
    expect(res.status).toBe(200);
    expect(take(h).names).toEqual(["email_changed"]);
    expect(sent(h)).toEqual([["ann@example.com", "[example.com] Email Changed"]]);
    await h.close();
  });

  it("email removed: to the primary address, naming the removed one", async () => {
    const { h, client } = await twoAddresses();
    const res = await client.request("DELETE", "account/email", { email: "bob@example.com" });
    expect(res.status).toBe(200);
    expect(take(h).names).toEqual(["email_removed"]);
    const mails = h.takeMails();
    expect(mails.map((m) => m.to)).toEqual(["ann@example.com"]);
    expect(mails[0]!.subject).toBe("[example.com] Email Removed");
    expect(mails[0]!.text).toContain("bob@example.com");
    await h.close();
  });

  it("email removed with no address left: nobody to tell, no mail", async () => {
    const h = await harness({
      passwordHasher: fastHasher,
      account: { ...account, loginMethods: ["username"], signupFields: ["username*", "email", "password1*"] },
    });
    const client = h.app();
    await client.request("POST", "auth/signup", { username: "carol", email: "carol@example.com", password: goodPassword });
    take(h);
    h.takeMails();
    const res = await client.request("DELETE", "account/email", { email: "carol@example.com" });
    expect(res.status).toBe(200);
    expect(take(h).names).toEqual(["email_removed"]);
    expect(sent(h)).toEqual([]);
    await h.close();
  });

  it("password changed: to the primary address, whichever address the session logged in with", async () => {
    const { h } = await twoAddresses();
    const other = h.app();
    expect((await other.request("POST", "auth/login", { email: "bob@example.com", password: goodPassword })).status).toBe(200);
    take(h);
    const res = await other.request("POST", "account/password/change", { current_password: goodPassword, new_password: newPassword });
    expect(res.status).toBe(200);
    expect(take(h).names).toEqual(["password_changed"]);
    expect(sent(h)).toEqual([["ann@example.com", "[example.com] Password Changed"]]);
    await h.close();
  });

  it("password reset requested for the secondary address: the key to it, the notice to the primary", async () => {
    const { h, client } = await twoAddresses();
    await client.request("DELETE", "auth/session");
    take(h);
    const anon = h.app();
    expect((await anon.request("POST", "auth/password/request", { email: "bob@example.com" })).status).toBe(200);
    const [keyMail] = h.takeMails();
    expect([keyMail!.to, keyMail!.subject]).toEqual(["bob@example.com", "[example.com] Password Reset Email"]);
    const key = decodeURIComponent(/password\/reset\/key\/(\S+)/.exec(keyMail!.text)![1]!);
    const res = await anon.request("POST", "auth/password/reset", { key, password: newPassword });
    expect(res.status).toBe(401);
    expect(take(h).names).toEqual(["password_reset"]);
    expect(sent(h)).toEqual([["ann@example.com", "[example.com] Password Reset"]]);
    await h.close();
  });

  it("nothing is mailed with emailNotifications off", async () => {
    const { h, client } = await twoAddresses({ account: { ...account, emailNotifications: false } });
    await client.request("PATCH", "account/email", { email: "bob@example.com", primary: true });
    await client.request("DELETE", "account/email", { email: "ann@example.com" });
    await client.request("POST", "account/password/change", { current_password: goodPassword, new_password: newPassword });
    expect(take(h).names).toEqual(["email_changed", "email_removed", "password_changed"]);
    expect(sent(h)).toEqual([]);
    await h.close();
  });
});
