/**
 * A token an app obtained from the provider itself (`auth/provider/token`). OpenID Connect: the ID
 * token is verified against the issuer's published keys (signature, `iss`, `aud` = our client id,
 * `exp`, `iat`, `sub`), and its claims are the person's data. Dummy: the ID token is the dummy
 * form's fields as JSON. Every failure is a `TokenError` (400 `invalid_token`).
 */
import { type JWTVerifyGetKey, createRemoteJWKSet, jwtVerify } from "jose";
import { type ClientOptions, clientFor, defaultClientOptions, usesDiscovery } from "./client.ts";
import { dummyProfile } from "./dummy.ts";
import { TokenError, safeLabel } from "./errors.ts";
import { oidcProfile } from "./profile.ts";
import type { ProviderConfig, SocialProfile } from "./types.ts";

export interface AppToken {
  readonly idToken?: string | undefined;
  readonly accessToken?: string | undefined;
}

/** Signature algorithms accepted for ID tokens: asymmetric only (no `none`, no HMAC). */
const asymmetric = /^(RS|PS|ES)(256|384|512)$|^EdDSA$|^Ed25519$/;

const keySets = new Map<string, { readonly uri: string; readonly keys: JWTVerifyGetKey }>();

function keySetFor(providerId: string, uri: string, timeoutSeconds: number): JWTVerifyGetKey {
  const hit = keySets.get(providerId);
  if (hit !== undefined && hit.uri === uri) {
    return hit.keys;
  }
  const keys = createRemoteJWKSet(new URL(uri), { timeoutDuration: timeoutSeconds * 1000 });
  keySets.set(providerId, { uri, keys });
  return keys;
}

async function verifyIdToken(provider: ProviderConfig, idToken: string, options: ClientOptions): Promise<SocialProfile> {
  let config;
  try {
    config = await clientFor(provider, options);
  } catch (error) {
    throw new TokenError(`the provider could not be reached: ${safeLabel(error)}`);
  }
  const metadata = config.serverMetadata();
  if (metadata.jwks_uri === undefined) {
    throw new TokenError("the provider publishes no keys");
  }
  const algorithms = (metadata.id_token_signing_alg_values_supported ?? ["RS256"]).filter((alg) => asymmetric.test(alg));
  let claims;
  try {
    ({ payload: claims } = await jwtVerify(idToken, keySetFor(provider.id, metadata.jwks_uri, options.timeoutSeconds), {
      issuer: metadata.issuer,
      audience: provider.clientId!,
      algorithms,
      requiredClaims: ["sub", "exp", "iat"],
      // jose checks `iat` against its clock only under a maximum age: so an ID token dated more than
      // the tolerance ahead (or issued over a day ago) is refused. 30 s is openid-client's tolerance
      // on the browser callback too.
      maxTokenAge: "1 day",
      clockTolerance: 30,
    }));
  } catch (error) {
    throw new TokenError(`the ID token was refused: ${safeLabel(error)}`);
  }
  try {
    return oidcProfile(provider, { ...claims }, null);
  } catch (error) {
    throw new TokenError(`the ID token names nobody: ${safeLabel(error)}`);
  }
}

function verifyDummyToken(idToken: string): SocialProfile {
  let fields: unknown;
  try {
    fields = JSON.parse(idToken);
  } catch {
    throw new TokenError("the dummy token is not JSON");
  }
  if (typeof fields !== "object" || fields === null || Array.isArray(fields)) {
    throw new TokenError("the dummy token is not an object");
  }
  const result = dummyProfile(fields as Record<string, unknown>);
  if (!result.ok) {
    throw new TokenError("the dummy token's fields are invalid");
  }
  return result.profile;
}

/** The person an app token names, or a `TokenError`. Only ID tokens are understood (as allauth). */
export async function verifyAppToken(provider: ProviderConfig, token: AppToken, options: ClientOptions = defaultClientOptions): Promise<SocialProfile> {
  const idToken = token.idToken;
  if (typeof idToken !== "string" || idToken === "") {
    throw new TokenError("an ID token is required");
  }
  if (provider.type === "dummy") {
    return verifyDummyToken(idToken);
  }
  if (!usesDiscovery(provider)) {
    throw new TokenError("the provider does not take app tokens");
  }
  return verifyIdToken(provider, idToken, options);
}
