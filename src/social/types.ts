/**
 * The social-account vocabulary shared by the provider layer (`src/social/`), the storage
 * (`src/storage/social.ts`) and the social flows: a provider as configured (plain data), what a
 * provider says about a person (`SocialProfile`, allauth's `SocialLogin` before lookup), and the
 * redirect state that binds a callback to the request that started it.
 */

/** The provider types the library knows (allauth's provider ids). */
export type ProviderType = "openid_connect" | "github" | "google" | "microsoft" | "gitlab" | "apple" | "discord" | "dummy";

/** How a provider's flows may be started (allauth's `supports_redirect` / `supports_token_authentication`). */
export type ProviderFlow = "provider_redirect" | "provider_token";

/**
 * One configured provider (allauth's `SocialApp` with its `settings` merged in, camelCased).
 * `id` is allauth's `provider_id` / `sub_id`: the name in URLs, in `account/providers`, in
 * `SocialAccount.provider`; for presets it defaults to the type.
 */
export interface ProviderConfig {
  readonly id: string;
  readonly type: ProviderType;
  readonly name: string;
  /** Absent only for `dummy`. */
  readonly clientId: string | null;
  readonly secret: string | null;
  /** OIDC: the issuer (discovery at `<serverUrl>/.well-known/openid-configuration`). */
  readonly serverUrl: string | null;
  /** The authorization, token and userinfo endpoints of a plain OAuth 2 preset (no discovery). */
  readonly endpoints: OAuthEndpoints | null;
  readonly scope: ReadonlyArray<string>;
  readonly authParams: Readonly<Record<string, string>>;
  readonly tokenAuthMethod: "client_secret_post" | "client_secret_basic";
  /** OIDC: also read the userinfo endpoint (allauth default true). */
  readonly fetchUserinfo: boolean;
  /** The claim that names the person (allauth's `uid_field`, default `sub`). */
  readonly uidField: string;
  /** allauth's `VERIFIED_EMAIL`: trust every address, or those of these domains. */
  readonly verifiedEmail: boolean | ReadonlyArray<string>;
  /** Per provider `emailAuthentication` (null: the `socialaccount` setting decides). */
  readonly emailAuthentication: boolean | null;
  readonly flows: ReadonlyArray<ProviderFlow>;
}

export interface OAuthEndpoints {
  readonly issuer: string;
  readonly authorizationEndpoint: string;
  readonly tokenEndpoint: string;
  readonly userinfoEndpoint: string;
  /** Where the person's addresses are listed when the user endpoint may omit them (GitHub). */
  readonly emailsEndpoint?: string;
}

/** One address as the provider reports it (allauth's `sociallogin.email_addresses`). */
export interface ProfileEmail {
  readonly email: string;
  readonly verified: boolean;
  readonly primary: boolean;
}

/**
 * What a provider said about a person: allauth's `SocialLogin` before `lookup()`. Produced by the
 * provider layer from a callback or an app token; never holds a secret except `tokens`.
 */
export interface SocialProfile {
  readonly provider: string;
  /** Non-empty, at most 191 characters (allauth's `uid` column). */
  readonly uid: string;
  /** The provider's raw user data (userinfo, else ID-token claims; the dummy form's fields). */
  readonly extraData: Readonly<Record<string, unknown>>;
  /** Cleaned: valid addresses only, the primary first (allauth's `cleanup_email_addresses`). */
  readonly emailAddresses: ReadonlyArray<ProfileEmail>;
  readonly username: string | null;
  readonly firstName: string | null;
  readonly lastName: string | null;
  /** Only kept with `storeTokens`. */
  readonly tokens: ProfileTokens | null;
}

export interface ProfileTokens {
  readonly accessToken: string;
  readonly refreshToken: string | null;
  /** Epoch milliseconds, or null. */
  readonly expiresAt: number | null;
}

/** Why a provider round trip failed, as allauth sends it back (`?error=`). */
export type ProviderErrorCode = "cancelled" | "denied" | "unknown";

/** Which social process a redirect started. */
export type SocialProcess = "login" | "connect";

/**
 * A redirect's state (allauth's stashed state): single use, short-lived, bound to the browser
 * session, the provider and the process (and, for connect, the user).
 */
export interface RedirectState {
  /** The random `state` parameter; stored only as a digest. */
  readonly state: string;
  readonly provider: string;
  readonly process: SocialProcess;
  /** The frontend URL to return to (`callback_url`), already checked against `allowedHosts`. */
  readonly next: string;
  readonly sessionId: string;
  /** Connect: the user who started it. */
  readonly userId: string | null;
  readonly pkceVerifier: string;
  readonly nonce: string;
  /** The exact redirect URI sent to the provider. */
  readonly redirectUri: string;
  readonly createdAt: number;
  readonly expiresAt: number;
}
