/**
 * `DELETE account/providers` end to end, with accounts connected over a real OpenID provider:
 * `social_account_removed` after the row is gone, the last account's guards (`no_password`
 * before `no_verified_email`; SECURITY.md OA-12), checks before reauthentication, and the input
 * errors.
 */
import { SqlClient } from "@effect/sql";
import { Effect, TestContext } from "effect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AuthConfig } from "../../src/config.ts";
import type { Client, Harness } from "../support/harness.ts";
import { keyFromMail } from "../support/harness.ts";
import type { IdentityProvider } from "../support/oidc-provider.ts";
import { socialHarness, socialRoundTrip, startProvider } from "../support/social.ts";
import { advance, expectErrors, expectNotAuthenticated, fastHasher, login, signup, take } from "./support.ts";

let idp: IdentityProvider;
beforeAll(async () => {
  idp = await startProvider();
});
afterAll(async () => {
  await idp.close();
});

const base: Partial<AuthConfig> = { account: { loginMethods: ["email"], emailVerification: "none" }, passwordHasher: fastHasher };

/** A password user logged in on `client`, with `accounts` connected to them. */
async function connectedUser(h: Harness, client: Client, accounts: ReadonlyArray<string>): Promise<string> {
  expect((await signup(h.browser(), { email: "zed@example.com" })).status).toBe(200);
  const res = await login(client, { email: "zed@example.com" });
  expect(res.status).toBe(200);
  for (const account of accounts) {
    await socialRoundTrip(h, client, idp, account, "connect");
  }
  h.takeSignals();
  return res.body.data.user.id;
}

function uids(h: Harness): Promise<Array<string>> {
  return h.query<{ uid: string }>("SELECT uid FROM auth_social_account ORDER BY uid").then((rows) => rows.map((r) => r.uid));
}

function disconnect(client: Client, account: string, provider = "devidp") {
  return client.request("DELETE", "account/providers", { provider, account });
}

describe("disconnecting", () => {
  it("removes the row, then social_account_removed (the row already gone), and answers the remaining list", async () => {
    const h = await socialHarness(idp, base);
    const browser = h.browser();
    const userId = await connectedUser(h, browser, ["alice", "carol"]);
    const seen: Array<number> = [];
    h.auth.signals.on("social_account_removed", async (payload) => {
      const rows = await payload.run(
        Effect.flatMap(SqlClient.SqlClient, (sql) => sql<{ n: number }>`SELECT COUNT(*) AS n FROM auth_social_account WHERE uid = ${payload.socialAccount.uid}`),
      );
      seen.push(Number(rows[0]!.n));
    });
    const res = await disconnect(browser, "alice");
    expect(res.status).toBe(200);
    expect(res.body.data).toEqual([{ uid: "carol", display: "carol@example.com", provider: expect.objectContaining({ id: "devidp", name: "Dev IdP" }) }]);
    const signals = take(h);
    expect(signals.names).toEqual(["social_account_removed"]);
    expect(signals.one("social_account_removed").socialAccount).toMatchObject({ provider: "devidp", uid: "alice", userId });
    expect(seen).toEqual([0]);
    expect(await uids(h)).toEqual(["carol"]);
    await h.close();
  });

  it("an unknown account: 400 account_not_found without a param, nothing removed", async () => {
    const h = await socialHarness(idp, base);
    const browser = h.browser();
    await connectedUser(h, browser, ["alice"]);
    for (const [provider, account] of [["devidp", "carol"], ["dummy", "alice"], ["nope", "alice"]] as const) {
      const res = await disconnect(browser, account, provider);
      expect(res.status).toBe(400);
      expect(res.body.errors).toEqual([{ code: "account_not_found", message: "Unknown account." }]);
    }
    expect(h.takeSignals()).toEqual([]);
    expect(await uids(h)).toEqual(["alice"]);
    await h.close();
  });

  it("another user's account is unknown to me", async () => {
    const h = await socialHarness(idp, base);
    await socialRoundTrip(h, h.browser(), idp, "alice");
    const browser = h.browser();
    await connectedUser(h, browser, ["carol"]);
    const res = await disconnect(browser, "alice");
    expect(res.body.errors).toEqual([{ code: "account_not_found", message: "Unknown account." }]);
    expect(await uids(h)).toEqual(["alice", "carol"]);
    await h.close();
  });

  it("input errors: provider and account are required", async () => {
    const h = await socialHarness(idp, base);
    const browser = h.browser();
    await connectedUser(h, browser, ["alice"]);
    expectErrors(await browser.request("DELETE", "account/providers", {}), [
      { param: "provider", code: "required" },
      { param: "account", code: "required" },
    ]);
    expectErrors(await browser.request("DELETE", "account/providers", { provider: "devidp" }), [{ param: "account", code: "required" }]);
    expect(h.takeSignals()).toEqual([]);
    expect(await uids(h)).toEqual(["alice"]);
    await h.close();
  });

  it("anonymous: 401 for GET and DELETE", async () => {
    const h = await socialHarness(idp, base);
    await socialRoundTrip(h, h.browser(), idp, "alice");
    h.takeSignals();
    const anonymous = h.browser();
    expectNotAuthenticated(await anonymous.request("GET", "account/providers"));
    expectNotAuthenticated(await disconnect(anonymous, "alice"));
    expect(h.takeSignals()).toEqual([]);
    expect(await uids(h)).toEqual(["alice"]);
    await h.close();
  });
});

describe("the last account", () => {
  it("a user without a usable password: no_password for the last one, while a non-last one goes without checks", async () => {
    const h = await socialHarness(idp, base);
    const browser = h.browser();
    await socialRoundTrip(h, browser, idp, "alice");
    await socialRoundTrip(h, browser, idp, "carol", "connect");
    h.takeSignals();
    expect((await disconnect(browser, "carol")).status).toBe(200);
    expect(h.takeSignals()).toEqual(["social_account_removed"]);
    const res = await disconnect(browser, "alice");
    expect(res.status).toBe(400);
    expect(res.body.errors).toEqual([{ code: "no_password", message: "Your account has no password set up." }]);
    expect(h.takeSignals()).toEqual([]);
    expect(await uids(h)).toEqual(["alice"]);
    await h.close();
  });

  it("a social-only user: the last account stays (no writes); once a password is set it goes, and the owner is told (OA-12)", async () => {
    const h = await socialHarness(idp, { ...base, account: { ...base.account, emailNotifications: true } });
    const browser = h.browser();
    await socialRoundTrip(h, browser, idp, "alice");
    h.takeSignals();
    h.takeMails();
    const before = { users: await h.count("auth_user"), addresses: await h.count("auth_email_address") };
    const refused = await disconnect(browser, "alice");
    expect(refused.status).toBe(400);
    expect(refused.body.errors).toEqual([{ code: "no_password", message: "Your account has no password set up." }]);
    expect(h.takeSignals()).toEqual([]);
    expect(h.takeMails()).toEqual([]);
    expect(await uids(h)).toEqual(["alice"]);
    expect({ users: await h.count("auth_user"), addresses: await h.count("auth_email_address") }).toEqual(before);
    expect((await browser.request("POST", "account/password/change", { new_password: "a brand new passphrase 77" })).status).toBe(200);
    expect(h.takeSignals()).toEqual(["password_set"]);
    h.takeMails();
    expect((await disconnect(browser, "alice")).status).toBe(200);
    expect(h.takeSignals()).toEqual(["social_account_removed"]);
    expect(await uids(h)).toEqual([]);
    expect(h.takeMails().map((mail) => [mail.to, mail.subject])).toEqual([["alice@example.com", "[example.com] Third-Party Account Disconnected"]]);
    await h.close();
  });

  describe("under mandatory verification", () => {
    const mandatory: Partial<AuthConfig> = { account: { loginMethods: ["email"], emailVerification: "mandatory" }, passwordHasher: fastHasher };
    const unverify = (h: Harness) => h.query("UPDATE auth_email_address SET verified = ?", 0);

    it("a password but no verified address: no_verified_email; two accounts: the first goes", async () => {
      const h = await socialHarness(idp, mandatory);
      const browser = h.browser();
      const first = h.browser();
      expect((await signup(first, { email: "zed@example.com" })).status).toBe(401);
      const key = keyFromMail(h.takeMails().at(-1)!);
      await first.request("POST", "auth/email/verify", { key });
      expect(h.takeSignals()).toContain("email_confirmed");
      expect((await login(browser, { email: "zed@example.com" })).status).toBe(200);
      await socialRoundTrip(h, browser, idp, "alice", "connect");
      await socialRoundTrip(h, browser, idp, "carol", "connect");
      h.takeSignals();
      // The address is no longer verified (as after an administrator's change).
      await unverify(h);
      expect((await disconnect(browser, "carol")).status).toBe(200);
      expect(h.takeSignals()).toEqual(["social_account_removed"]);
      const res = await disconnect(browser, "alice");
      expect(res.status).toBe(400);
      expect(res.body.errors).toEqual([{ code: "no_verified_email", message: "Your account has no verified email address." }]);
      expect(await uids(h)).toEqual(["alice"]);
      await h.close();
    });

    it("neither a password nor a verified address: no_password is reported first", async () => {
      const h = await socialHarness(idp, mandatory);
      const browser = h.browser();
      await socialRoundTrip(h, browser, idp, "alice");
      expect((await browser.request("GET", "auth/session")).status).toBe(200);
      await unverify(h);
      h.takeSignals();
      const res = await disconnect(browser, "alice");
      expect(res.body.errors).toEqual([{ code: "no_password", message: "Your account has no password set up." }]);
      expect(h.takeSignals()).toEqual([]);
      expect(await uids(h)).toEqual(["alice"]);
      await h.close();
    });
  });
});

describe("with reauthenticationRequired", () => {
  const stale = { ...base, account: { ...base.account, reauthenticationRequired: true } };

  it("an old login: 401 reauthenticate and nothing removed; the checks still answer 400 first (SE-08)", async () => {
    const h = await socialHarness(idp, stale, {}, { layer: TestContext.TestContext });
    const browser = h.browser();
    await connectedUser(h, browser, ["alice", "carol"]);
    await advance(h, "301 seconds");
    const res = await disconnect(browser, "alice");
    expect(res.status).toBe(401);
    expect(res.body.data.flows).toEqual([{ id: "reauthenticate" }]);
    expect(res.body.meta.is_authenticated).toBe(true);
    const unknown = await disconnect(browser, "bob");
    expect(unknown.status).toBe(400);
    expect(unknown.body.errors).toEqual([{ code: "account_not_found", message: "Unknown account." }]);
    expect(h.takeSignals()).toEqual([]);
    expect(await uids(h)).toEqual(["alice", "carol"]);
    const again = await browser.request("POST", "auth/reauthenticate", { password: "correct horse battery staple 42" });
    expect(again.status).toBe(200);
    expect((await disconnect(browser, "alice")).status).toBe(200);
    expect(h.takeSignals()).toEqual(["social_account_removed"]);
    await h.close();
  });
});
