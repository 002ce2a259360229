/**
 * Social connect over a real OpenID provider, through the browser's redirect round trip and the
 * app's `auth/provider/token`: a new account, one already mine, one owned by another user, an
 * anonymous or stale session; and email authentication (a verified local address only).
 */
import { TestContext } from "effect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AuthConfig } from "../../src/config.ts";
import type { Client, Harness } from "../support/harness.ts";
import { keyFromMail } from "../support/harness.ts";
import type { IdentityProvider } from "../support/oidc-provider.ts";
import { clientId, frontendCallback, providerToken, socialHarness, socialRoundTrip, startProvider } from "../support/social.ts";
import { advance, fastHasher, login, signup, take } from "./support.ts";

let idp: IdentityProvider;
beforeAll(async () => {
  idp = await startProvider();
});
afterAll(async () => {
  await idp.close();
});

const base: Partial<AuthConfig> = { account: { loginMethods: ["email"], emailVerification: "none" }, passwordHasher: fastHasher };

/** A user with a password, logged in by password on `client` (a fresh `data.methods` record). */
async function passwordUser(h: Harness, client: Client, email = "zed@example.com"): Promise<string> {
  expect((await signup(h.browser(), { email })).status).toBe(200);
  const res = await login(client, { email });
  expect(res.status).toBe(200);
  h.takeSignals();
  return res.body.data.user.id;
}

interface AccountRow {
  readonly user_id: string;
  readonly provider: string;
  readonly uid: string;
  readonly extra_data: string;
}

function accountRows(h: Harness): Promise<ReadonlyArray<AccountRow>> {
  return h.query<AccountRow>("SELECT user_id, provider, uid, extra_data FROM auth_social_account ORDER BY provider, uid");
}

const connectedOther = `${frontendCallback}?error=connected_other&error_process=connect`;

describe("connecting a new account", () => {
  it("browser: pre_social_login → social_account_added, listed in account/providers, no authentication record", async () => {
    const h = await socialHarness(idp, base);
    const browser = h.browser();
    const userId = await passwordUser(h, browser);
    const before = await browser.request("GET", "auth/session");
    expect(await socialRoundTrip(h, browser, idp, "alice", "connect")).toBe(frontendCallback);
    const signals = take(h);
    expect(signals.names).toEqual(["pre_social_login", "social_account_added"]);
    expect(signals.one("pre_social_login").socialLogin).toEqual({ provider: "devidp", uid: "alice", userId: null, isExisting: false });
    expect(signals.one("social_account_added").socialLogin).toEqual({ provider: "devidp", uid: "alice", userId, isExisting: true });
    const after = await browser.request("GET", "auth/session");
    expect(after.status).toBe(200);
    expect(after.body.data.user.id).toBe(userId);
    expect(after.body.data.methods).toEqual(before.body.data.methods);
    const providers = await browser.request("GET", "account/providers");
    expect(providers.status).toBe(200);
    expect(providers.body.data).toEqual([
      {
        uid: "alice",
        display: "alice@example.com",
        provider: {
          id: "devidp",
          name: "Dev IdP",
          flows: ["provider_redirect", "provider_token"],
          client_id: clientId,
          openid_configuration_url: `${idp.issuer}/.well-known/openid-configuration`,
        },
      },
    ]);
    expect((await accountRows(h)).map((r) => [r.user_id, r.provider, r.uid])).toEqual([[userId, "devidp", "alice"]]);
    expect(await h.count("auth_user")).toBe(1);
    await h.close();
  });

  it("app token: 200 as the same user, pre_social_login → social_account_added", async () => {
    const h = await socialHarness(idp, base);
    const app = h.app();
    const userId = await passwordUser(h, app);
    const token = app.token;
    const res = await providerToken(app, idp, "alice", "connect");
    expect(res.status).toBe(200);
    expect(res.body.data.user.id).toBe(userId);
    expect(res.body.meta.is_authenticated).toBe(true);
    expect(app.token).toBe(token);
    expect(take(h).names).toEqual(["pre_social_login", "social_account_added"]);
    expect(res.body.data.methods.map((m: { method: string }) => m.method)).toEqual(["password"]);
    expect((await accountRows(h)).map((r) => r.user_id)).toEqual([userId]);
    await h.close();
  });
});

describe("connecting an account already mine", () => {
  it("browser: social_account_updated → pre_social_login, nothing added", async () => {
    const h = await socialHarness(idp, base);
    const browser = h.browser();
    const userId = await passwordUser(h, browser);
    await socialRoundTrip(h, browser, idp, "alice", "connect");
    h.takeSignals();
    expect(await socialRoundTrip(h, browser, idp, "alice", "connect")).toBe(frontendCallback);
    const signals = take(h);
    expect(signals.names).toEqual(["social_account_updated", "pre_social_login"]);
    expect(signals.one("pre_social_login").socialLogin).toEqual({ provider: "devidp", uid: "alice", userId, isExisting: true });
    expect((await accountRows(h)).map((r) => r.user_id)).toEqual([userId]);
    expect((await browser.request("GET", "auth/session")).body.data.user.id).toBe(userId);
    await h.close();
  });

  it("app token: 200, social_account_updated → pre_social_login", async () => {
    const h = await socialHarness(idp, base);
    const app = h.app();
    const userId = await passwordUser(h, app);
    expect((await providerToken(app, idp, "alice", "connect")).status).toBe(200);
    h.takeSignals();
    const again = await providerToken(app, idp, "alice", "connect");
    expect(again.status).toBe(200);
    expect(again.body.data.user.id).toBe(userId);
    expect(take(h).names).toEqual(["social_account_updated", "pre_social_login"]);
    expect(await h.count("auth_social_account")).toBe(1);
    await h.close();
  });
});

describe("connecting an account owned by another user: refused, the owner's link untouched (OA-11)", () => {
  async function ownedByAlice(h: Harness): Promise<string> {
    await socialRoundTrip(h, h.browser(), idp, "alice");
    const [row] = await accountRows(h);
    h.takeSignals();
    return row!.user_id;
  }

  it("browser: social_account_updated → pre_social_login, then ?error=connected_other, nothing connected", async () => {
    const h = await socialHarness(idp, base);
    const owner = await ownedByAlice(h);
    const browser = h.browser();
    const userId = await passwordUser(h, browser);
    expect(await socialRoundTrip(h, browser, idp, "alice", "connect")).toBe(connectedOther);
    const signals = take(h);
    expect(signals.names).toEqual(["social_account_updated", "pre_social_login"]);
    expect(signals.one("social_account_updated").socialLogin).toMatchObject({ userId: owner, isExisting: true });
    expect((await accountRows(h)).map((r) => r.user_id)).toEqual([owner]);
    expect((await browser.request("GET", "account/providers")).body.data).toEqual([]);
    expect((await browser.request("GET", "auth/session")).body.data.user.id).toBe(userId);
    await h.close();
  });

  it("app token: 400 connected_other without a param", async () => {
    const h = await socialHarness(idp, base);
    const owner = await ownedByAlice(h);
    const app = h.app();
    await passwordUser(h, app);
    const res = await providerToken(app, idp, "alice", "connect");
    expect(res.status).toBe(400);
    expect(res.body.errors).toEqual([{ code: "connected_other", message: "The third-party account is already connected to a different account." }]);
    expect(take(h).names).toEqual(["social_account_updated", "pre_social_login"]);
    expect((await accountRows(h)).map((r) => r.user_id)).toEqual([owner]);
    await h.close();
  });
});

describe("connecting without a logged-in user (OA-10)", () => {
  it("browser: pre_social_login, then ?error=permission_denied; nothing stored", async () => {
    const h = await socialHarness(idp, base);
    const browser = h.browser();
    expect(await socialRoundTrip(h, browser, idp, "alice", "connect")).toBe(`${frontendCallback}?error=permission_denied&error_process=connect`);
    expect(take(h).names).toEqual(["pre_social_login"]);
    expect(await h.count("auth_social_account")).toBe(0);
    expect(await h.count("auth_user")).toBe(0);
    expect((await browser.request("GET", "auth/session")).status).toBe(401);
    await h.close();
  });

  it("app token: 403; nothing stored", async () => {
    const h = await socialHarness(idp, base);
    const res = await providerToken(h.app(), idp, "alice", "connect");
    expect(res.status).toBe(403);
    expect(res.body).toEqual({ status: 403 });
    expect(take(h).names).toEqual(["pre_social_login"]);
    expect(await h.count("auth_social_account")).toBe(0);
    await h.close();
  });
});

describe("connecting with reauthenticationRequired (OA-10)", () => {
  const stale = { ...base, account: { ...base.account, reauthenticationRequired: true } };

  // The provider has just authenticated the person (a fresh sign-in, whatever its ID token says
  // of auth_time, acr or amr): that never counts as our reauthentication (OA-17).
  it("browser: within 300 s it connects; after, ?error=reauthentication_required with pre_social_login only (OA-17)", async () => {
    const h = await socialHarness(idp, stale, {}, { layer: TestContext.TestContext });
    const browser = h.browser();
    await passwordUser(h, browser);
    await advance(h, "299 seconds");
    expect(await socialRoundTrip(h, browser, idp, "carol", "connect")).toBe(frontendCallback);
    expect(h.takeSignals()).toEqual(["pre_social_login", "social_account_added"]);
    await advance(h, "2 seconds");
    expect(await socialRoundTrip(h, browser, idp, "alice", "connect")).toBe(
      `${frontendCallback}?error=reauthentication_required&error_process=connect`,
    );
    expect(take(h).names).toEqual(["pre_social_login"]);
    expect((await accountRows(h)).map((r) => r.uid)).toEqual(["carol"]);
    await h.close();
  });

  it("app token: 401 with the reauthenticate flow, nothing added (SE-08)", async () => {
    const h = await socialHarness(idp, stale, {}, { layer: TestContext.TestContext });
    const app = h.app();
    await passwordUser(h, app);
    await advance(h, "301 seconds");
    const res = await providerToken(app, idp, "alice", "connect");
    expect(res.status).toBe(401);
    expect(res.body.data.flows).toEqual([{ id: "reauthenticate" }]);
    expect(res.body.meta.is_authenticated).toBe(true);
    expect(take(h).names).toEqual(["pre_social_login"]);
    expect(await h.count("auth_social_account")).toBe(0);
    await h.close();
  });
});

describe("email authentication", () => {
  const optional: Partial<AuthConfig> = { account: { loginMethods: ["email"], emailVerification: "optional" }, passwordHasher: fastHasher };

  /** A password user whose address was confirmed by its mail. */
  async function verifiedUser(h: Harness, email: string): Promise<string> {
    const client = h.browser();
    const res = await signup(client, { email });
    expect(res.status).toBe(200);
    const key = keyFromMail(h.takeMails().at(-1)!);
    expect((await client.request("POST", "auth/email/verify", { key })).status).toBe(200);
    h.takeSignals();
    return res.body.data.user.id;
  }

  it("a verified local address logs into that user: pre_social_login → user_logged_in, no account stored", async () => {
    const h = await socialHarness(idp, optional, { emailAuthentication: true });
    const userId = await verifiedUser(h, "alice@example.com");
    const browser = h.browser();
    expect(await socialRoundTrip(h, browser, idp, "alice")).toBe(frontendCallback);
    const signals = take(h);
    expect(signals.names).toEqual(["pre_social_login", "user_logged_in"]);
    expect(signals.one("pre_social_login").socialLogin).toEqual({ provider: "devidp", uid: "alice", userId, isExisting: true });
    expect(signals.one("user_logged_in").user.id).toBe(userId);
    const session = await browser.request("GET", "auth/session");
    expect(session.body.data.user.id).toBe(userId);
    expect(session.body.data.methods.at(-1)).toMatchObject({ method: "socialaccount", provider: "devidp", uid: "alice" });
    expect(await h.count("auth_social_account")).toBe(0);
    expect(await h.count("auth_user")).toBe(1);
    await h.close();
  });

  it("app token, the same match: 200 as that user", async () => {
    const h = await socialHarness(idp, optional, { emailAuthentication: true });
    const userId = await verifiedUser(h, "alice@example.com");
    const res = await providerToken(h.app(), idp, "alice");
    expect(res.status).toBe(200);
    expect(res.body.data.user.id).toBe(userId);
    expect(take(h).names).toEqual(["pre_social_login", "user_logged_in"]);
    expect(await h.count("auth_social_account")).toBe(0);
    await h.close();
  });

  it("with emailAuthenticationAutoConnect: pre_social_login → social_account_added → user_logged_in", async () => {
    const h = await socialHarness(idp, optional, { emailAuthentication: true, emailAuthenticationAutoConnect: true });
    const userId = await verifiedUser(h, "alice@example.com");
    const browser = h.browser();
    expect(await socialRoundTrip(h, browser, idp, "alice")).toBe(frontendCallback);
    const signals = take(h);
    expect(signals.names).toEqual(["pre_social_login", "social_account_added", "user_logged_in"]);
    expect(signals.one("social_account_added").socialLogin).toEqual({ provider: "devidp", uid: "alice", userId, isExisting: true });
    expect((await accountRows(h)).map((r) => [r.user_id, r.uid])).toEqual([[userId, "alice"]]);
    expect((await browser.request("GET", "auth/session")).body.data.user.id).toBe(userId);
    await h.close();
  });

  it("an unverified local address is not matched: no login into that user, the signup form waits", async () => {
    const h = await socialHarness(idp, optional, { emailAuthentication: true, emailAuthenticationAutoConnect: true });
    const owner = h.browser();
    expect((await signup(owner, { email: "alice@example.com" })).status).toBe(200);
    h.takeSignals();
    h.takeMails();
    const browser = h.browser();
    expect(await socialRoundTrip(h, browser, idp, "alice")).toBe(frontendCallback);
    expect(take(h).names).toEqual(["pre_social_login"]);
    const session = await browser.request("GET", "auth/session");
    expect(session.status).toBe(401);
    expect(session.body.data.flows).toContainEqual(expect.objectContaining({ id: "provider_signup", is_pending: true }));
    expect(await h.count("auth_social_account")).toBe(0);
    expect(await h.count("auth_user")).toBe(1);
    // The owner's password was left alone.
    expect((await login(h.browser(), { email: "alice@example.com" })).status).toBe(200);
    await h.close();
  });
});
