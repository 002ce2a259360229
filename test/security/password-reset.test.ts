/**
 * Password reset as a security boundary (SECURITY.md TK-16, TK-17, TK-18): asking for a reset
 * changes nothing about the account; completing one applies the password policy, ends every
 * session of the user, mails a notice and logs nobody in; and no request reaches "set a new
 * password" without the key or code mailed for that very user.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { AuthConfig } from "../../src/config.ts";
import type { Mail } from "../../src/services/mailer.ts";
import { codeFromMail, goodPassword, harness } from "../support/harness.ts";
import type { Client, Harness } from "../support/harness.ts";
import { fastHasher, take } from "../http/support.ts";

const newPassword = "a brand new passphrase 99";
const tables = ["auth_user", "auth_email_address", "auth_session", "auth_flow", "auth_verification", "auth_outbox"];

let h: Harness;

afterEach(async () => {
  await h?.close();
});

async function open(account: AuthConfig["account"] = {}): Promise<Harness> {
  h = await harness({ passwordHasher: fastHasher, account: { loginMethods: ["email"], emailVerification: "optional", ...account } });
  return h;
}

/** Signs `email` up and logs it in on a new app client, which is returned (its session stays). */
async function loggedIn(email = "ann@example.com"): Promise<Client> {
  const client = h.app();
  expect((await client.request("POST", "auth/signup", { email, password: goodPassword })).status).toBe(200);
  await h.query("UPDATE auth_email_address SET verified = 1 WHERE email = ?", email);
  h.takeSignals();
  h.takeMails();
  return client;
}

async function counts(): Promise<Record<string, number>> {
  const result: Record<string, number> = {};
  for (const table of tables) {
    result[table] = await h.count(table);
  }
  return result;
}

async function passwords(): Promise<ReadonlyArray<string>> {
  return (await h.query<{ password: string }>("SELECT password FROM auth_user ORDER BY email")).map((r) => r.password);
}

function resetKey(mail: Mail): string {
  return decodeURIComponent(/password\/reset\/key\/(\S+)/.exec(mail.text)![1]!);
}

describe("requesting a reset changes nothing about the account (TK-16)", () => {
  it("the hash, the sessions and the password login stay; only a key row and its mail are added", async () => {
    await open();
    const session = await loggedIn();
    const before = await counts();
    const hashes = await passwords();
    const [row] = await h.query<{ last_login: number | null; is_active: number }>("SELECT last_login, is_active FROM auth_user");
    const res = await h.app().request("POST", "auth/password/request", { email: "ann@example.com" });
    expect(res.status).toBe(200);
    expect(take(h).names).toEqual([]);
    expect(h.takeMails().map((m) => m.subject)).toEqual(["[example.com] Password Reset Email"]);
    expect(await counts()).toEqual({ ...before, auth_verification: before["auth_verification"]! + 1, auth_outbox: before["auth_outbox"]! + 1 });
    expect(await passwords()).toEqual(hashes);
    expect(await h.query("SELECT last_login, is_active FROM auth_user")).toEqual([row]);
    expect((await session.request("GET", "auth/session")).status).toBe(200);
    expect((await h.app().request("POST", "auth/login", { email: "ann@example.com", password: goodPassword })).status).toBe(200);
  });
});

describe("completing a reset (TK-17)", () => {
  it("a common password is refused and the key stays usable; the reset then ends every session, mails a notice, logs nobody in", async () => {
    await open({ emailNotifications: true });
    const app = await loggedIn();
    const other = h.browser();
    expect((await other.request("POST", "auth/login", { email: "ann@example.com", password: goodPassword })).status).toBe(200);
    h.takeSignals();
    expect((await h.app().request("POST", "auth/password/request", { email: "ann@example.com" })).status).toBe(200);
    const key = resetKey(h.takeMails()[0]!);
    const resetter = h.browser();
    await resetter.request("GET", "config"); // a csrftoken, as a browser on the reset page has

    const before = await counts();
    const hashes = await passwords();
    const common = await resetter.request("POST", "auth/password/reset", { key, password: "password123456789" });
    expect(common.status).toBe(400);
    expect(common.body.errors).toEqual([expect.objectContaining({ param: "password", code: "password_too_common" })]);
    expect(await counts()).toEqual(before);
    expect(await passwords()).toEqual(hashes);
    expect(take(h).names).toEqual([]);
    expect(h.takeMails()).toEqual([]);

    const done = await resetter.request("POST", "auth/password/reset", { key, password: newPassword });
    expect(done.status).toBe(401);
    expect(done.body.meta.is_authenticated).toBe(false);
    expect(take(h).names).toEqual(["password_reset"]);
    expect(done.headers.getSetCookie().filter((c) => c.startsWith("sessionid=") && !/Max-Age=0/.test(c))).toEqual([]);
    expect(resetter.cookies.has("sessionid")).toBe(false);
    expect(await h.count("auth_session")).toBe(0);
    expect((await app.request("GET", "auth/session")).status).toBe(410);
    expect((await other.request("GET", "auth/session")).status).toBe(401);
    expect(h.takeMails().map((m) => [m.to, m.subject])).toEqual([["ann@example.com", "[example.com] Password Reset"]]);
  });
});

describe("no way around the proof (TK-18)", () => {
  it("link mode: a new password without a key, or with a made-up one, is refused and changes nothing", async () => {
    await open();
    await loggedIn();
    expect((await h.app().request("POST", "auth/password/request", { email: "ann@example.com" })).status).toBe(200);
    h.takeMails();
    const before = await counts();
    const hashes = await passwords();
    for (const body of [{ password: newPassword }, { key: "", password: newPassword }, { key: "A".repeat(43), password: newPassword }]) {
      const res = await h.app().request("POST", "auth/password/reset", body);
      expect(res.status).toBe(400);
      expect(res.body.errors).toEqual([expect.objectContaining({ param: "key" })]);
    }
    expect(await counts()).toEqual(before);
    expect(await passwords()).toEqual(hashes);
    expect(take(h).names).toEqual([]);
  });

  it("code mode: no flow answers 409; another user's code in this flow is wrong, and neither password changes", async () => {
    await open({ passwordResetByCodeEnabled: true });
    await loggedIn("ann@example.com");
    await loggedIn("bob@example.com");
    const hashes = await passwords();
    expect((await h.app().request("POST", "auth/password/reset", { key: "BCDF-GHJK", password: newPassword })).status).toBe(409);

    const ann = h.app();
    const bob = h.app();
    expect((await ann.request("POST", "auth/password/request", { email: "ann@example.com" })).status).toBe(401);
    const annCode = codeFromMail(h.takeMails()[0]!);
    expect((await bob.request("POST", "auth/password/request", { email: "bob@example.com" })).status).toBe(401);
    const bobCode = codeFromMail(h.takeMails()[0]!);
    const crossed = await ann.request("POST", "auth/password/reset", { key: bobCode, password: newPassword });
    expect(crossed.status).toBe(400);
    expect(crossed.body.errors).toEqual([expect.objectContaining({ param: "key", code: "incorrect_code" })]);
    expect(await passwords()).toEqual(hashes);
    expect(take(h).names).toEqual([]);
    // Each code still works in its own flow only: Ann's resets Ann.
    expect((await ann.request("POST", "auth/password/reset", { key: annCode, password: newPassword })).status).toBe(401);
    expect(take(h).names).toEqual(["password_reset"]);
    const [annAfter, bobAfter] = await passwords();
    expect(annAfter).not.toBe(hashes[0]);
    expect(bobAfter).toBe(hashes[1]);
  });
});
