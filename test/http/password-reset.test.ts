import { TestContext } from "effect";
import { describe, expect, it } from "vitest";
import type { Mail } from "../../src/services/mailer.ts";
import { codeFromMail, goodPassword, harness } from "../support/harness.ts";
import type { Client, Harness } from "../support/harness.ts";
import { advance, fastHasher, take } from "./support.ts";

const newPassword = "a brand new passphrase 99";
const base = { loginMethods: ["email"] as const, emailVerification: "optional" as const };

function resetKey(mail: Mail): string {
  const match = /password\/reset\/key\/(\S+)/.exec(mail.text);
  expect(match, mail.text).not.toBeNull();
  return decodeURIComponent(match![1]!);
}

async function account(h: Harness, email = "ann@example.com", verified = true): Promise<void> {
  const client = h.app();
  expect((await client.request("POST", "auth/signup", { email, password: goodPassword })).status).toBe(200);
  if (verified) {
    await h.query("UPDATE auth_email_address SET verified = 1 WHERE email = ?", email);
  }
  await client.request("DELETE", "auth/session");
  h.takeSignals();
  h.takeMails();
}

async function requestLink(h: Harness, client: Client, email = "ann@example.com"): Promise<string> {
  const response = await client.request("POST", "auth/password/request", { email });
  expect(response.status).toBe(200);
  const mails = h.takeMails();
  expect(mails.map((m) => [m.to, m.subject])).toEqual([[email, "[example.com] Password Reset Email"]]);
  return resetKey(mails[0]!);
}

describe("password reset by link", () => {
  it("emits only password_reset, answers 401, and the new password works while the old does not", async () => {
    const h = await harness({ account: base, passwordHasher: fastHasher });
    await account(h);
    const client = h.browser();
    const key = await requestLink(h, client);
    expect(h.takeSignals()).toEqual([]);
    const info = await client.request("GET", "auth/password/reset", undefined, { "x-password-reset-key": key });
    expect(info.status).toBe(200);
    expect(info.body.data.user.email).toBe("ann@example.com");

    const reset = await client.request("POST", "auth/password/reset", { key, password: newPassword });
    expect(reset.status).toBe(401);
    const signals = take(h);
    expect(signals.names).toEqual(["password_reset"]);
    expect(signals.one("password_reset").user.email).toBe("ann@example.com");
    expect((await client.request("POST", "auth/login", { email: "ann@example.com", password: goodPassword })).status).toBe(400);
    expect((await client.request("POST", "auth/login", { email: "ann@example.com", password: newPassword })).status).toBe(200);
    await h.close();
  });

  it("answers an unknown address exactly as a known one and mails it an 'unknown account' notice (EN-04)", async () => {
    const h = await harness({ account: base, passwordHasher: fastHasher });
    await account(h);
    const known = await h.app().request("POST", "auth/password/request", { email: "ann@example.com" });
    const unknown = await h.app().request("POST", "auth/password/request", { email: "nobody@example.com" });
    expect([unknown.status, unknown.body]).toEqual([known.status, known.body]);
    const mails = h.takeMails();
    expect(mails.map((m) => [m.to, m.subject])).toEqual([
      ["ann@example.com", "[example.com] Password Reset Email"],
      ["nobody@example.com", "[example.com] Unknown Account"],
    ]);
    expect(mails[1]!.text).not.toMatch(/reset\/key|[A-Z]{4}-[A-Z]{4}/);
    const resets = await h.query<{ n: number }>("SELECT COUNT(*) AS n FROM auth_verification WHERE purpose = 'password_reset'");
    expect(Number(resets[0]!.n)).toBe(1);
    expect(h.takeSignals()).toEqual([]);
    await h.close();
  });

  it("with loginOnPasswordReset logs in a verified user: password_reset → user_logged_in", async () => {
    const h = await harness({ account: { ...base, loginOnPasswordReset: true }, passwordHasher: fastHasher });
    await account(h);
    const client = h.app();
    const key = await requestLink(h, client);
    const reset = await client.request("POST", "auth/password/reset", { key, password: newPassword });
    expect(reset.status).toBe(200);
    // Link mode records no address (allauth's `perform_password_reset_login`).
    expect(reset.body.data.methods).toEqual([{ method: "password_reset", at: expect.any(Number) }]);
    expect(h.takeSignals()).toEqual(["password_reset", "user_logged_in"]);
    await h.close();
  });

  it("with loginOnPasswordReset and mandatory verification of an unverified address mails a verification instead", async () => {
    const h = await harness(
      { account: { ...base, emailVerification: "mandatory", loginOnPasswordReset: true }, passwordHasher: fastHasher },
      { layer: TestContext.TestContext },
    );
    await h.app().request("POST", "auth/signup", { email: "ann@example.com", password: goodPassword });
    h.takeSignals();
    h.takeMails();
    await advance(h, "181 seconds");
    const client = h.app();
    const key = await requestLink(h, client);
    const reset = await client.request("POST", "auth/password/reset", { key, password: newPassword });
    expect(reset.status).toBe(401);
    expect(reset.body.data.flows).toContainEqual({ id: "verify_email", is_pending: true });
    const signals = take(h);
    expect(signals.names).toEqual(["password_reset", "email_confirmation_sent"]);
    expect(signals.one("email_confirmation_sent").signup).toBe(false);
    expect(h.takeMails().map((m) => m.subject)).toEqual(["[example.com] Please Confirm Your Email Address"]);
    await h.close();
  });

  it("refuses a key used twice, and of two concurrent uses exactly one resets", async () => {
    const h = await harness({ account: base, passwordHasher: fastHasher });
    await account(h);
    const key = await requestLink(h, h.app());
    const [a, b] = await Promise.all([
      h.app().request("POST", "auth/password/reset", { key, password: newPassword }),
      h.app().request("POST", "auth/password/reset", { key, password: "another passphrase 1234" }),
    ]);
    expect([a.status, b.status].sort()).toEqual([400, 401]);
    expect(h.takeSignals()).toEqual(["password_reset"]);
    const again = await h.app().request("POST", "auth/password/reset", { key, password: newPassword });
    expect(again.status).toBe(400);
    expect(again.body.errors[0]).toMatchObject({ code: "invalid_password_reset", param: "key" });
    expect(h.takeSignals()).toEqual([]);
    await h.close();
  });

  it("kills the key when the user logs in, changes the password, or changes their emails (TK-09)", async () => {
    for (const change of ["login", "password", "email"] as const) {
      const h = await harness({ account: base, passwordHasher: fastHasher });
      await account(h);
      const key = await requestLink(h, h.app());
      const user = h.app();
      await user.request("POST", "auth/login", { email: "ann@example.com", password: goodPassword });
      if (change === "password") {
        await user.request("POST", "account/password/change", { current_password: goodPassword, new_password: newPassword });
      } else if (change === "email") {
        await user.request("POST", "account/email", { email: "second@example.com" });
      }
      h.takeSignals();
      const reset = await h.app().request("POST", "auth/password/reset", { key, password: "yet another passphrase 5" });
      expect(reset.status, change).toBe(400);
      expect(h.takeSignals(), change).toEqual([]);
      await h.close();
    }
  });

  it("expires after passwordResetTimeout (one hour)", async () => {
    const h = await harness({ account: base, passwordHasher: fastHasher }, { layer: TestContext.TestContext });
    await account(h);
    const key = await requestLink(h, h.app());
    await advance(h, "3601 seconds");
    expect((await h.app().request("POST", "auth/password/reset", { key, password: newPassword })).status).toBe(400);
    expect(h.takeSignals()).toEqual([]);
    await h.close();
  });

  it("logs another logged-in user out first: user_logged_out → password_reset", async () => {
    const h = await harness({ account: base, passwordHasher: fastHasher });
    await account(h);
    const bob = h.browser();
    await bob.request("POST", "auth/signup", { email: "bob@example.com", password: goodPassword });
    h.takeSignals();
    h.takeMails();
    const key = await requestLink(h, h.app());
    const reset = await bob.request("POST", "auth/password/reset", { key, password: newPassword });
    expect(reset.status).toBe(401);
    const signals = take(h);
    expect(signals.names).toEqual(["user_logged_out", "password_reset"]);
    expect(signals.one("user_logged_out").user?.email).toBe("bob@example.com");
    expect(signals.one("password_reset").user.email).toBe("ann@example.com");
    await h.close();
  });

  it("ends every session of the user and clears the failed-login throttle (TH-07)", async () => {
    const h = await harness({ account: base, passwordHasher: fastHasher });
    await account(h);
    const session = h.app();
    await session.request("POST", "auth/login", { email: "ann@example.com", password: goodPassword });
    const attacker = h.app();
    for (let i = 0; i < 5; i++) {
      await attacker.request("POST", "auth/login", { email: "ann@example.com", password: "wrong wrong wrong wrong" });
    }
    const blocked = await h.app().request("POST", "auth/login", { email: "ann@example.com", password: goodPassword });
    expect(blocked.body.errors[0].code).toBe("too_many_login_attempts");
    const key = await requestLink(h, h.app());
    await h.app().request("POST", "auth/password/reset", { key, password: newPassword });
    expect((await session.request("GET", "auth/session")).status).toBe(410);
    expect((await h.app().request("POST", "auth/login", { email: "ann@example.com", password: newPassword })).status).toBe(200);
    await h.close();
  });

  it("rate-limits requests per address: the sixth in a minute answers 429 and mails nothing", async () => {
    const h = await harness({ account: base, passwordHasher: fastHasher });
    await account(h);
    const statuses: Array<number> = [];
    for (let i = 0; i < 6; i++) {
      statuses.push((await h.app().request("POST", "auth/password/request", { email: "ANN@example.com" })).status);
    }
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
    expect(h.takeMails()).toHaveLength(5);
    await h.close();
  });

  it("mails a notification after the reset when emailNotifications is on", async () => {
    const h = await harness({ account: { ...base, emailNotifications: true }, passwordHasher: fastHasher });
    await account(h);
    const key = await requestLink(h, h.app());
    await h.app().request("POST", "auth/password/reset", { key, password: newPassword });
    expect(h.takeMails().map((m) => m.subject)).toEqual(["[example.com] Password Reset"]);
    await h.close();
  });
});

describe("password reset by code", () => {
  const code = { ...base, passwordResetByCodeEnabled: true };

  it("confirming the code verifies the address (email_confirmed) before the new password: then password_reset", async () => {
    const h = await harness({ account: code, passwordHasher: fastHasher });
    await account(h, "ann@example.com", false);
    const client = h.app();
    const requested = await client.request("POST", "auth/password/request", { email: "ann@example.com" });
    expect(requested.status).toBe(401);
    expect(requested.body.data.flows).toContainEqual({ id: "password_reset_by_code", is_pending: true });
    const mail = h.takeMails()[0]!;
    expect(mail.subject).toBe("[example.com] Password Reset Code");
    const theCode = codeFromMail(mail);

    const confirmed = await client.request("GET", "auth/password/reset", undefined, { "x-password-reset-key": theCode });
    expect(confirmed.status).toBe(200);
    expect(confirmed.body.data.user.email).toBe("ann@example.com");
    let signals = take(h);
    expect(signals.names).toEqual(["email_confirmed"]);
    expect(signals.one("email_confirmed").emailAddress).toMatchObject({ email: "ann@example.com", verified: true });

    const reset = await client.request("POST", "auth/password/reset", { key: theCode, password: newPassword });
    expect(reset.status).toBe(401);
    signals = take(h);
    expect(signals.names).toEqual(["password_reset"]);
    expect((await h.app().request("POST", "auth/login", { email: "ann@example.com", password: newPassword })).status).toBe(200);
    await h.close();
  });

  it("refuses a right code on the fourth try after three wrong ones", async () => {
    const h = await harness({ account: code, passwordHasher: fastHasher });
    await account(h);
    const client = h.app();
    await client.request("POST", "auth/password/request", { email: "ann@example.com" });
    const theCode = codeFromMail(h.takeMails()[0]!);
    for (const wrong of ["BCDF-GHJK", "BCDF-GHJL", "BCDF-GHJM"]) {
      const response = await client.request("POST", "auth/password/reset", { key: wrong, password: newPassword });
      expect(response.status).toBe(400);
      expect(response.body.errors[0].code).toBe("incorrect_code");
    }
    const late = await client.request("POST", "auth/password/reset", { key: theCode, password: newPassword });
    expect(late.status).toBe(409);
    expect(h.takeSignals()).toEqual([]);
    expect((await h.app().request("POST", "auth/login", { email: "ann@example.com", password: goodPassword })).status).toBe(200);
    await h.close();
  });

  it("expires the code after 180 seconds", async () => {
    const h = await harness({ account: code, passwordHasher: fastHasher }, { layer: TestContext.TestContext });
    await account(h);
    const client = h.app();
    await client.request("POST", "auth/password/request", { email: "ann@example.com" });
    const theCode = codeFromMail(h.takeMails()[0]!);
    await advance(h, "181 seconds");
    const late = await client.request("POST", "auth/password/reset", { key: theCode, password: newPassword });
    // allauth: a timed-out process is no process (409).
    expect(late.status).toBe(409);
    expect(h.takeSignals()).toEqual([]);
    await h.close();
  });

  it("gives an unknown address a flow that looks the same and can never succeed", async () => {
    const h = await harness({ account: code, passwordHasher: fastHasher });
    await account(h);
    const real = h.app();
    const fake = h.app();
    const a = await real.request("POST", "auth/password/request", { email: "ann@example.com" });
    const b = await fake.request("POST", "auth/password/request", { email: "nobody@example.com" });
    expect([b.status, Object.keys(b.body.meta).sort(), b.body.data]).toEqual([a.status, Object.keys(a.body.meta).sort(), a.body.data]);
    const wrongA = await real.request("POST", "auth/password/reset", { key: "BCDF-GHJK", password: newPassword });
    const wrongB = await fake.request("POST", "auth/password/reset", { key: "BCDF-GHJK", password: newPassword });
    expect([wrongB.status, wrongB.body]).toEqual([wrongA.status, wrongA.body]);
    await h.close();
  });
});
