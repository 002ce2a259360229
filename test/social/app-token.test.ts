import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyAppToken } from "../../src/social/app-token.ts";
import { forgetClients } from "../../src/social/client.ts";
import { dummyProvider } from "../../src/social/dummy.ts";
import { TokenError } from "../../src/social/errors.ts";
import type { ProviderConfig } from "../../src/social/types.ts";
import { type IdentityProvider, startIdentityProvider } from "../support/oidc-provider.ts";
import { accounts, callback, oidcProvider, secret } from "./fixtures.ts";

let idp: IdentityProvider;
let provider: ProviderConfig;
const seconds = () => Math.floor(Date.now() / 1000);

beforeAll(async () => {
  forgetClients();
  idp = await startIdentityProvider({
    clients: [
      { clientId: "app", secret, redirectUris: [callback] },
      { clientId: "someone-else", secret, redirectUris: [callback] },
    ],
    accounts,
  });
  provider = oidcProvider(idp.issuer);
});
afterAll(() => idp.close());

function base64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString("base64url");
}

async function refused(token: { idToken?: string; accessToken?: string }, p = provider): Promise<TokenError> {
  const error = await verifyAppToken(p, token).then(
    () => expect.fail("the token was accepted"),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(TokenError);
  const tokenError = error as TokenError;
  expect(tokenError.code).toBe("invalid_token");
  for (const value of [token.idToken, token.accessToken, secret].filter((v): v is string => typeof v === "string" && v !== "")) {
    expect(tokenError.message).not.toContain(value);
  }
  return tokenError;
}

describe("an ID token from an app (OIDC)", () => {
  it("accepts a genuine ID token: its claims are the person", async () => {
    const idToken = await idp.idTokenFor("alice", { clientId: "app" });
    const profile = await verifyAppToken(provider, { idToken });
    expect(profile).toMatchObject({
      provider: "devidp",
      uid: "alice",
      emailAddresses: [{ email: "alice@example.com", verified: true, primary: true }],
      username: "alice",
      tokens: null,
    });
    expect(profile.extraData).toMatchObject({ sub: "alice", iss: idp.issuer, aud: "app" });
  });

  it("refuses a token for another audience", async () => {
    const idToken = await idp.idTokenFor("alice", { clientId: "someone-else" });
    expect((await refused({ idToken })).reason).toContain("ERR_JWT_CLAIM_VALIDATION_FAILED");
  });

  it("refuses an expired token, a token from another issuer and one without iat", async () => {
    const now = seconds();
    const claims = { sub: "alice", aud: "app", iss: idp.issuer, iat: now - 7200, exp: now - 3600 };
    expect((await refused({ idToken: await idp.sign(claims) })).reason).toContain("ERR_JWT_EXPIRED");
    await refused({ idToken: await idp.sign({ ...claims, exp: now + 600, iss: "http://127.0.0.1:9" }) });
    const { iat: _iat, ...noIat } = { ...claims, exp: now + 600 };
    await refused({ idToken: await idp.sign(noIat) });
    // The same claims, dated right, pass: the refusals above are about the dates and the issuer.
    expect((await verifyAppToken(provider, { idToken: await idp.sign({ ...claims, iat: now, exp: now + 600 }) })).uid).toBe("alice");
  });

  it("refuses a tampered signature, a tampered payload and alg none", async () => {
    const idToken = await idp.idTokenFor("alice", { clientId: "app" });
    const [header, payload, signature] = idToken.split(".") as [string, string, string];
    const flipped = `${signature.slice(0, -2)}${signature.endsWith("AA") ? "BB" : "AA"}`;
    expect((await refused({ idToken: `${header}.${payload}.${flipped}` })).reason).toContain("ERR_JWS_SIGNATURE_VERIFICATION_FAILED");
    const claims = JSON.parse(Buffer.from(payload, "base64url").toString());
    await refused({ idToken: `${header}.${base64url({ ...claims, sub: "bob" })}.${signature}` });
    await refused({ idToken: `${base64url({ alg: "none" })}.${payload}.` });
    await refused({ idToken: `${base64url({ alg: "HS256", kid: "test-key" })}.${payload}.${signature}` });
  });

  it("requires an ID token: an access token alone or garbage is refused", async () => {
    expect((await refused({ accessToken: "an-access-token" })).reason).toBe("an ID token is required");
    await refused({ idToken: "" });
    await refused({ idToken: "not.a.jwt" });
  });
});

describe("a dummy app token", () => {
  it("reads the dummy form's fields from the JSON", async () => {
    const profile = await verifyAppToken(dummyProvider, { idToken: JSON.stringify({ id: 123, email: "A@B.example", email_verified: true }) });
    expect(profile).toMatchObject({ provider: "dummy", uid: "123", emailAddresses: [{ email: "a@b.example", verified: true, primary: true }] });
  });

  it("refuses invalid JSON, a non-object and invalid fields", async () => {
    await refused({ idToken: "{" }, dummyProvider);
    await refused({ idToken: "[1]" }, dummyProvider);
    await refused({ idToken: JSON.stringify({ email: "a@b.example" }) }, dummyProvider);
    await refused({ idToken: JSON.stringify({ id: 1, email: "not-an-address" }) }, dummyProvider);
  });
});
