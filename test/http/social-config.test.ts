/**
 * Providers in `GET config` and in the 401 flows, as allauth shows them: per client (the browser
 * starts redirects, the app presents tokens), sorted by name in config, in configured order in
 * the flows, and nothing at all without providers.
 */
import { describe, expect, it } from "vitest";
import type { ProviderInput } from "../../src/config.ts";
import { providerJson } from "../../src/http/providers-json.ts";
import { resolveConfig } from "../../src/config.ts";
import { harness, testSecret } from "../support/harness.ts";
import { fastHasher, take } from "./support.ts";

const account = {
  loginMethods: ["email"] as const,
  emailVerification: "none" as const,
  loginByCodeEnabled: true,
  passwordResetByCodeEnabled: true,
};

const providers: ReadonlyArray<ProviderInput> = [
  { type: "github", clientId: "gh-client", secret: "gh-secret" },
  { type: "openid_connect", id: "devidp", name: "Dev IdP", clientId: "dev-client", secret: "dev-secret", serverUrl: "http://127.0.0.1:4000" },
  { type: "dummy" },
  { type: "apple", clientId: "apple-client", secret: "apple-secret" },
];

const github = { id: "github", name: "GitHub", flows: ["provider_redirect"], client_id: "gh-client" };
const devidp = {
  id: "devidp",
  name: "Dev IdP",
  flows: ["provider_redirect", "provider_token"],
  client_id: "dev-client",
  openid_configuration_url: "http://127.0.0.1:4000/.well-known/openid-configuration",
};
const dummy = { id: "dummy", name: "Dummy", flows: ["provider_redirect", "provider_token"] };
const apple = { id: "apple", name: "Apple", flows: ["provider_redirect", "provider_token"], client_id: "apple-client" };

describe("providers in GET config and the 401 flows", () => {
  it("the browser sees the providers it can redirect to, the app those it can give a token to, sorted by name", async () => {
    const h = await harness({ account, passwordHasher: fastHasher, socialaccount: { providers } });
    const browser = await h.browser().request("GET", "config");
    expect(Object.keys(browser.body.data)).toEqual(["account", "socialaccount"]);
    expect(browser.body.data.socialaccount).toEqual({ providers: [apple, devidp, dummy, github] });
    const app = await h.app().request("GET", "config");
    expect(app.body.data.socialaccount).toEqual({ providers: [apple, devidp, dummy] });
    expect(JSON.stringify([browser.body, app.body])).not.toContain("secret");
    expect(take(h).names).toEqual([]);
    await h.close();
  });

  it("a 401 lists provider_redirect (browser only) and provider_token after signup, before password_reset_by_code", async () => {
    const h = await harness({ account, passwordHasher: fastHasher, socialaccount: { providers } });
    const browser = await h.browser().request("GET", "auth/session");
    expect(browser.status).toBe(401);
    expect(browser.body.data.flows).toEqual([
      { id: "login" },
      { id: "login_by_code" },
      { id: "signup" },
      { id: "provider_redirect", providers: ["github", "devidp", "dummy", "apple"] },
      { id: "provider_token", providers: ["devidp", "dummy", "apple"] },
      { id: "password_reset_by_code", is_pending: false },
    ]);
    const app = await h.app().request("GET", "auth/session");
    expect(app.status).toBe(401);
    expect(app.body.data.flows).toEqual([
      { id: "login" },
      { id: "login_by_code" },
      { id: "signup" },
      { id: "provider_token", providers: ["devidp", "dummy", "apple"] },
      { id: "password_reset_by_code", is_pending: false },
    ]);
    await h.close();
  });

  it("an app client with only redirect providers gets an empty list and no provider flow", async () => {
    const h = await harness({ account, passwordHasher: fastHasher, socialaccount: { providers: [providers[0]!] } });
    const app = h.app();
    expect((await app.request("GET", "config")).body.data.socialaccount).toEqual({ providers: [] });
    expect((await app.request("GET", "auth/session")).body.data.flows.map((f: { id: string }) => f.id)).toEqual([
      "login",
      "login_by_code",
      "signup",
      "password_reset_by_code",
    ]);
    const browser = h.browser();
    expect((await browser.request("GET", "auth/session")).body.data.flows).toContainEqual({ id: "provider_redirect", providers: ["github"] });
    expect((await browser.request("GET", "auth/session")).body.data.flows.map((f: { id: string }) => f.id)).not.toContain("provider_token");
    await h.close();
  });

  it("socialaccount settings without providers change neither GET config nor the flows", async () => {
    const h = await harness({ account, passwordHasher: fastHasher, socialaccount: { autoSignup: false, providers: [] } });
    for (const client of [h.browser(), h.app()]) {
      expect(Object.keys((await client.request("GET", "config")).body.data)).toEqual(["account"]);
      expect((await client.request("GET", "auth/session")).body.data.flows).toEqual([
        { id: "login" },
        { id: "login_by_code" },
        { id: "signup" },
        { id: "password_reset_by_code", is_pending: false },
      ]);
    }
    await h.close();
  });

  it("providerJson: openid_configuration_url only for openid_connect, kept when it already names .well-known", () => {
    const resolved = resolveConfig({
      secret: testSecret,
      socialaccount: {
        providers: [
          { type: "openid_connect", id: "wk", name: "WK", clientId: "c", serverUrl: "https://idp.example.com/tenant/.well-known/openid-configuration" },
          { type: "openid_connect", id: "slash", name: "Slash", clientId: "c", serverUrl: "https://idp.example.com/realm/" },
          { type: "google", clientId: "g" },
        ],
      },
    }).socialaccount.providers;
    expect(resolved.map(providerJson)).toEqual([
      { id: "wk", name: "WK", flows: ["provider_redirect", "provider_token"], client_id: "c", openid_configuration_url: "https://idp.example.com/tenant/.well-known/openid-configuration" },
      { id: "slash", name: "Slash", flows: ["provider_redirect", "provider_token"], client_id: "c", openid_configuration_url: "https://idp.example.com/realm/.well-known/openid-configuration" },
      { id: "google", name: "Google", flows: ["provider_redirect", "provider_token"], client_id: "g" },
    ]);
  });
});
