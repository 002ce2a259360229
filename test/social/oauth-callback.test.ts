import { type Server, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { completeCallback } from "../../src/social/callback.ts";
import { authorizationUrl, forgetClients, newRedirectSecrets } from "../../src/social/client.ts";
import { ProviderError } from "../../src/social/errors.ts";
import type { ProviderConfig } from "../../src/social/types.ts";
import { secret } from "./fixtures.ts";

/** A GitHub-like provider on 127.0.0.1 whose answers each test chooses. */
type Mode = "ok" | "token-302" | "token-500" | "token-html" | "token-hang" | "user-500" | "user-html" | "emails-404";
let mode: Mode = "ok";
let server: Server;
let base: string;
const seen: Array<{ path: string; body: string; authorization: string | undefined }> = [];
const redirectUri = "http://127.0.0.1:9/accounts/github/login/callback/";

beforeAll(async () => {
  forgetClients();
  server = createServer((request, response) => {
    let body = "";
    request.on("data", (chunk: Buffer) => (body += chunk.toString()));
    request.on("end", () => {
      const path = new URL(request.url ?? "/", base).pathname;
      seen.push({ path, body, authorization: request.headers.authorization });
      const json = (status: number, value: unknown) => {
        response.writeHead(status, { "content-type": "application/json" });
        response.end(JSON.stringify(value));
      };
      const html = () => {
        response.writeHead(200, { "content-type": "text/html" });
        response.end("<html>secret-looking body</html>");
      };
      if (path === "/token") {
        if (mode === "token-hang") return;
        if (mode === "token-302") {
          response.writeHead(302, { location: `${base}/token-moved` });
          return response.end();
        }
        if (mode === "token-500") return json(500, { error: "server_error", error_description: "the provider's own words" });
        if (mode === "token-html") return html();
        return json(200, { access_token: "gho_accesstoken", token_type: "bearer", scope: "user:email" });
      }
      if (path === "/token-moved") {
        return json(200, { access_token: "gho_movedtoken", token_type: "bearer", scope: "user:email" });
      }
      if (path === "/user") {
        if (mode === "user-500") return json(500, {});
        if (mode === "user-html") return html();
        return json(200, { id: 583231, login: "octocat", name: "The Octocat", email: null });
      }
      if (path === "/emails") {
        if (mode === "emails-404") return json(404, { message: "Not Found" });
        return json(200, [{ email: "octo@github.example", primary: true, verified: true, visibility: "public" }]);
      }
      json(404, {});
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => {
  server.closeAllConnections();
  return new Promise<void>((resolve) => server.close(() => resolve()));
});
beforeEach(() => {
  mode = "ok";
  seen.length = 0;
});

function github(): ProviderConfig {
  return {
    id: "github",
    type: "github",
    name: "GitHub",
    clientId: "gh-client",
    secret,
    serverUrl: null,
    endpoints: { issuer: base, authorizationEndpoint: `${base}/authorize`, tokenEndpoint: `${base}/token`, userinfoEndpoint: `${base}/user`, emailsEndpoint: `${base}/emails` },
    scope: ["user:email"],
    authParams: { allow_signup: "true" },
    tokenAuthMethod: "client_secret_post",
    fetchUserinfo: true,
    uidField: "id",
    verifiedEmail: false,
    emailAuthentication: null,
    flows: ["provider_redirect"],
  };
}

async function roundTrip(options = { timeoutSeconds: 5, now: 0 }) {
  const secrets = newRedirectSecrets();
  const url = await authorizationUrl(github(), { ...secrets, redirectUri });
  const back = new URL(`${redirectUri}?code=the-code&state=${secrets.state}`);
  return { url, secrets, run: () => completeCallback(github(), back, { ...secrets, redirectUri }, options) };
}

describe("a plain OAuth 2 preset (GitHub-like)", () => {
  it("sends PKCE without a nonce, exchanges the code with the verifier and reads the user and the addresses (OA-01)", async () => {
    const { url, secrets, run } = await roundTrip();
    expect(url.searchParams.get("nonce")).toBeNull();
    expect(url.searchParams.get("code_challenge_method")).toBe("S256");
    expect(url.searchParams.get("scope")).toBe("user:email");
    expect(url.searchParams.get("allow_signup")).toBe("true");
    const profile = await run();
    expect(profile).toMatchObject({
      provider: "github",
      uid: "583231",
      username: "octocat",
      emailAddresses: [{ email: "octo@github.example", verified: true, primary: true }],
      extraData: { id: 583231, login: "octocat" },
      tokens: { accessToken: "gho_accesstoken", refreshToken: null, expiresAt: null },
    });
    expect(seen.map((s) => s.path)).toEqual(["/token", "/user", "/emails"]);
    const token = new URLSearchParams(seen[0]!.body);
    expect(Object.fromEntries(token)).toMatchObject({ grant_type: "authorization_code", code: "the-code", code_verifier: secrets.pkceVerifier, redirect_uri: redirectUri, client_id: "gh-client", client_secret: secret });
    expect(seen[1]!.authorization).toBe("Bearer gho_accesstoken");
  });

  it("keeps going without addresses when the emails endpoint answers 404", async () => {
    mode = "emails-404";
    const profile = await (await roundTrip()).run();
    expect([profile.uid, profile.emailAddresses]).toEqual(["583231", []]);
  });

  for (const [failing, reason] of [
    ["token-500", /^code exchange: /],
    ["token-html", /^code exchange: /],
    ["user-500", /^the user endpoint answered 500$/],
    ["user-html", /^the user endpoint did not answer JSON$/],
  ] as const) {
    it(`ends ${failing} as a ProviderError that repeats nothing the provider sent`, async () => {
      mode = failing;
      const { secrets, run } = await roundTrip();
      const error = await run().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ProviderError);
      const { code, reason: said, message } = error as ProviderError;
      expect(code).toBe("unknown");
      expect(said).toMatch(reason);
      for (const value of ["the-code", "gho_accesstoken", secrets.pkceVerifier, secrets.state, secret, "provider's own words", "secret-looking"]) {
        expect(message).not.toContain(value);
      }
    });
  }

  it("does not follow a token endpoint's redirect, and exchanges the code once (OA-15)", async () => {
    mode = "token-302";
    const { secrets, run } = await roundTrip();
    const error = await run().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProviderError);
    expect((error as ProviderError).reason).toMatch(/^code exchange: /);
    expect((error as ProviderError).message).not.toContain(secrets.pkceVerifier);
    expect(seen.map((s) => s.path)).toEqual(["/token"]);
  });

  it("ends a provider that never answers as a ProviderError after the timeout (OA-15)", async () => {
    mode = "token-hang";
    const started = performance.now();
    const error = await (await roundTrip({ timeoutSeconds: 1, now: 0 })).run().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProviderError);
    expect((error as ProviderError).reason).toMatch(/^code exchange: .*OAUTH_TIMEOUT/);
    expect(performance.now() - started).toBeLessThan(4000);
  });
});
