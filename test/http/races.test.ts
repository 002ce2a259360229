/**
 * Concurrency (SECURITY.md §10: CC-01, CC-02, CC-03, CC-04, CC-05, CC-06, CC-08): parallel requests
 * against one database end with one winner.
 */
import { describe, expect, it } from "vitest";
import { codeFromMail, goodPassword, harness, keyFromMail } from "../support/harness.ts";
import { emailRows, fastHasher, heldVerifier, loginCodeRequested, raw } from "./support.ts";

describe("races", () => {
  it("50 parallel signups with one email create one account, and every response looks the same (CC-01)", async () => {
    const h = await harness({
      account: { loginMethods: ["email"], emailVerification: "mandatory" },
      passwordHasher: fastHasher,
    });
    const responses = await Promise.all(
      Array.from({ length: 50 }, () => h.app().request("POST", "auth/signup", { email: "race@example.com", password: goodPassword })),
    );
    expect(new Set(responses.map((r) => r.status))).toEqual(new Set([401]));
    expect(new Set(responses.map((r) => JSON.stringify(r.body.data)))).toHaveProperty("size", 1);
    expect(await h.count("auth_user")).toBe(1);
    expect(await h.count("auth_email_address")).toBe(1);
    expect(h.signals.filter((s) => s.type === "user_signed_up")).toHaveLength(1);
    await h.close();
  });

  it("10 parallel confirmations of the right login code log in exactly once (CC-03)", async () => {
    const h = await harness({
      account: { loginMethods: ["email"], emailVerification: "none", loginByCodeEnabled: true },
      passwordHasher: fastHasher,
    });
    const { client, code } = await loginCodeRequested(h);
    const responses = await Promise.all(Array.from({ length: 10 }, () => client.request("POST", "auth/code/confirm", { code })));
    expect(responses.filter((r) => r.status === 200)).toHaveLength(1);
    expect(h.takeSignals()).toEqual(["email_confirmed", "user_logged_in"]);
    await h.close();
  });

  it("10 parallel wrong login codes leave the attempt counter at the limit and the flow aborted (CC-03)", async () => {
    const h = await harness({
      account: { loginMethods: ["email"], emailVerification: "none", loginByCodeEnabled: true },
      passwordHasher: fastHasher,
    });
    await h.app().request("POST", "auth/signup", { email: "ann@example.com", password: goodPassword });
    h.takeMails();
    const client = h.app();
    await client.request("POST", "auth/code/request", { email: "ann@example.com" });
    const code = codeFromMail(h.takeMails()[0]!);
    await Promise.all(
      Array.from({ length: 10 }, (_, i) => client.request("POST", "auth/code/confirm", { code: `BCDF-GH${"JKLMNPQRST"[i]}${"JKLMNPQRST"[i]}` })),
    );
    // The third wrong code ended the flow (its row is gone); the right code then finds none.
    expect(await h.query("SELECT attempts FROM auth_flow WHERE kind = 'login-by-code'")).toEqual([]);
    const late = await client.request("POST", "auth/code/confirm", { code });
    expect(late.status).toBe(409);
    await h.close();
  });

  it("10 parallel resets with one key and different passwords: exactly one wins, and its password is the one stored (CC-04)", async () => {
    const h = await harness({ account: { loginMethods: ["email"], emailVerification: "none" }, passwordHasher: fastHasher });
    await h.app().request("POST", "auth/signup", { email: "ann@example.com", password: goodPassword });
    h.takeMails();
    await h.app().request("POST", "auth/password/request", { email: "ann@example.com" });
    const key = decodeURIComponent(/password\/reset\/key\/(\S+)/.exec(h.takeMails()[0]!.text)![1]!);
    h.takeSignals();
    const passwords = Array.from({ length: 10 }, (_, i) => `the new passphrase number ${i}`);
    const responses = await Promise.all(
      passwords.map((password) => h.app().request("POST", "auth/password/reset", { key, password })),
    );
    const winners = responses.map((r, i) => [r.status, i] as const).filter(([status]) => status === 401);
    expect(winners).toHaveLength(1);
    expect(h.takeSignals()).toEqual(["password_reset"]);
    const [user] = await h.query<{ password: string }>("SELECT password FROM auth_user");
    expect(user!.password).toBe(`fast$${passwords[winners[0]![1]]}`);
    await h.close();
  });

  it("parallel 'make primary' on different addresses leaves exactly one primary (CC-06)", async () => {
    const h = await harness({ account: { loginMethods: ["email"], emailVerification: "none" }, passwordHasher: fastHasher });
    const client = h.app();
    await client.request("POST", "auth/signup", { email: "ann@example.com", password: goodPassword });
    for (const email of ["b@example.com", "c@example.com", "d@example.com"]) {
      await client.request("POST", "account/email", { email });
    }
    await h.query("UPDATE auth_email_address SET verified = 1");
    await Promise.all(
      ["b@example.com", "c@example.com", "d@example.com", "ann@example.com"].map((email) =>
        client.request("PATCH", "account/email", { email, primary: true }),
      ),
    );
    expect((await emailRows(h)).filter((r) => r.is_primary === 1)).toHaveLength(1);
    await h.close();
  });

  it("the same add-email sent twice at once stores one row (CC-02)", async () => {
    const h = await harness({ account: { loginMethods: ["email"], emailVerification: "none" }, passwordHasher: fastHasher });
    const client = h.app();
    await client.request("POST", "auth/signup", { email: "ann@example.com", password: goodPassword });
    h.takeSignals();
    const [a, b] = await Promise.all([
      client.request("POST", "account/email", { email: "b@example.com" }),
      client.request("POST", "account/email", { email: "b@example.com" }),
    ]);
    expect([a.status, b.status].sort()).toEqual([200, 400]);
    expect((await emailRows(h)).filter((r) => r.email === "b@example.com")).toHaveLength(1);
    expect(h.takeSignals().filter((s) => s === "email_added")).toHaveLength(1);
    await h.close();
  });
  it("two users verifying one address at once: exactly one owns it verified (CC-06)", async () => {
    // Without rate limits: the second verification mail to one address would wait out the cooldown.
    const h = await harness({ account: { loginMethods: ["email"], emailVerification: "optional", rateLimits: false }, passwordHasher: fastHasher });
    const clients = [h.app(), h.app()];
    const keys: Array<string> = [];
    for (const [i, client] of clients.entries()) {
      await client.request("POST", "auth/signup", { email: `user${i}@example.com`, password: goodPassword });
      h.takeMails();
      expect((await client.request("POST", "account/email", { email: "shared@example.com" })).status).toBe(200);
      keys.push(keyFromMail(h.takeMails()[0]!));
    }
    await Promise.all(clients.map((client, i) => client.request("POST", "auth/email/verify", { key: keys[i] })));
    expect((await emailRows(h)).filter((r) => r.email === "shared@example.com" && r.verified === 1)).toHaveLength(1);
    expect(h.signals.filter((s) => s.type === "email_confirmed")).toHaveLength(1);
    await h.close();
  });

  it("the same password change sent twice at once changes it once and mails one notice (CC-02)", async () => {
    const h = await harness({ account: { loginMethods: ["email"], emailVerification: "none", emailNotifications: true }, passwordHasher: fastHasher });
    const client = h.app();
    await client.request("POST", "auth/signup", { email: "ann@example.com", password: goodPassword });
    h.takeMails();
    h.takeSignals();
    const change = { current_password: goodPassword, new_password: "a fresh passphrase 123" };
    const token = client.token!;
    const send = () => raw(h, "POST", "app/v1/account/password/change", { headers: { "x-session-token": token }, body: change });
    const answers = await Promise.all([send(), send()]);
    // The loser raced the check (400 enter_current_password), or came after the change had given
    // the session a new token (410: the old one names no session any more), even when its token
    // was still live as it came in and the change committed while it was on its way.
    const statuses = answers.map((r) => r.status).sort();
    expect([[200, 400], [200, 410]]).toContainEqual(statuses);
    expect(h.takeSignals()).toEqual(["password_changed"]);
    expect(h.takeMails().map((m) => m.subject)).toEqual(["[example.com] Password Changed"]);
    await h.close();
  });

  it("two address changes at once: each mailed key verifies its own address or nothing (CC-05)", async () => {
    const h = await harness({
      account: { loginMethods: ["email"], emailVerification: "optional", changeEmail: true, maxEmailAddresses: 2 },
      passwordHasher: fastHasher,
    });
    const client = h.app();
    await client.request("POST", "auth/signup", { email: "ann@example.com", password: goodPassword });
    await h.query("UPDATE auth_email_address SET verified = 1");
    h.takeMails();
    await Promise.all(["a@example.com", "b@example.com"].map((email) => client.request("POST", "account/email", { email })));
    const mails = h.takeMails();
    expect(mails.map((m) => m.to).sort()).toEqual(["a@example.com", "b@example.com"]);
    for (const mail of mails) {
      const before = new Set((await emailRows(h)).filter((r) => r.verified === 1).map((r) => r.email));
      await client.request("POST", "auth/email/verify", { key: keyFromMail(mail) });
      const now = (await emailRows(h)).filter((r) => r.verified === 1).map((r) => r.email);
      expect(now.filter((email) => !before.has(email))).toEqual(expect.arrayContaining([]));
      for (const email of now.filter((e) => !before.has(e))) {
        expect(email).toBe(mail.to);
      }
    }
    const verified = (await emailRows(h)).filter((r) => r.verified === 1).map((r) => r.email);
    expect(verified).toHaveLength(1);
    expect(["a@example.com", "b@example.com"]).toContain(verified[0]);
    await h.close();
  });
  it("a login with the old password racing a password change never leaves a live session with the old password (CC-08)", async () => {
    // The login's password check is held up until the change has committed.
    const held = heldVerifier();
    const h = await harness({ account: { loginMethods: ["email"], emailVerification: "none", logoutOnPasswordChange: true }, passwordHasher: held.hasher });
    const owner = h.app();
    expect((await owner.request("POST", "auth/signup", { email: "ann@example.com", password: goodPassword })).status).toBe(200);
    expect((await owner.request("GET", "auth/session")).status).toBe(200);
    const stamped = await h.query("SELECT last_login FROM auth_user");
    held.arm();
    const intruder = h.app();
    const login = intruder.request("POST", "auth/login", { email: "ann@example.com", password: goodPassword });
    await held.held();
    const change = await owner.request("POST", "account/password/change", { current_password: goodPassword, new_password: "a fresh passphrase 123" });
    // logoutOnPasswordChange ends the changing session too (allauth's LOGOUT_ON_PASSWORD_CHANGE).
    expect([change.status, change.body.meta.is_authenticated]).toEqual([401, false]);
    expect(h.takeSignals()).toContain("password_changed");
    held.release();
    const late = await login;
    // The checked password is no longer the password when the session would start: the login
    // answers as a wrong password would, and keeps nothing (no session, no last-login stamp).
    expect([late.status, late.body.errors?.map((e: { code: string; param?: string }) => [e.code, e.param])]).toEqual([
      400,
      [["email_password_mismatch", "password"]],
    ]);
    expect(intruder.token).toBeNull();
    expect(h.takeSignals()).toEqual([]);
    expect(await h.count("auth_session")).toBe(0);
    expect(await h.query("SELECT last_login FROM auth_user")).toEqual(stamped);
    // The attempt counts against the account as a wrong guess would.
    expect(await h.query("SELECT bucket FROM auth_rate_limit WHERE bucket LIKE 'login_failed:key:%'")).toHaveLength(1);
    await h.close();
  });
});
