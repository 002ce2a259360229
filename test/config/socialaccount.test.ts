/**
 * `socialaccount`: providers are plain data resolved over presets, and each kind of mistake in
 * an entry is refused with one `ConfigError` naming the entry's field.
 */
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import { createAuth } from "../../src/auth.ts";
import { ConfigError } from "../../src/config-schema.ts";
import type { AuthConfig } from "../../src/config.ts";
import { resolveConfig } from "../../src/config.ts";
import { testSecret } from "../support/harness.ts";

const dir = mkdtempSync(join(tmpdir(), "authmachines-social-config-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => {
  vi.unstubAllEnvs();
});

/** The message `resolveConfig` throws for these provider entries. */
function refusal(providers: ReadonlyArray<Record<string, unknown>>): string {
  try {
    resolveConfig({ secret: testSecret, socialaccount: { providers } } as unknown as AuthConfig);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).message;
  }
  throw new Error("the config was accepted");
}

const oidc = { type: "openid_connect", id: "devidp", name: "Dev IdP", clientId: "app", secret: "s", serverUrl: "https://idp.example.com" };

describe("socialaccount mistakes", () => {
  it("an unknown provider type lists the known ones", () => {
    expect(refusal([{ type: "facebook", clientId: "x" }])).toBe(
      'socialaccount.providers[0].type: expected a provider type ("openid_connect", "github", "google", "microsoft", "gitlab", "apple", "discord", "dummy"), got "facebook"',
    );
  });

  it("a provider with a client needs its clientId", () => {
    expect(refusal([{ type: "github", secret: "s" }])).toBe('socialaccount.providers[0].clientId: required for provider type "github", missing');
  });

  it("openid_connect needs an absolute http(s) serverUrl, and an id and a name", () => {
    expect(refusal([{ ...oidc, serverUrl: "idp.example.com" }])).toBe(
      'socialaccount.providers[0].serverUrl: expected an absolute http(s) URL, got "idp.example.com"',
    );
    expect(refusal([{ ...oidc, serverUrl: "ftp://idp.example.com" }])).toBe(
      'socialaccount.providers[0].serverUrl: expected an absolute http(s) URL, got "ftp://idp.example.com"',
    );
    const { serverUrl: _url, ...noUrl } = oidc;
    expect(refusal([noUrl])).toBe('socialaccount.providers[0].serverUrl: required for provider type "openid_connect" (the issuer), missing');
    const { name: _name, ...noName } = oidc;
    expect(refusal([noName])).toBe('socialaccount.providers[0].name: required for provider type "openid_connect", missing');
  });

  it("a preset with fixed endpoints takes no serverUrl", () => {
    expect(refusal([{ type: "google", clientId: "c", serverUrl: "https://accounts.example.com" }])).toBe(
      'socialaccount.providers[0].serverUrl: not used by provider type "google" (only openid_connect and gitlab take one)',
    );
  });

  it("two entries with the same id are refused, by default id and by given id", () => {
    expect(refusal([{ type: "github", clientId: "a" }, { type: "github", clientId: "b" }])).toBe(
      'socialaccount.providers[1].type: provider id "github" is already taken by socialaccount.providers[0]',
    );
    expect(refusal([oidc, { type: "google", clientId: "g" }, { ...oidc, name: "Other" }])).toBe(
      'socialaccount.providers[2].id: provider id "devidp" is already taken by socialaccount.providers[0]',
    );
  });

  it("an unknown key in a provider entry lists the known ones", () => {
    expect(refusal([{ type: "github", clientId: "a", clientSecret: "s" }])).toBe(
      "socialaccount.providers[0].clientSecret: unknown setting (known here: type, id, name, clientId, secret, serverUrl, tenant, " +
        "tokenAuthMethod, fetchUserinfo, uidField, scope, authParams, verifiedEmail, emailAuthentication)",
    );
  });

  it("allauth's snake_case app settings suggest the camelCase name", () => {
    expect(refusal([{ type: "openid_connect", id: "x", name: "X", client_id: "a" }])).toBe(
      "socialaccount.providers[0].client_id: unknown setting; did you mean socialaccount.providers[0].clientId? (settings are allauth's names in camelCase)",
    );
    expect(() => resolveConfig({ secret: testSecret, SOCIALACCOUNT_EMAIL_VERIFICATION: "none" } as unknown as AuthConfig)).toThrow(
      "SOCIALACCOUNT_EMAIL_VERIFICATION: unknown setting; did you mean socialaccount.emailVerification? (settings are allauth's names in camelCase)",
    );
  });

  it("a value of the wrong kind names what was expected", () => {
    expect(() => resolveConfig({ secret: testSecret, socialaccount: { stateTimeout: 0 } } as AuthConfig)).toThrow(
      "socialaccount.stateTimeout: expected a positive integer, got 0",
    );
    expect(refusal([{ type: "github", clientId: "a", tokenAuthMethod: "private_key_jwt" }])).toBe(
      'socialaccount.providers[0].tokenAuthMethod: expected "client_secret_post" or "client_secret_basic", got "private_key_jwt"',
    );
    expect(refusal([{ type: "github", clientId: "a", id: "has space" }])).toBe(
      'socialaccount.providers[0].id: expected an id of letters, digits, _ and - (it appears in URLs), got "has space"',
    );
  });

  it("the dummy provider has no client, and createAuth refuses it under NODE_ENV=production before opening anything (LG-08)", async () => {
    expect(refusal([{ type: "dummy", clientId: "x" }])).toBe('socialaccount.providers[0].clientId: the "dummy" provider has no client');
    vi.stubEnv("NODE_ENV", "production");
    const database = `sqlite:${join(dir, "auth.db")}`;
    const error = await createAuth({
      secret: testSecret,
      database,
      mailer: { send: async () => undefined },
      socialaccount: { providers: [{ type: "dummy" }] },
    }).then(
      async (auth) => {
        await auth.close();
        return null;
      },
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toBe(
      'socialaccount.providers[0].type: the "dummy" provider is for development and tests, and is refused when NODE_ENV is "production"',
    );
    expect(readdirSync(dir)).toEqual([]);
    vi.unstubAllEnvs();
    expect(resolveConfig({ secret: testSecret, socialaccount: { providers: [{ type: "dummy" }] } }).socialaccount.providers[0]?.id).toBe("dummy");
  });
});

describe("socialaccount resolution", () => {
  it("defaults: no providers, allauth's settings, the account's verification and email requirement", () => {
    expect(resolveConfig({ secret: testSecret }).socialaccount).toEqual({
      providers: [],
      autoSignup: true,
      emailRequired: false,
      emailVerification: "optional",
      emailAuthentication: false,
      emailAuthenticationAutoConnect: false,
      storeTokens: false,
      requestsTimeout: 5,
      stateTimeout: 600,
    });
    const strict = resolveConfig({ secret: testSecret, account: { loginMethods: ["email"], emailVerification: "mandatory" } });
    expect([strict.socialaccount.emailRequired, strict.socialaccount.emailVerification]).toEqual([true, "mandatory"]);
    const own = resolveConfig({
      secret: testSecret,
      account: { loginMethods: ["email"], emailVerification: "mandatory", signupFields: ["email*", "password1*"] },
      socialaccount: { emailRequired: false, emailVerification: "none" },
    });
    expect([own.socialaccount.emailRequired, own.socialaccount.emailVerification]).toEqual([false, "none"]);
  });

  it("the frontend error URL defaults to allauth's fallback, /", () => {
    expect(resolveConfig({ secret: testSecret }).frontendUrls.socialaccountLoginError).toBe("/");
  });

  it("resolves every preset as data, with the entry's settings over the preset's", () => {
    const providers = resolveConfig({
      secret: testSecret,
      socialaccount: {
        providers: [
          { type: "github", clientId: "gh", secret: "ghs" },
          { type: "google", clientId: "go" },
          { type: "microsoft", clientId: "ms", tenant: "organizations" },
          { type: "gitlab", clientId: "gl", serverUrl: "https://gitlab.example.com" },
          { type: "apple", clientId: "ap", authParams: { extra: "1" } },
          { type: "discord", clientId: "dc", scope: ["identify"] },
          { ...oidc, type: "openid_connect", tokenAuthMethod: "client_secret_basic", verifiedEmail: ["example.com"], emailAuthentication: true },
          { type: "dummy" },
        ],
      },
    }).socialaccount.providers;
    const summary = providers.map((p) => [p.id, p.name, p.clientId, p.serverUrl, p.endpoints?.authorizationEndpoint ?? null, p.scope, p.flows]);
    expect(summary).toEqual([
      ["github", "GitHub", "gh", null, "https://github.com/login/oauth/authorize", ["read:user", "user:email"], ["provider_redirect"]],
      ["google", "Google", "go", "https://accounts.google.com", null, ["openid", "profile", "email"], ["provider_redirect", "provider_token"]],
      ["microsoft", "Microsoft", "ms", "https://login.microsoftonline.com/organizations/v2.0", null, ["openid", "profile", "email"], ["provider_redirect", "provider_token"]],
      ["gitlab", "GitLab", "gl", "https://gitlab.example.com", null, ["openid", "profile", "email"], ["provider_redirect", "provider_token"]],
      ["apple", "Apple", "ap", "https://appleid.apple.com", null, ["name", "email"], ["provider_redirect", "provider_token"]],
      ["discord", "Discord", "dc", null, "https://discord.com/api/oauth2/authorize", ["identify"], ["provider_redirect"]],
      ["devidp", "Dev IdP", "app", "https://idp.example.com", null, ["openid", "profile", "email"], ["provider_redirect", "provider_token"]],
      ["dummy", "Dummy", null, null, null, [], ["provider_redirect", "provider_token"]],
    ]);
    const [github, , microsoft, , apple, , devidp] = providers;
    expect(github!.endpoints).toEqual({
      issuer: "https://github.com/login/oauth",
      authorizationEndpoint: "https://github.com/login/oauth/authorize",
      tokenEndpoint: "https://github.com/login/oauth/access_token",
      userinfoEndpoint: "https://api.github.com/user",
      emailsEndpoint: "https://api.github.com/user/emails",
    });
    expect([github!.uidField, github!.secret, github!.tokenAuthMethod]).toEqual(["id", "ghs", "client_secret_post"]);
    expect(resolveConfig({ secret: testSecret, socialaccount: { providers: [{ type: "microsoft", clientId: "m" }] } }).socialaccount.providers[0]!.serverUrl).toBe(
      "https://login.microsoftonline.com/common/v2.0",
    );
    expect(microsoft!.uidField).toBe("sub");
    expect([apple!.fetchUserinfo, apple!.authParams]).toEqual([false, { response_mode: "form_post", extra: "1" }]);
    expect(devidp).toMatchObject({
      tokenAuthMethod: "client_secret_basic",
      fetchUserinfo: true,
      verifiedEmail: ["example.com"],
      emailAuthentication: true,
    });
  });
});
