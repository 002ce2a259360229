/**
 * `createAuth` options: allauth's setting names camelCased, with allauth's defaults, and the
 * resolved form every other module reads. Options are checked whole before anything is opened
 * (`config-schema.ts` for shapes, `startupChecks` for allauth's start-up checks); a mistake
 * throws one `ConfigError` naming its path.
 */
import type { EmailVerificationMode, FlowSettings, LoginMethod } from "../machines/contracts.ts";
import { ConfigError, validateConfig } from "./config-schema.ts";
import { defaultGroupLimits } from "./runtime/group-commit.ts";
import type { OutboxOptions } from "./runtime/outbox.ts";
import type { WebhookEndpoint } from "./runtime/webhooks.ts";
import type { Mail, MailDelivery } from "./services/mailer.ts";
import type { MailRenderer } from "./mails.ts";
import { renderMail } from "./mails.ts";
import { resolveProviders } from "./social/providers.ts";
import type { ProviderConfig, ProviderType } from "./social/types.ts";

/** allauth's `ACCOUNT_RATE_LIMITS` keys, camelCased; values keep allauth's format. */
export interface RateLimitsConfig {
  readonly signup?: string | false;
  readonly login?: string | false;
  readonly loginFailed?: string | false;
  readonly confirmEmail?: string | false;
  readonly changePassword?: string | false;
  readonly manageEmail?: string | false;
  readonly resetPassword?: string | false;
  readonly resetPasswordFromKey?: string | false;
  readonly reauthenticate?: string | false;
  readonly requestLoginCode?: string | false;
}

export interface AccountConfig {
  readonly loginMethods?: ReadonlyArray<LoginMethod>;
  /** allauth's `ACCOUNT_SIGNUP_FIELDS`: `"email*"` required, `"email"` optional. */
  readonly signupFields?: ReadonlyArray<string>;
  readonly emailVerification?: EmailVerificationMode | boolean;
  readonly emailVerificationByCodeEnabled?: boolean;
  readonly emailVerificationByCodeMaxAttempts?: number;
  readonly emailVerificationByCodeTimeout?: number;
  readonly emailVerificationSupportsResend?: boolean | number;
  readonly emailConfirmationExpireDays?: number;
  readonly emailConfirmationCooldown?: number;
  readonly loginOnEmailConfirmation?: boolean;
  readonly preventEnumeration?: boolean | "strict";
  readonly emailUnknownAccounts?: boolean;
  readonly changeEmail?: boolean;
  /**
   * allauth's `ACCOUNT_EMAIL_VERIFICATION_SUPPORTS_CHANGE`: how often the address may be changed
   * while a signup waits for its code (`true` is 2, `false` none). Code mode only.
   */
  readonly emailVerificationSupportsChange?: boolean | number;
  readonly uniqueEmail?: boolean;
  readonly emailMaxLength?: number;
  readonly usernameMinLength?: number;
  readonly usernameMaxLength?: number;
  readonly usernameBlacklist?: ReadonlyArray<string>;
  /** Django's `MinimumLengthValidator`; 15 here (NIST 800-63B-4 for a single factor). */
  readonly passwordMinLength?: number;
  readonly passwordMaxLength?: number;
  readonly emailSubjectPrefix?: string;
  readonly rateLimits?: RateLimitsConfig | false;
  readonly loginTimeout?: number;
  readonly logoutOnPasswordChange?: boolean;
  readonly loginOnPasswordReset?: boolean;
  readonly emailNotifications?: boolean;
  readonly reauthenticationRequired?: boolean;
  readonly reauthenticationTimeout?: number;
  readonly maxEmailAddresses?: number | null;
  readonly loginByCodeEnabled?: boolean;
  readonly loginByCodeRequired?: boolean | ReadonlyArray<"password" | "socialaccount">;
  readonly loginByCodeTimeout?: number;
  readonly loginByCodeMaxAttempts?: number;
  readonly loginByCodeSupportsResend?: boolean | number;
  readonly passwordResetByCodeEnabled?: boolean;
  readonly passwordResetByCodeTimeout?: number;
  readonly passwordResetByCodeMaxAttempts?: number;
  /** Django's `PASSWORD_RESET_TIMEOUT` in seconds; one hour here (Django: three days). */
  readonly passwordResetTimeout?: number;
  /** allauth's `ACCOUNT_DEFAULT_HTTP_PROTOCOL`: `"https"` forces https in mailed links. */
  readonly defaultHttpProtocol?: "http" | "https";
}

/**
 * allauth's `HEADLESS_FRONTEND_URLS`, camelCased; `{key}` is replaced, percent-encoded. A path
 * (`/account/…`) is made absolute on the origin of the request that sends the mail.
 */
export interface FrontendUrls {
  readonly accountConfirmEmail?: string;
  readonly accountResetPassword?: string;
  readonly accountResetPasswordFromKey?: string;
  readonly accountSignup?: string;
  readonly socialaccountLoginError?: string;
}

/**
 * One `socialaccount.providers` entry: allauth's `SocialApp` with its `settings` merged in,
 * camelCased. Presets fill in the rest (`src/social/providers.ts`).
 */
export interface ProviderInput {
  readonly type: ProviderType;
  /** allauth's `provider_id`: the name in URLs and in stored accounts (default: the type). */
  readonly id?: string;
  readonly name?: string;
  readonly clientId?: string;
  readonly secret?: string;
  /** OIDC issuer: required for `openid_connect`, a self-hosted instance for `gitlab`. */
  readonly serverUrl?: string;
  /** `microsoft`: allauth's `tenant` (default `"common"`). */
  readonly tenant?: string;
  readonly tokenAuthMethod?: "client_secret_post" | "client_secret_basic";
  readonly fetchUserinfo?: boolean;
  readonly uidField?: string;
  readonly scope?: ReadonlyArray<string>;
  readonly authParams?: Readonly<Record<string, string>>;
  /** allauth's `VERIFIED_EMAIL`: trust every address the provider gives, or those of these domains. */
  readonly verifiedEmail?: boolean | ReadonlyArray<string>;
  readonly emailAuthentication?: boolean;
}

/** allauth's `SOCIALACCOUNT_*` settings, camelCased. */
export interface SocialAccountConfig {
  readonly providers?: ReadonlyArray<ProviderInput>;
  readonly autoSignup?: boolean;
  /** Default: whether the account signup requires an email. */
  readonly emailRequired?: boolean;
  /** Default: `account.emailVerification`. */
  readonly emailVerification?: EmailVerificationMode;
  readonly emailAuthentication?: boolean;
  readonly emailAuthenticationAutoConnect?: boolean;
  /** Keep the provider's tokens, sealed (`auth_social_token`). */
  readonly storeTokens?: boolean;
  /** Seconds for each request to a provider. */
  readonly requestsTimeout?: number;
  /** Seconds a redirect to a provider may take to come back (allauth has no limit). */
  readonly stateTimeout?: number;
}

export interface MailerLike {
  /** `delivery.idempotencyKey` is the same on every retry of one mail. */
  send(mail: Mail, delivery: MailDelivery): Promise<void>;
}

export interface PasswordHasherLike {
  hash(password: string): Promise<string>;
  verify(hash: string, password: string): Promise<boolean>;
}

export interface AdapterConfig {
  /** allauth's `adapter.is_open_for_signup`. */
  readonly isOpenForSignup?: (request: Request) => boolean | Promise<boolean>;
  /**
   * Whether a newly signed-up user starts active (allauth: what a custom `save_user` sets on
   * `is_active`). An inactive user gets `user_signed_up` and nothing more.
   */
  readonly isNewUserActive?: (user: { readonly email: string | null; readonly username: string | null }) => boolean;
}

/** Where warnings and failures go: any console-compatible object (default: `console`). */
export interface Logger {
  error(...args: ReadonlyArray<unknown>): void;
  warn(...args: ReadonlyArray<unknown>): void;
  info(...args: ReadonlyArray<unknown>): void;
}

export interface MailConfig {
  /**
   * Words each mail: `{ subject, text, html }`, or a promise of it. Default `renderMail`
   * (allauth's wording, with a plain HTML part); return `renderMail(kind, data)` for the kinds
   * you do not brand. A render that throws or returns another shape fails the step (500).
   */
  readonly render?: MailRenderer;
}

export interface AuthConfig {
  readonly secret: string;
  readonly database?: string;
  /**
   * Apply the missing migrations when `createAuth` starts (default true). With false, run
   * `npx authmachines migrate --database <url>` (or the SQL that `--print` shows) yourself;
   * `createAuth` then only checks that none is missing and fails, naming the command, if one is.
   */
  readonly migrate?: boolean;
  /**
   * SQLite: how long a write waits (retrying asynchronously) for another connection's write lock
   * before the request fails with 503 (default 10000). Readers never wait (WAL). PostgreSQL's
   * locks wait inside the server, and this is not used.
   */
  readonly busyTimeoutMs?: number;
  /**
   * SQLite: group commit (default false). Steps ready to write at the same moment run one after
   * another in one transaction, each behind its own savepoint, and share its COMMIT (one fsync at
   * `synchronous=FULL`); each answers only once that COMMIT is on disk, and a step that fails rolls
   * back to its savepoint alone. A group commits when no other step waits to write (at most 32
   * steps, or 25 ms after it began; an object sets those bounds). Ignored on PostgreSQL, where
   * each step commits on its own pooled connection.
   */
  readonly sqliteGroupCommit?: boolean | { readonly maxSteps?: number; readonly maxMs?: number };
  readonly mailer?: string | MailerLike;
  /** How mails are worded (`mail.render`). */
  readonly mail?: MailConfig;
  /**
   * Warnings (`warn`) and failures that change no response, with their cause and stack
   * (`error`). Default: `console`. `createAuth`'s `report` option, when given, replaces it.
   */
  readonly logger?: Logger;
  readonly passwordHasher?: "argon2id" | PasswordHasherLike;
  readonly defaultFromEmail?: string;
  readonly siteName?: string;
  readonly frontendUrls?: FrontendUrls;
  readonly account?: AccountConfig;
  readonly adapter?: AdapterConfig;
  /** allauth's `allauth.socialaccount` app: social login, connect and disconnect. */
  readonly socialaccount?: SocialAccountConfig;
  /**
   * Where the headless API is mounted: `<basePath>/{browser|app}/v1/…`. Default `/_allauth`
   * (allauth's `headless.urls` under `_allauth/`). The providers' callbacks and the dummy
   * provider's page stay at `/accounts/…`, where allauth has them.
   */
  readonly basePath?: string;
  /**
   * Django's `ALLOWED_HOSTS`: the hosts (no port) requests may name; `".example.com"` also
   * allows its subdomains, `"*"` any host. Default: `localhost`, `127.0.0.1`, `[::1]`.
   */
  readonly allowedHosts?: ReadonlyArray<string>;
  /**
   * How many reverse proxies in front of the app may set `X-Forwarded-For`, `X-Forwarded-Host`
   * and `X-Forwarded-Proto` (0: trust none, use the socket and `Host`).
   */
  readonly trustedProxyCount?: number;
  /** Mark cookies `Secure` (default: true unless the request is plain http). */
  readonly secureCookies?: boolean;
  /**
   * Name the session cookie `__Host-sessionid` (always `Secure`, `Path=/`, no `Domain`), so a
   * sibling subdomain or a plain-http page cannot set it. Needs https. Default false.
   */
  readonly hostPrefixedCookies?: boolean;
  /**
   * Seconds a session may go unused before it is over (every request through the API counts as
   * use). Default: null, no idle limit; a session always ends two weeks after its login.
   */
  readonly sessionIdleTimeout?: number | null;
  /** Delivery of mails and `auth.signals.after` receivers (see `src/runtime/outbox.ts`). */
  readonly outbox?: Partial<OutboxOptions>;
  /**
   * allauth's `allauth.usersessions` app: `auth/sessions` and the `usersessions` config key exist
   * only when this is given. `trackActivity` is `USERSESSIONS_TRACK_ACTIVITY`.
   */
  readonly usersessions?: boolean | { readonly trackActivity?: boolean };
  /**
   * Signed webhooks (Standard Webhooks): each listed signal's durable copy, POSTed to `url`
   * through the outbox (retried, dead-lettered). See `src/runtime/webhooks.ts`.
   */
  readonly webhooks?: ReadonlyArray<WebhookEndpoint>;
}

/** Django's `ALLOWED_HOSTS` with `DEBUG` on: the local machine under any port. */
export const defaultAllowedHosts: ReadonlyArray<string> = ["localhost", "127.0.0.1", "[::1]"];

/** A parsed rate rule: `amount` hits per `periodInSeconds` per `scope`. */
export interface RateRule {
  readonly amount: number;
  readonly periodInSeconds: number;
  readonly scope: "ip" | "user" | "key";
}

export interface ResolvedConfig {
  readonly secret: string;
  readonly database: string;
  readonly migrate: boolean;
  readonly busyTimeoutMs: number;
  /** Group commit's bounds, or null when it is off. */
  readonly sqliteGroupCommit: { readonly maxSteps: number; readonly maxMs: number } | null;
  readonly mailer: string | MailerLike;
  readonly mail: { readonly render: MailRenderer };
  readonly passwordHasher: "argon2id" | PasswordHasherLike;
  readonly defaultFromEmail: string;
  readonly siteName: string;
  readonly frontendUrls: Required<FrontendUrls>;
  readonly account: {
    readonly loginMethods: ReadonlyArray<LoginMethod>;
    readonly signupEmail: "required" | "optional" | "absent";
    readonly signupUsername: "required" | "optional" | "absent";
    /** `signupFields` as given (or allauth's default): the signup input's fields and their order. */
    readonly signupFields: ReadonlyArray<string>;
    /** `password1` in `signupFields`: without it a signup sets no (usable) password. */
    readonly signupPassword: "required" | "optional" | "absent";
    readonly emailVerification: EmailVerificationMode;
    readonly emailVerificationByCodeEnabled: boolean;
    readonly emailVerificationByCodeMaxAttempts: number;
    readonly emailVerificationByCodeTimeout: number;
    readonly emailVerificationMaxResends: number;
    readonly emailConfirmationExpireDays: number;
    readonly emailConfirmationCooldown: number;
    readonly loginOnEmailConfirmation: boolean;
    readonly preventEnumeration: boolean | "strict";
    readonly emailUnknownAccounts: boolean;
    readonly changeEmail: boolean;
    readonly emailVerificationMaxChanges: number;
    readonly uniqueEmail: boolean;
    readonly emailMaxLength: number;
    readonly usernameMinLength: number;
    readonly usernameMaxLength: number;
    readonly usernameBlacklist: ReadonlyArray<string>;
    readonly passwordMinLength: number;
    readonly passwordMaxLength: number;
    readonly emailSubjectPrefix: string;
    readonly rateLimits: Readonly<Record<string, ReadonlyArray<RateRule>>>;
    readonly loginTimeout: number;
    readonly logoutOnPasswordChange: boolean;
    readonly loginOnPasswordReset: boolean;
    readonly emailNotifications: boolean;
    readonly reauthenticationRequired: boolean;
    readonly reauthenticationTimeout: number;
    readonly maxEmailAddresses: number | null;
    readonly loginByCodeEnabled: boolean;
    readonly loginByCodeRequired: boolean | ReadonlyArray<"password" | "socialaccount">;
    readonly loginByCodeTimeout: number;
    readonly loginByCodeMaxAttempts: number;
    readonly loginByCodeMaxResends: number;
    readonly passwordResetByCodeEnabled: boolean;
    readonly passwordResetByCodeTimeout: number;
    readonly passwordResetByCodeMaxAttempts: number;
    readonly passwordResetTimeout: number;
    readonly defaultHttpProtocol: "http" | "https";
  };
  readonly adapter: Required<AdapterConfig>;
  readonly socialaccount: {
    /** In the given order; empty when none is configured. */
    readonly providers: ReadonlyArray<ProviderConfig>;
    readonly autoSignup: boolean;
    readonly emailRequired: boolean;
    readonly emailVerification: EmailVerificationMode;
    readonly emailAuthentication: boolean;
    readonly emailAuthenticationAutoConnect: boolean;
    readonly storeTokens: boolean;
    readonly requestsTimeout: number;
    readonly stateTimeout: number;
  };
  readonly allowedHosts: ReadonlyArray<string>;
  readonly basePath: string;
  readonly trustedProxyCount: number;
  readonly secureCookies: boolean | undefined;
  readonly hostPrefixedCookies: boolean;
  readonly sessionIdleTimeout: number | null;
  readonly outbox: OutboxOptions;
  /** Null when user sessions are off. */
  readonly usersessions: { readonly trackActivity: boolean } | null;
  readonly webhooks: ReadonlyArray<WebhookEndpoint>;
}

/** allauth's `ACCOUNT_RATE_LIMITS` defaults for the flows implemented here. */
export const defaultRateLimits: Readonly<Record<string, string>> = {
  signup: "20/m/ip",
  login: "30/m/ip",
  loginFailed: "10/m/ip,5/300s/key",
  confirmEmail: "1/180s/key",
  changePassword: "5/m/user",
  manageEmail: "10/m/user",
  resetPassword: "20/m/ip,5/m/key",
  resetPasswordFromKey: "20/m/ip",
  reauthenticate: "10/m/user",
  requestLoginCode: "20/m/ip,3/m/key",
};

const units: Readonly<Record<string, number>> = { s: 1, m: 60, h: 3600, d: 86400 };

/** Parses allauth's rate format: `"10/m/ip,5/300s/key"`. */
export function parseRateRules(value: string): ReadonlyArray<RateRule> {
  return value.split(",").map((part) => {
    const match = /^\s*(\d+)\/(\d*)([smhd])(?:\/(ip|user|key))?\s*$/.exec(part);
    if (match === null) {
      throw new ConfigError("", `invalid rate limit ${JSON.stringify(part)}`);
    }
    const multiplier = match[2] === "" ? 1 : Number(match[2]);
    return {
      amount: Number(match[1]),
      periodInSeconds: multiplier * units[match[3]!]!,
      scope: (match[4] ?? "ip") as RateRule["scope"],
    };
  });
}

function resolveRateLimits(value: RateLimitsConfig | false | undefined, byCode: boolean): ResolvedConfig["account"]["rateLimits"] {
  if (value === false) {
    return {};
  }
  // In code mode allauth's `confirm_email` default is one mail per 10 seconds per address.
  const defaults = byCode ? { ...defaultRateLimits, confirmEmail: "1/10s/key" } : defaultRateLimits;
  const merged: Record<string, string | false> = { ...defaults, ...(value ?? {}) };
  const rules: Record<string, ReadonlyArray<RateRule>> = {};
  for (const [action, spec] of Object.entries(merged)) {
    if (spec !== false) {
      rules[action] = parseRateRules(spec);
    }
  }
  return rules;
}

function fieldMode(fields: ReadonlyArray<string>, name: string): "required" | "optional" | "absent" {
  if (fields.includes(`${name}*`)) {
    return "required";
  }
  return fields.includes(name) ? "optional" : "absent";
}

/** allauth's `..._SUPPORTS_RESEND`: `true` allows two resends, `false` none, a number that many. */
function resends(value: boolean | number | undefined): number {
  return value === true ? 2 : value === undefined || value === false ? 0 : value;
}

/** The frontend URLs that carry a key, and so must have `{key}` in their template. */
const keyedUrls: ReadonlyArray<keyof FrontendUrls> = ["accountConfirmEmail", "accountResetPasswordFromKey"];

/**
 * allauth's start-up checks (`account/checks.py`) that apply to what is implemented here, and the
 * rules between settings that no single value can break. Runs on shape-checked options.
 */
function startupChecks(config: AuthConfig, loginMethods: ReadonlyArray<LoginMethod>, emailVerification: EmailVerificationMode): void {
  const account = config.account ?? {};
  const fail = (path: string, problem: string): never => {
    throw new ConfigError(path, problem);
  };
  for (const [name, template] of Object.entries(config.frontendUrls ?? {})) {
    const keyed = keyedUrls.includes(name as keyof FrontendUrls);
    if (keyed && !template.includes("{key}")) {
      fail(`frontendUrls.${name}`, `the template needs a {key} placeholder, got ${JSON.stringify(template)}`);
    }
    const other = /\{(?!key\})[^}]*\}/.exec(template) ?? (keyed ? null : /\{key\}/.exec(template));
    if (other !== null) {
      fail(`frontendUrls.${name}`, `unknown placeholder ${other[0]} (${keyed ? "only {key} is filled in" : "nothing is filled in here"})`);
    }
  }
  (account.signupFields ?? []).forEach((field, index) => {
    if (field === "password" || field === "password*") {
      fail(`account.signupFields[${index}]`, `"${field}" is not a signup field; use "${field.replace("password", "password1")}"`);
    }
  });
  if (account.emailVerificationByCodeEnabled === true && emailVerification !== "mandatory") {
    fail("account.emailVerificationByCodeEnabled", 'verification by code needs account.emailVerification "mandatory"');
  }
  if (loginMethods.includes("email") && account.uniqueEmail === false) {
    fail("account.uniqueEmail", "login by email needs unique email addresses (true)");
  }
  const fields = account.signupFields;
  if (fields !== undefined && emailVerification === "mandatory" && !fields.includes("email*")) {
    fail("account.signupFields", 'mandatory email verification needs "email*" in the signup fields');
  }
  if (loginMethods.includes("username") && !(fields ?? ["username*"]).some((f) => f.startsWith("username"))) {
    fail("account.signupFields", 'login by username needs "username" in the signup fields');
  }
  if (account.changeEmail === true && account.maxEmailAddresses != null && account.maxEmailAddresses !== 2) {
    fail("account.maxEmailAddresses", `account.changeEmail needs null or 2 (the old address and the new), got ${account.maxEmailAddresses}`);
  }
  if (config.hostPrefixedCookies === true && config.secureCookies === false) {
    fail("hostPrefixedCookies", "a __Host- cookie needs Secure cookies (secureCookies true or unset)");
  }
  const range = (min: number | undefined, max: number | undefined, minPath: string, maxPath: string) => {
    if (min !== undefined && max !== undefined && min > max) {
      fail(minPath, `${min} is above ${maxPath} (${max})`);
    }
  };
  range(account.passwordMinLength ?? 15, account.passwordMaxLength ?? 1024, "account.passwordMinLength", "account.passwordMaxLength");
  range(account.usernameMinLength ?? 1, account.usernameMaxLength ?? 150, "account.usernameMinLength", "account.usernameMaxLength");
}

/** Checks the options whole, then applies allauth's defaults. Throws a `ConfigError`. */
export function resolveConfig(config: AuthConfig): ResolvedConfig {
  validateConfig(config);
  const account = config.account ?? {};
  const rawVerification = account.emailVerification ?? "optional";
  const emailVerification: EmailVerificationMode =
    rawVerification === true ? "mandatory" : rawVerification === false ? "optional" : rawVerification;
  const loginMethods = account.loginMethods ?? ["username"];
  startupChecks(config, loginMethods, emailVerification);
  // allauth's default asks for a username; without login by username it is not asked for.
  const signupFields =
    account.signupFields ??
    (loginMethods.includes("username")
      ? ["email", "username*", "password1*", "password2*"]
      : ["email*", "password1*", "password2*"]);
  let signupEmail = fieldMode(signupFields, "email");
  const signupUsername = fieldMode(signupFields, "username");
  if (emailVerification === "mandatory" || loginMethods.includes("email")) {
    signupEmail = "required";
  }
  const urls = config.frontendUrls ?? {};
  const social = config.socialaccount ?? {};
  if ((config.mailer ?? "console") === "console" && process.env["NODE_ENV"] === "production") {
    // It prints every mail, keys and codes included (SECURITY.md LG-01, LG-08).
    throw new ConfigError("mailer", 'the "console" mailer prints keys and codes, and is refused when NODE_ENV is "production"');
  }
  return withRedactedView({
    secret: config.secret,
    database: config.database ?? "sqlite:auth.db",
    migrate: config.migrate ?? true,
    busyTimeoutMs: config.busyTimeoutMs ?? 10_000,
    sqliteGroupCommit:
      config.sqliteGroupCommit === undefined || config.sqliteGroupCommit === false
        ? null
        : {
            maxSteps: (config.sqliteGroupCommit === true ? undefined : config.sqliteGroupCommit.maxSteps) ?? defaultGroupLimits.maxMembers,
            maxMs: (config.sqliteGroupCommit === true ? undefined : config.sqliteGroupCommit.maxMs) ?? defaultGroupLimits.maxMs,
          },
    mailer: config.mailer ?? "console",
    mail: { render: config.mail?.render ?? renderMail },
    passwordHasher: config.passwordHasher ?? "argon2id",
    defaultFromEmail: config.defaultFromEmail ?? "webmaster@localhost",
    siteName: config.siteName ?? "example.com",
    frontendUrls: {
      accountConfirmEmail: urls.accountConfirmEmail ?? "/account/verify-email/{key}",
      accountResetPassword: urls.accountResetPassword ?? "/account/password/reset",
      accountResetPasswordFromKey: urls.accountResetPasswordFromKey ?? "/account/password/reset/key/{key}",
      accountSignup: urls.accountSignup ?? "/account/signup",
      // allauth sends a failed provider login with no known state to this URL or, unset, to "/".
      socialaccountLoginError: urls.socialaccountLoginError ?? "/",
    },
    account: {
      loginMethods,
      signupEmail,
      signupUsername,
      signupFields,
      signupPassword: fieldMode(signupFields, "password1"),
      emailVerification,
      emailVerificationByCodeEnabled: account.emailVerificationByCodeEnabled ?? false,
      emailVerificationByCodeMaxAttempts: account.emailVerificationByCodeMaxAttempts ?? 3,
      emailVerificationByCodeTimeout: account.emailVerificationByCodeTimeout ?? 900,
      emailVerificationMaxResends: resends(account.emailVerificationSupportsResend),
      emailConfirmationExpireDays: account.emailConfirmationExpireDays ?? 3,
      emailConfirmationCooldown: account.emailConfirmationCooldown ?? 180,
      loginOnEmailConfirmation: account.loginOnEmailConfirmation ?? false,
      preventEnumeration: account.preventEnumeration ?? true,
      emailUnknownAccounts: account.emailUnknownAccounts ?? true,
      changeEmail: account.changeEmail ?? false,
      emailVerificationMaxChanges: resends(account.emailVerificationSupportsChange),
      uniqueEmail: account.uniqueEmail ?? true,
      emailMaxLength: account.emailMaxLength ?? 254,
      usernameMinLength: account.usernameMinLength ?? 1,
      usernameMaxLength: account.usernameMaxLength ?? 150,
      usernameBlacklist: (account.usernameBlacklist ?? []).map((u) => u.toLowerCase()),
      passwordMinLength: account.passwordMinLength ?? 15,
      passwordMaxLength: account.passwordMaxLength ?? 1024,
      emailSubjectPrefix: account.emailSubjectPrefix ?? `[${config.siteName ?? "example.com"}] `,
      rateLimits: resolveRateLimits(account.rateLimits, account.emailVerificationByCodeEnabled === true),
      loginTimeout: account.loginTimeout ?? 900,
      logoutOnPasswordChange: account.logoutOnPasswordChange ?? false,
      loginOnPasswordReset: account.loginOnPasswordReset ?? false,
      emailNotifications: account.emailNotifications ?? false,
      reauthenticationRequired: account.reauthenticationRequired ?? false,
      reauthenticationTimeout: account.reauthenticationTimeout ?? 300,
      maxEmailAddresses: account.maxEmailAddresses ?? null,
      loginByCodeEnabled: account.loginByCodeEnabled ?? false,
      loginByCodeRequired: account.loginByCodeRequired ?? false,
      loginByCodeTimeout: account.loginByCodeTimeout ?? 180,
      loginByCodeMaxAttempts: account.loginByCodeMaxAttempts ?? 3,
      loginByCodeMaxResends: resends(account.loginByCodeSupportsResend),
      passwordResetByCodeEnabled: account.passwordResetByCodeEnabled ?? false,
      passwordResetByCodeTimeout: account.passwordResetByCodeTimeout ?? 180,
      passwordResetByCodeMaxAttempts: account.passwordResetByCodeMaxAttempts ?? 3,
      passwordResetTimeout: account.passwordResetTimeout ?? 3600,
      defaultHttpProtocol: account.defaultHttpProtocol ?? "http",
    },
    adapter: {
      isOpenForSignup: config.adapter?.isOpenForSignup ?? (() => true),
      isNewUserActive: config.adapter?.isNewUserActive ?? (() => true),
    },
    socialaccount: {
      providers: resolveProviders(social.providers ?? [], process.env["NODE_ENV"] === "production"),
      autoSignup: social.autoSignup ?? true,
      emailRequired: social.emailRequired ?? signupEmail === "required",
      emailVerification: social.emailVerification ?? emailVerification,
      emailAuthentication: social.emailAuthentication ?? false,
      emailAuthenticationAutoConnect: social.emailAuthenticationAutoConnect ?? false,
      storeTokens: social.storeTokens ?? false,
      requestsTimeout: social.requestsTimeout ?? 5,
      stateTimeout: social.stateTimeout ?? 600,
    },
    allowedHosts: (config.allowedHosts ?? defaultAllowedHosts).map((host) => host.toLowerCase()),
    basePath: config.basePath ?? "/_allauth",
    trustedProxyCount: config.trustedProxyCount ?? 0,
    secureCookies: config.secureCookies,
    hostPrefixedCookies: config.hostPrefixedCookies ?? false,
    sessionIdleTimeout: config.sessionIdleTimeout ?? null,
    usersessions:
      config.usersessions === undefined || config.usersessions === false
        ? null
        : { trackActivity: config.usersessions === true ? false : (config.usersessions.trackActivity ?? false) },
    webhooks: config.webhooks ?? [],
    outbox: {
      maxAttempts: config.outbox?.maxAttempts ?? 8,
      // Renewed while a mail is sent, so short: a crashed instance's rows are retried within
      // lease + poll interval (≤ 13 s).
      leaseMs: config.outbox?.leaseMs ?? 8_000,
      pollIntervalMs: config.outbox?.pollIntervalMs ?? 5_000,
      closeTimeoutMs: config.outbox?.closeTimeoutMs ?? 10_000,
    },
  });
}

const redacted = "<redacted>";

/** `value` with a URL's password replaced by the marker (`postgres://app:<redacted>@db/auth`). */
function redactUrl(value: string): string {
  const match = /^([a-z][a-z0-9+.-]*:\/\/[^/:@]*:)([^/@]*)@/i.exec(value);
  return match === null ? value : `${match[1]}${redacted}@${value.slice(match[0].length)}`;
}

/** The configuration as it may be shown: the secret, the providers' and webhooks' secrets and URL passwords masked. */
export function redactedConfig(config: ResolvedConfig): ResolvedConfig {
  return {
    ...config,
    secret: redacted,
    database: redactUrl(config.database),
    mailer: typeof config.mailer === "string" ? redactUrl(config.mailer) : config.mailer,
    socialaccount: {
      ...config.socialaccount,
      providers: config.socialaccount.providers.map((provider) => ({ ...provider, secret: provider.secret === null ? null : redacted })),
    },
    webhooks: config.webhooks.map((endpoint) => ({ ...endpoint, secret: redacted })),
  };
}

/**
 * `auth.config` printed (`util.inspect`, `console.log`) or serialised (`JSON.stringify`) shows
 * its redacted view (SECURITY.md LG-02); the fields themselves keep their values.
 */
function withRedactedView(config: ResolvedConfig): ResolvedConfig {
  return Object.defineProperties(config, {
    toJSON: { value: () => redactedConfig(config) },
    [Symbol.for("nodejs.util.inspect.custom")]: {
      value: (_depth: number, options: object, inspect: (value: unknown, options: object) => string) => inspect(redactedConfig(config), options),
    },
  });
}

/** The settings slice the machines read. */
export function flowSettings(config: ResolvedConfig): FlowSettings {
  const a = config.account;
  return {
    emailVerification: a.emailVerification,
    emailVerificationByCodeEnabled: a.emailVerificationByCodeEnabled,
    loginOnEmailConfirmation: a.loginOnEmailConfirmation,
    preventEnumeration: a.preventEnumeration,
    changeEmail: a.changeEmail,
    loginMethods: a.loginMethods,
    loginByCodeRequired: a.loginByCodeRequired,
  };
}
