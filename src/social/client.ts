/**
 * The openid-client configuration of a provider, and the start of a redirect: discovery for
 * OpenID Connect issuers, hand-built metadata for plain OAuth 2 presets, PKCE S256 always and a
 * nonce for OIDC. openid-client never follows redirects and applies `timeoutSeconds` to every call.
 */
import * as oc from "openid-client";
import { ProviderError, asProviderError } from "./errors.ts";
import type { ProviderConfig } from "./types.ts";

export interface ClientOptions {
  readonly timeoutSeconds: number;
}

/** allauth's `SOCIALACCOUNT_REQUESTS_TIMEOUT`. */
export const defaultClientOptions: ClientOptions = { timeoutSeconds: 5 };

/** The secrets of one redirect; stored with the redirect state, never logged. */
export interface RedirectSecrets {
  readonly state: string;
  readonly nonce: string;
  readonly pkceVerifier: string;
}

/** Whether the provider is found by OpenID Connect discovery (else: plain OAuth 2 endpoints). */
export function usesDiscovery(provider: ProviderConfig): boolean {
  return provider.type !== "dummy" && provider.endpoints === null;
}

/** http is allowed only towards this machine (development and test identity providers). */
export function isLoopbackHttp(url: URL): boolean {
  return url.protocol === "http:" && ["127.0.0.1", "localhost", "[::1]"].includes(url.hostname);
}

function clientAuth(provider: ProviderConfig): oc.ClientAuth {
  const secret = provider.secret ?? "";
  return provider.tokenAuthMethod === "client_secret_basic" ? oc.ClientSecretBasic(secret) : oc.ClientSecretPost(secret);
}

async function configure(provider: ProviderConfig, options: ClientOptions): Promise<oc.Configuration> {
  if (provider.type === "dummy" || provider.clientId === null) {
    throw new ProviderError("unknown", "the provider has no OAuth client");
  }
  if (provider.endpoints !== null) {
    const e = provider.endpoints;
    const config = new oc.Configuration(
      { issuer: e.issuer, authorization_endpoint: e.authorizationEndpoint, token_endpoint: e.tokenEndpoint, userinfo_endpoint: e.userinfoEndpoint },
      provider.clientId,
      provider.secret ?? undefined,
      clientAuth(provider),
    );
    config.timeout = options.timeoutSeconds;
    if (isLoopbackHttp(new URL(e.tokenEndpoint))) {
      oc.allowInsecureRequests(config);
    }
    return config;
  }
  if (provider.serverUrl === null) {
    throw new ProviderError("unknown", "the provider has neither an issuer nor endpoints");
  }
  const issuer = new URL(provider.serverUrl);
  const config = await asProviderError("discovery", () =>
    oc.discovery(issuer, provider.clientId!, provider.secret ?? undefined, clientAuth(provider), {
      timeout: options.timeoutSeconds,
      execute: isLoopbackHttp(issuer) ? [oc.allowInsecureRequests] : [],
    }),
  );
  // Verify the ID token's signature too, although it came straight from the token endpoint.
  oc.enableNonRepudiationChecks(config);
  return config;
}

const cache = new Map<string, { readonly key: string; readonly config: Promise<oc.Configuration> }>();

/** What a cached configuration depends on: a changed provider entry is configured afresh. */
function cacheKey(provider: ProviderConfig, options: ClientOptions): string {
  return JSON.stringify([provider.type, provider.clientId, provider.secret, provider.serverUrl, provider.endpoints, provider.tokenAuthMethod, options.timeoutSeconds]);
}

/** The provider's client configuration, cached per provider id; a failed discovery is forgotten. */
export function clientFor(provider: ProviderConfig, options: ClientOptions): Promise<oc.Configuration> {
  const key = cacheKey(provider, options);
  const hit = cache.get(provider.id);
  if (hit !== undefined && hit.key === key) {
    return hit.config;
  }
  const config = configure(provider, options);
  cache.set(provider.id, { key, config });
  config.catch(() => {
    if (cache.get(provider.id)?.config === config) {
      cache.delete(provider.id);
    }
  });
  return config;
}

/** Drops every cached configuration (tests, configuration reloads). */
export function forgetClients(): void {
  cache.clear();
}

/** Fresh `state`, `nonce` and PKCE verifier from the platform CSPRNG. */
export function newRedirectSecrets(): RedirectSecrets {
  return { state: oc.randomState(), nonce: oc.randomNonce(), pkceVerifier: oc.randomPKCECodeVerifier() };
}

export interface AuthorizationRequest extends RedirectSecrets {
  readonly redirectUri: string;
}

/** The provider's authorization URL for one redirect: PKCE S256, `state`, and `nonce` for OIDC. */
export async function authorizationUrl(
  provider: ProviderConfig,
  request: AuthorizationRequest,
  options: ClientOptions = defaultClientOptions,
): Promise<URL> {
  const config = await clientFor(provider, options);
  const parameters: Record<string, string> = {
    ...provider.authParams,
    redirect_uri: request.redirectUri,
    response_type: "code",
    state: request.state,
    code_challenge: await oc.calculatePKCECodeChallenge(request.pkceVerifier),
    code_challenge_method: "S256",
  };
  const scope = usesDiscovery(provider) && !provider.scope.includes("openid") ? ["openid", ...provider.scope] : provider.scope;
  if (scope.length > 0) {
    parameters["scope"] = scope.join(" ");
  }
  if (usesDiscovery(provider)) {
    parameters["nonce"] = request.nonce;
  }
  return oc.buildAuthorizationUrl(config, parameters);
}
