import type { ProviderConfig } from "../../src/social/types.ts";

export const callback = "http://127.0.0.1:9/accounts/oidc/devidp/login/callback/";
export const secret = "test-client-secret-0123456789abcdef";

export const accounts = {
  alice: { email: "Alice@Example.com", email_verified: true, name: "Alice Liddell", preferred_username: "alice" },
  bob: { email: "bob@example.org", email_verified: false, given_name: "Bob", family_name: "Builder" },
};

export function oidcProvider(issuer: string, overrides: Partial<ProviderConfig> = {}): ProviderConfig {
  return {
    id: "devidp",
    type: "openid_connect",
    name: "Dev IdP",
    clientId: "app",
    secret,
    serverUrl: issuer,
    endpoints: null,
    scope: ["openid", "profile", "email"],
    authParams: {},
    tokenAuthMethod: "client_secret_post",
    fetchUserinfo: true,
    uidField: "sub",
    verifiedEmail: false,
    emailAuthentication: null,
    flows: ["provider_redirect", "provider_token"],
    ...overrides,
  };
}
