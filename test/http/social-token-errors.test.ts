/**
 * `POST auth/provider/token` refusing what it must (SECURITY.md OA-07, ALLAUTH-ERRORS §19): ID
 * tokens for another audience, expired, unsigned or signed by another provider, and every input
 * row of §19. Each is a 400 with the exact errors, and nothing is written or emitted.
 */
import { SignJWT } from "jose";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Client, Harness } from "../support/harness.ts";
import type { IdentityProvider } from "../support/oidc-provider.ts";
import { clientId, clientSecret, socialHarness, startProvider } from "../support/social.ts";

const tables = ["auth_user", "auth_social_account", "auth_email_address", "auth_session"] as const;
const invalidToken = { param: "token", code: "invalid_token", message: "Invalid token." };

let idp: IdentityProvider;
let other: IdentityProvider;
let h: Harness;

beforeAll(async () => {
  idp = await startProvider();
  other = await startProvider();
});
afterAll(async () => {
  await idp.close();
  await other.close();
});
afterEach(async () => {
  await h?.close();
});

async function counts(): Promise<Record<string, number>> {
  return Object.fromEntries(await Promise.all(tables.map(async (table) => [table, await h.count(table)] as const)));
}

/** Posts `body` as each client; every answer is 400 with exactly `errors`, and nothing moves. */
async function expectRefused(body: unknown, errors: ReadonlyArray<Record<string, unknown>>): Promise<void> {
  const before = await counts();
  for (const client of [h.app(), h.browser()] as Array<Client>) {
    const res = await client.request("POST", "auth/provider/token", body);
    expect(res.status, JSON.stringify(body)).toBe(400);
    expect(res.body, JSON.stringify(body)).toEqual({ status: 400, errors });
  }
  expect(h.takeSignals()).toEqual([]);
  expect(await counts()).toEqual(before);
}

const seconds = () => Math.floor(Date.now() / 1000);
const base64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");

/** Claims as the provider would put them in an ID token for alice, now. */
function aliceClaims(issuer: string): Record<string, unknown> {
  return { iss: issuer, sub: "alice", aud: clientId, iat: seconds(), exp: seconds() + 600, email: "alice@example.com", email_verified: true };
}

const login = (idToken: string) => ({ provider: "devidp", process: "login", token: { client_id: clientId, id_token: idToken } });

describe("ID tokens that must be refused", () => {
  it("for another audience, expired, from another issuer, dated or valid only in the future, without sub: invalid_token", async () => {
    h = await socialHarness(idp);
    const claims = aliceClaims(idp.issuer);
    const { sub: _sub, ...noSubject } = claims;
    for (const forged of [
      { ...claims, aud: "another-client" },
      { ...claims, aud: ["another-client", "a-third-client"] },
      { ...claims, iat: seconds() - 3600, exp: seconds() - 60 },
      { ...claims, iss: `${idp.issuer}/elsewhere` },
      { ...claims, iat: seconds() + 86400, exp: seconds() + 2 * 86400 },
      { ...claims, nbf: seconds() + 3600 },
      noSubject,
    ]) {
      await expectRefused(login(await idp.sign(forged)), [invalidToken]);
    }
    expect(await h.count("auth_user")).toBe(0);
  });

  it("alg none, HS256, or the signature dropped: invalid_token", async () => {
    h = await socialHarness(idp);
    const hmac = await new SignJWT(aliceClaims(idp.issuer)).setProtectedHeader({ alg: "HS256", kid: "test-key" }).sign(new TextEncoder().encode(clientSecret));
    await expectRefused(login(hmac), [invalidToken]);
    const payload = base64url(aliceClaims(idp.issuer));
    await expectRefused(login(`${base64url({ alg: "none", typ: "JWT" })}.${payload}.`), [invalidToken]);
    await expectRefused(login(`${base64url({ alg: "none" })}.${payload}`), [invalidToken]);
    const genuine = (await idp.sign(aliceClaims(idp.issuer))).split(".");
    await expectRefused(login(`${genuine[0]}.${genuine[1]}.`), [invalidToken]);
  });

  it("signed by another provider, under its issuer or under ours: invalid_token", async () => {
    h = await socialHarness(idp);
    await expectRefused(login(await other.idTokenFor("alice", { clientId })), [invalidToken]);
    await expectRefused(login(await other.sign(aliceClaims(idp.issuer))), [invalidToken]);
    // The same token signed by our provider is accepted: only the key made the difference.
    const res = await h.app().request("POST", "auth/provider/token", login(await idp.sign(aliceClaims(idp.issuer))));
    expect(res.status).toBe(200);
    expect(h.takeSignals()).toEqual(["pre_social_login", "user_signed_up", "user_logged_in"]);
  });
});

describe("ALLAUTH-ERRORS §19 input rows", () => {
  it("provider, process and token checked together; then client_id, the provider, the token's fields", async () => {
    h = await socialHarness(idp);
    const token = { client_id: clientId, id_token: "x.y.z" };
    const required = (param: string) => ({ param, code: "required", message: "This field is required." });
    await expectRefused({ process: "login", token }, [required("provider")]);
    await expectRefused({ provider: "devidp", token }, [required("process")]);
    await expectRefused({ provider: "devidp", process: "bogus", token }, [
      { param: "process", code: "invalid_choice", message: "Select a valid choice. bogus is not one of the available choices." },
    ]);
    await expectRefused({ provider: "devidp", process: "login" }, [required("token"), invalidToken]);
    await expectRefused({ provider: "devidp", process: "login", token: "x.y.z" }, [invalidToken]);
    await expectRefused({ provider: "devidp", process: "login", token: {} }, [required("token")]);
    await expectRefused({}, [required("provider"), required("process"), required("token"), invalidToken]);
    await expectRefused({ provider: "devidp", process: "login", token: { id_token: "x.y.z" } }, [
      { param: "token", code: "client_id_required", message: "`client_id` required." },
    ]);
    await expectRefused({ provider: "devidp", process: "login", token: { client_id: clientId } }, [
      { param: "token", code: "token_required", message: "`id_token` and/or `access_token` required." },
    ]);
    await expectRefused({ provider: "devidp", process: "login", token: { client_id: clientId, id_token: 7 } }, [
      { param: "token", code: "token_required", message: "`id_token` and/or `access_token` required." },
    ]);
    await expectRefused({ provider: "nosuch", process: "login", token }, [invalidToken]);
    await expectRefused({ provider: "devidp", process: "login", token: { ...token, client_id: "another-client" } }, [invalidToken]);
    await expectRefused({ provider: "devidp", process: "login", token }, [invalidToken]);
  });
});
