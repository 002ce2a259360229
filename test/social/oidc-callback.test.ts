import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { authorizationUrl, forgetClients, newRedirectSecrets } from "../../src/social/client.ts";
import { completeCallback } from "../../src/social/callback.ts";
import { ProviderError } from "../../src/social/errors.ts";
import type { ProviderConfig } from "../../src/social/types.ts";
import { type IdentityProvider, startIdentityProvider } from "../support/oidc-provider.ts";
import { accounts, callback, oidcProvider, secret } from "./fixtures.ts";

const options = { timeoutSeconds: 5, now: 1_000_000 };
let idp: IdentityProvider;
let other: IdentityProvider;
let provider: ProviderConfig;

beforeAll(async () => {
  forgetClients();
  const clients = [{ clientId: "app", secret, redirectUris: [callback] }];
  idp = await startIdentityProvider({ clients, accounts });
  other = await startIdentityProvider({ clients, accounts });
  provider = oidcProvider(idp.issuer);
});
afterAll(async () => {
  await idp.close();
  await other.close();
});

async function redirect(p = provider, redirectUri = callback) {
  const secrets = newRedirectSecrets();
  const url = await authorizationUrl(p, { ...secrets, redirectUri });
  return { secrets, url, expected: { ...secrets, redirectUri } };
}

/** The failure of `run`, checked to be a ProviderError that repeats none of `secrets`. */
async function failure(run: Promise<unknown>, secrets: ReadonlyArray<string>): Promise<ProviderError> {
  const error = await run.then(
    () => expect.fail("the callback was accepted"),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ProviderError);
  const providerError = error as ProviderError;
  for (const value of [...secrets, secret]) {
    expect(providerError.message).not.toContain(value);
    expect(providerError.reason).not.toContain(value);
  }
  return providerError;
}

function withParam(url: URL, name: string, value: string): URL {
  const changed = new URL(url);
  changed.searchParams.set(name, value);
  return changed;
}

describe("the OIDC redirect and callback", () => {
  it("builds an authorization URL with PKCE S256, state, nonce and the scope", async () => {
    const { secrets, url } = await redirect();
    expect(url.origin).toBe(idp.issuer);
    expect(url.searchParams.get("code_challenge_method")).toBe("S256");
    expect(url.searchParams.get("code_challenge")).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(url.searchParams.get("code_challenge")).not.toBe(secrets.pkceVerifier);
    expect(url.searchParams.get("state")).toBe(secrets.state);
    expect(url.searchParams.get("nonce")).toBe(secrets.nonce);
    expect(url.searchParams.get("scope")).toBe("openid profile email");
    expect(url.searchParams.get("redirect_uri")).toBe(callback);
  });

  it("returns the person named by sub, with the provider-verified address", async () => {
    const { url, expected } = await redirect();
    const back = await idp.signIn(url.href, { account: "alice" });
    expect(back.searchParams.get("iss")).toBe(idp.issuer);
    const profile = await completeCallback(provider, back, expected, options);
    expect(profile).toMatchObject({
      provider: "devidp",
      uid: "alice",
      emailAddresses: [{ email: "alice@example.com", verified: true, primary: true }],
      username: "alice",
      firstName: "Alice",
      lastName: "Liddell",
    });
    expect(profile.extraData["userinfo"]).toMatchObject({ sub: "alice", email: "Alice@Example.com" });
    expect(profile.extraData["id_token"]).toMatchObject({ sub: "alice", iss: idp.issuer, aud: "app", nonce: expected.nonce });
    expect(profile.tokens?.accessToken).toEqual(expect.any(String));
    expect(profile.tokens?.expiresAt).toBeGreaterThan(options.now);
  });

  it("reads the ID token alone without userinfo, and keeps an unverified address unverified", async () => {
    const plain = oidcProvider(idp.issuer, { id: "plain", fetchUserinfo: false });
    const { url, expected } = await redirect(plain);
    const profile = await completeCallback(plain, await idp.signIn(url.href, { account: "bob" }), expected, options);
    expect(profile.uid).toBe("bob");
    expect(Object.keys(profile.extraData)).toEqual(["id_token"]);
    expect(profile.emailAddresses).toEqual([{ email: "bob@example.org", verified: false, primary: true }]);
    expect([profile.firstName, profile.lastName]).toEqual(["Bob", "Builder"]);
  });

  it("refuses a tampered state and a state from another redirect", async () => {
    const first = await redirect();
    const second = await redirect();
    const back = await idp.signIn(first.url.href, { account: "alice" });
    const tampered = await failure(completeCallback(provider, withParam(back, "state", `${first.secrets.state}x`), first.expected, options), [first.secrets.state]);
    expect([tampered.code, tampered.reason]).toEqual(["unknown", "the callback's state is not this redirect's"]);
    const crossed = await failure(completeCallback(provider, back, second.expected, options), [first.secrets.state, second.secrets.state]);
    expect(crossed.code).toBe("unknown");
    // The untouched callback still completes: nothing above spent the code.
    expect((await completeCallback(provider, back, first.expected, options)).uid).toBe("alice");
  });

  it("refuses a wrong nonce", async () => {
    const { url, expected, secrets } = await redirect();
    const back = await idp.signIn(url.href, { account: "alice" });
    const error = await failure(completeCallback(provider, back, { ...expected, nonce: "another-nonce" }, options), [secrets.nonce, secrets.pkceVerifier]);
    expect(error.code).toBe("unknown");
    expect(error.reason).toMatch(/^code exchange: /);
  });

  it("refuses a callback issued by another provider (mix-up, OA-06)", async () => {
    const { url, expected, secrets } = await redirect();
    const foreign = new URL(url.href.replace(idp.issuer, other.issuer));
    const back = await other.signIn(foreign.href, { account: "alice" });
    expect(back.searchParams.get("iss")).toBe(other.issuer);
    const error = await failure(completeCallback(provider, back, expected, options), [secrets.state, back.searchParams.get("code")!]);
    expect(error.code).toBe("unknown");
    const stripped = new URL(back);
    stripped.searchParams.delete("iss");
    expect((await failure(completeCallback(provider, stripped, expected, options), [])).code).toBe("unknown");
  });

  it("refuses a code used twice", async () => {
    const { url, expected } = await redirect();
    const back = await idp.signIn(url.href, { account: "alice" });
    await completeCallback(provider, back, expected, options);
    const error = await failure(completeCallback(provider, back, expected, options), [back.searchParams.get("code")!]);
    expect(error.reason).toContain("invalid_grant");
  });

  it("refuses a redirect URI that differs by one character", async () => {
    const { url, expected } = await redirect();
    const back = await idp.signIn(url.href, { account: "alice" });
    const error = await failure(completeCallback(provider, back, { ...expected, redirectUri: callback.replace(/\/$/, "x") }, options), [back.searchParams.get("code")!]);
    expect(error.reason).toContain("invalid_grant");
    // An authorization request for an unregistered URI never comes back with a code.
    const unregistered = await redirect(provider, `${callback}x`);
    await expect(idp.signIn(unregistered.url.href, { account: "alice" })).rejects.toThrow(/without a redirect/);
  });

  it("maps error=access_denied to cancelled and other errors to unknown", async () => {
    const { url, expected } = await redirect();
    const back = await idp.cancel(url.href);
    expect(back.searchParams.get("error")).toBe("access_denied");
    const cancelled = await failure(completeCallback(provider, back, expected, options), [expected.state]);
    expect(cancelled.code).toBe("cancelled");
    const other = await failure(completeCallback(provider, withParam(back, "error", "server_error"), expected, options), [expected.state]);
    expect(other.code).toBe("unknown");
  });

  it("refuses a callback without a code, with an 8 KB code, with bad percent-encoding, or with code twice (IV-04)", async () => {
    const { url, expected } = await redirect();
    const back = await idp.signIn(url.href, { account: "alice" });
    const noCode = new URL(back);
    noCode.searchParams.delete("code");
    expect((await failure(completeCallback(provider, noCode, expected, options), [expected.state])).reason).toBe("the callback has no code");
    const long = "A".repeat(8192);
    const longError = await failure(completeCallback(provider, withParam(back, "code", long), expected, options), [long, expected.state]);
    expect(longError.reason).toContain("too long");
    const badEncoding = new URL(`${back.href}&code=%E0%A4%A`);
    expect((await failure(completeCallback(provider, badEncoding, expected, options), [expected.state])).reason).toContain("percent-encoding");
    const repeated = new URL(`${back.href}&code=again`);
    expect((await failure(completeCallback(provider, repeated, expected, options), [expected.state])).reason).toBe("the callback repeats code");
    // None of the refusals above reached the provider: the code still works.
    expect((await completeCallback(provider, back, expected, options)).uid).toBe("alice");
  });

  it("refuses a discovery document that names another issuer than the configured one (OA-06)", async () => {
    // Our provider's genuine document, served from another origin: its issuer is not that origin.
    const document = await (await fetch(`${idp.issuer}/.well-known/openid-configuration`)).text();
    const server = createServer((request, response) => {
      response.writeHead(request.url === "/.well-known/openid-configuration" ? 200 : 404, { "content-type": "application/json" });
      response.end(request.url === "/.well-known/openid-configuration" ? document : "{}");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const impostor = oidcProvider(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, { id: "impostor" });
      const error = await failure(authorizationUrl(impostor, { ...newRedirectSecrets(), redirectUri: callback }), []);
      expect(error.reason).toMatch(/^discovery: /);
      // The same document at its own issuer loads.
      expect((await authorizationUrl(provider, { ...newRedirectSecrets(), redirectUri: callback })).origin).toBe(idp.issuer);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it("ends an unreachable provider as a ProviderError", async () => {
    const gone = oidcProvider("http://127.0.0.1:9", { id: "gone" });
    const error = await failure(authorizationUrl(gone, { ...newRedirectSecrets(), redirectUri: callback }, { timeoutSeconds: 1 }), []);
    expect(error.reason).toMatch(/^discovery: /);
  });
});
