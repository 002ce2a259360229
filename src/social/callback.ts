/**
 * The provider's redirect back to us: the callback query is checked (state, error, code), the code
 * is exchanged with the PKCE verifier and, for OpenID Connect, the ID token validated (signature,
 * `iss`, `aud`, `exp`, `nonce`; the `iss` parameter defeats mix-up), then userinfo or the preset's
 * user endpoint is read. Every failure ends as a `ProviderError`.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import * as oc from "openid-client";
import { type ClientOptions, type RedirectSecrets, clientFor, usesDiscovery } from "./client.ts";
import { ProviderError, asProviderError } from "./errors.ts";
import { oauthProfile, oidcProfile } from "./profile.ts";
import type { ProfileTokens, ProviderConfig, SocialProfile } from "./types.ts";

/** What the redirect state remembered about the request that started the round trip. */
export interface ExpectedCallback extends RedirectSecrets {
  /** The exact redirect URI sent in the authorization request. */
  readonly redirectUri: string;
}

export interface CallbackOptions extends ClientOptions {
  /** Epoch milliseconds, to date the tokens' expiry. */
  readonly now: number;
}

/** Longer codes are refused before anything is sent to the provider. */
export const codeMaxLength = 4096;
const singleParameters = ["state", "code", "error", "iss"];

/** The callback query, decoded strictly: bad percent-encoding or a repeated parameter is refused. */
export function readCallbackQuery(callbackUrl: URL): URLSearchParams {
  const parameters = new URLSearchParams();
  const raw = callbackUrl.search.replace(/^\?/, "");
  for (const pair of raw === "" ? [] : raw.split("&")) {
    const at = pair.indexOf("=");
    const [name, value] = at < 0 ? [pair, ""] : [pair.slice(0, at), pair.slice(at + 1)];
    try {
      parameters.append(decodeURIComponent(name.replace(/\+/g, " ")), decodeURIComponent(value.replace(/\+/g, " ")));
    } catch {
      throw new ProviderError("unknown", "the callback query is not valid percent-encoding");
    }
  }
  for (const name of singleParameters) {
    if (parameters.getAll(name).length > 1) {
      throw new ProviderError("unknown", `the callback repeats ${name}`);
    }
  }
  return parameters;
}

function sameSecret(given: string, expected: string): boolean {
  const digest = (value: string) => createHash("sha256").update(value).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

/** Checks the query before any request: state first, then the provider's error, then the code. */
function checkQuery(parameters: URLSearchParams, expected: ExpectedCallback): void {
  const state = parameters.get("state");
  if (state === null || state === "") {
    throw new ProviderError("unknown", "the callback has no state");
  }
  if (!sameSecret(state, expected.state)) {
    throw new ProviderError("unknown", "the callback's state is not this redirect's");
  }
  const error = parameters.get("error");
  if (error !== null) {
    throw error === "access_denied"
      ? new ProviderError("cancelled", "the person cancelled at the provider")
      : new ProviderError("unknown", "the provider answered with an error");
  }
  const code = parameters.get("code");
  if (code === null || code === "") {
    throw new ProviderError("unknown", "the callback has no code");
  }
  if (code.length > codeMaxLength || !/^[\x21-\x7e]+$/.test(code)) {
    throw new ProviderError("unknown", "the callback's code is too long or has characters a code cannot have");
  }
}

function profileTokens(tokens: oc.TokenEndpointResponse, now: number): ProfileTokens {
  return {
    accessToken: tokens.access_token,
    refreshToken: tokens.refresh_token ?? null,
    expiresAt: typeof tokens.expires_in === "number" ? now + tokens.expires_in * 1000 : null,
  };
}

async function readJson(response: Response, context: string): Promise<unknown> {
  if (!response.ok) {
    throw new ProviderError("unknown", `${context} answered ${response.status}`);
  }
  try {
    return await response.json();
  } catch {
    throw new ProviderError("unknown", `${context} did not answer JSON`);
  }
}

async function readOAuthUser(provider: ProviderConfig, config: oc.Configuration, accessToken: string): Promise<{ user: Record<string, unknown>; emails: unknown }> {
  const endpoints = provider.endpoints!;
  const get = (url: string) => oc.fetchProtectedResource(config, accessToken, new URL(url), "GET");
  const user = await readJson(await get(endpoints.userinfoEndpoint), "the user endpoint");
  if (typeof user !== "object" || user === null || Array.isArray(user)) {
    throw new ProviderError("unknown", "the user endpoint did not answer an object");
  }
  let emails: unknown = null;
  if (endpoints.emailsEndpoint !== undefined) {
    const response = await get(endpoints.emailsEndpoint);
    // GitHub documents 404 when the addresses cannot be read.
    emails = response.status === 404 ? null : await readJson(response, "the emails endpoint");
  }
  return { user: user as Record<string, unknown>, emails };
}

/** Completes a redirect round trip: the person as the provider describes them. */
export async function completeCallback(
  provider: ProviderConfig,
  callbackUrl: URL,
  expected: ExpectedCallback,
  options: CallbackOptions,
): Promise<SocialProfile> {
  const parameters = readCallbackQuery(callbackUrl);
  checkQuery(parameters, expected);
  const config = await clientFor(provider, options);
  const currentUrl = await asProviderError("callback", async () => {
    const url = new URL(expected.redirectUri);
    url.search = parameters.toString();
    return url;
  });
  const oidc = usesDiscovery(provider);
  const tokens = await asProviderError("code exchange", () =>
    oc.authorizationCodeGrant(config, currentUrl, {
      pkceCodeVerifier: expected.pkceVerifier,
      expectedState: expected.state,
      ...(oidc ? { expectedNonce: expected.nonce, idTokenExpected: true } : {}),
    }),
  );
  const kept = profileTokens(tokens, options.now);
  if (!oidc) {
    const { user, emails } = await asProviderError("user endpoint", () => readOAuthUser(provider, config, tokens.access_token));
    return oauthProfile(provider, user, emails, kept);
  }
  const claims = tokens.claims();
  if (claims === undefined) {
    throw new ProviderError("unknown", "the token response has no ID token");
  }
  const idToken: Record<string, unknown> = { ...claims };
  if (!provider.fetchUserinfo) {
    return oidcProfile(provider, { id_token: idToken }, kept);
  }
  const userinfo = await asProviderError("userinfo", () => oc.fetchUserInfo(config, tokens.access_token, claims.sub));
  return oidcProfile(provider, { userinfo: { ...userinfo }, id_token: idToken }, kept);
}

