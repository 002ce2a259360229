/**
 * The shape of `createAuth`'s options as an effect `Schema`: every key known, every value typed
 * and ranged, unknown keys refused at any depth. `validateConfig` turns the first problem into
 * one `ConfigError` naming the path, what was expected and what was given; allauth's own
 * spellings (`login_methods`, `ACCOUNT_LOGIN_METHODS`) and near-miss typos get a suggestion.
 * Cross-setting rules (allauth's start-up checks) live in `config.ts`.
 */
import { Either, ParseResult, Schema } from "effect";
import type { AccountConfig, AdapterConfig, AuthConfig, FrontendUrls, ProviderInput, RateLimitsConfig, SocialAccountConfig } from "./config.ts";
import type { ProviderType } from "./social/types.ts";
import { authSignalNames } from "../machines/signals.ts";
import { isAllowedWebhookUrl, isWebhookSecret } from "./runtime/webhooks.ts";

/** A configuration mistake found by `createAuth` before anything is opened. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  readonly code = "ERR_INVALID_CONFIG";

  constructor(
    /** Where the mistake is, e.g. `account.rateLimits.login` (empty for the options object). */
    readonly path: string,
    /** What is wrong, without the path. */
    readonly problem: string,
  ) {
    super(path === "" ? problem : `${path}: ${problem}`);
  }
}

/** `schema`, described as `what` when a value of the wrong kind is given. */
function expecting<S extends Schema.Schema.Any>(schema: S, what: string): S {
  return schema.annotations({ message: () => ({ message: what, override: true }) }) as S;
}

/** A struct whose own type failure reads "an object"; its fields still report their own. */
function object<F extends Schema.Struct.Fields>(fields: F) {
  return Schema.Struct(fields).annotations({ message: () => "an object" });
}

const optional = <S extends Schema.Schema.All>(schema: S) => Schema.optional(schema);

const intFrom = (min: number) => Schema.Number.pipe(Schema.filter((n) => Number.isInteger(n) && n >= min));
const int = (min: number, what: string) => expecting(intFrom(min), what);

/** Whole seconds (or days, counts): a non-negative integer. */
const count = int(0, "a non-negative integer");
const positive = int(1, "a positive integer");
const bool = expecting(Schema.Boolean, "true or false");
const text = expecting(Schema.String, "a string");

const rateRule = /^\s*\d+\/\d*[smhd](?:\/(?:ip|user|key))?\s*$/;
/** allauth's rate format: `"10/m/ip"`, `"5/300s/key"`, several joined by commas. */
export function isRateSpec(value: string): boolean {
  return value.split(",").every((part) => rateRule.test(part));
}
const rate = expecting(
  Schema.Union(Schema.String.pipe(Schema.filter(isRateSpec)), Schema.Literal(false)),
  'a rate like "10/m/ip" or "5/300s/key" (amount/[n]s|m|h|d[/ip|user|key], comma-separated), or false',
);

const fn = Schema.declare((u: unknown): u is (...args: never) => unknown => typeof u === "function");
const hook = expecting(fn, "a function");

/**
 * An array, described as `what` when something else is given, of items described as `item`;
 * `nonEmpty` refuses `[]`.
 */
function list<A, I>(item: Schema.Schema<A, I>, itemWhat: string, what: string, nonEmpty = false): Schema.Schema<ReadonlyArray<A>, ReadonlyArray<I>> {
  const array = Schema.Array(expecting(item, itemWhat)).annotations({ message: () => what });
  return nonEmpty ? array.pipe(Schema.minItems(1, { message: () => `${what}, not empty` })) : array;
}

/** An object with these methods (any other members are the caller's business). */
function withMethods<T>(names: ReadonlyArray<string>, what: string): Schema.Schema<T> {
  return expecting(
    Schema.declare(
      (u: unknown): u is T =>
        typeof u === "object" && u !== null && names.every((n) => typeof (u as Record<string, unknown>)[n] === "function"),
    ),
    what,
  );
}

// "password" is let through to be refused with a hint (see `startupChecks`).
const signupField = /^(?:email|email2|username|password1|password2|password)\*?$/;

const RateLimits = object({
  signup: optional(rate),
  login: optional(rate),
  loginFailed: optional(rate),
  confirmEmail: optional(rate),
  changePassword: optional(rate),
  manageEmail: optional(rate),
  resetPassword: optional(rate),
  resetPasswordFromKey: optional(rate),
  reauthenticate: optional(rate),
  requestLoginCode: optional(rate),
});

const resend = expecting(
  Schema.Union(Schema.Boolean, intFrom(0)),
  "true, false or a non-negative integer",
);

const Account = object({
  loginMethods: optional(list(Schema.Literal("email", "username"), '"email" or "username"', "an array of login methods", true)),
  signupFields: optional(
    list(
      Schema.String.pipe(Schema.filter((f) => signupField.test(f))),
      '"email", "email2", "username", "password1" or "password2", each optionally with "*" (required)',
      "an array of signup fields",
    ),
  ),
  emailVerification: optional(
    expecting(Schema.Union(Schema.Literal("none", "optional", "mandatory"), Schema.Boolean), '"none", "optional", "mandatory" or a boolean'),
  ),
  emailVerificationByCodeEnabled: optional(bool),
  emailVerificationByCodeMaxAttempts: optional(positive),
  emailVerificationByCodeTimeout: optional(positive),
  emailVerificationSupportsResend: optional(resend),
  emailConfirmationExpireDays: optional(positive),
  emailConfirmationCooldown: optional(count),
  loginOnEmailConfirmation: optional(bool),
  preventEnumeration: optional(expecting(Schema.Union(Schema.Boolean, Schema.Literal("strict")), 'true, false or "strict"')),
  emailUnknownAccounts: optional(bool),
  changeEmail: optional(bool),
  emailVerificationSupportsChange: optional(resend),
  uniqueEmail: optional(bool),
  emailMaxLength: optional(positive),
  usernameMinLength: optional(positive),
  usernameMaxLength: optional(positive),
  usernameBlacklist: optional(list(Schema.String, "a string", "an array of strings")),
  passwordMinLength: optional(positive),
  passwordMaxLength: optional(positive),
  emailSubjectPrefix: optional(text),
  rateLimits: optional(Schema.Union(RateLimits, Schema.Literal(false))),
  loginTimeout: optional(positive),
  logoutOnPasswordChange: optional(bool),
  loginOnPasswordReset: optional(bool),
  emailNotifications: optional(bool),
  reauthenticationRequired: optional(bool),
  reauthenticationTimeout: optional(positive),
  maxEmailAddresses: optional(expecting(Schema.Union(intFrom(1), Schema.Null), "a positive integer or null")),
  loginByCodeEnabled: optional(bool),
  loginByCodeRequired: optional(
    expecting(
      Schema.Union(Schema.Boolean, Schema.Array(Schema.Literal("password", "socialaccount"))),
      'a boolean or an array of "password" and/or "socialaccount"',
    ),
  ),
  loginByCodeTimeout: optional(positive),
  loginByCodeMaxAttempts: optional(positive),
  loginByCodeSupportsResend: optional(resend),
  passwordResetByCodeEnabled: optional(bool),
  passwordResetByCodeTimeout: optional(positive),
  passwordResetByCodeMaxAttempts: optional(positive),
  passwordResetTimeout: optional(positive),
  defaultHttpProtocol: optional(expecting(Schema.Literal("http", "https"), '"http" or "https"')),
});

const url = expecting(
  Schema.String.pipe(Schema.filter((u) => u.startsWith("/") || /^https?:\/\/[^/\s]+/i.test(u))),
  'a path starting with "/" or an absolute http(s) URL',
);

/** allauth's `HEADLESS_FRONTEND_URLS` keys, camelCased. */
const FrontendUrls = object({
  accountConfirmEmail: optional(url),
  accountResetPassword: optional(url),
  accountResetPasswordFromKey: optional(url),
  accountSignup: optional(url),
  socialaccountLoginError: optional(url),
});

/** The provider types (`src/social/providers.ts` holds their presets). */
const providerTypes = ["openid_connect", "github", "google", "microsoft", "gitlab", "apple", "discord", "dummy"] as const;

const absoluteUrl = expecting(
  Schema.String.pipe(
    Schema.filter((u) => {
      try {
        const parsed = new URL(u);
        return (parsed.protocol === "https:" || parsed.protocol === "http:") && parsed.host !== "";
      } catch {
        return false;
      }
    }),
  ),
  "an absolute http(s) URL",
);

const nonEmpty = expecting(Schema.String.pipe(Schema.filter((s) => s.trim() !== "")), "a non-empty string");

/** One `socialaccount.providers` entry: allauth's app and its settings, camelCased. */
const Provider = object({
  type: expecting(Schema.Literal(...providerTypes), `a provider type (${providerTypes.map((t) => `"${t}"`).join(", ")})`),
  id: optional(
    expecting(
      Schema.String.pipe(Schema.filter((s) => /^[a-z0-9][a-z0-9_-]*$/i.test(s))),
      "an id of letters, digits, _ and - (it appears in URLs)",
    ),
  ),
  name: optional(nonEmpty),
  clientId: optional(nonEmpty),
  secret: optional(text),
  serverUrl: optional(absoluteUrl),
  tenant: optional(nonEmpty),
  tokenAuthMethod: optional(expecting(Schema.Literal("client_secret_post", "client_secret_basic"), '"client_secret_post" or "client_secret_basic"')),
  fetchUserinfo: optional(bool),
  uidField: optional(nonEmpty),
  scope: optional(list(Schema.String, "a string", "an array of scopes")),
  authParams: optional(expecting(Schema.Record({ key: Schema.String, value: Schema.String }), "an object of string values")),
  verifiedEmail: optional(
    expecting(Schema.Union(Schema.Boolean, Schema.Array(Schema.String)), "true, false or an array of email domains"),
  ),
  emailAuthentication: optional(bool),
});

/** allauth's `SOCIALACCOUNT_*` settings, camelCased. */
const SocialAccount = object({
  // Not `list`: an entry's own fields report their mistakes.
  providers: optional(Schema.Array(Provider).annotations({ message: () => "an array of provider entries" })),
  autoSignup: optional(bool),
  emailRequired: optional(bool),
  emailVerification: optional(expecting(Schema.Literal("none", "optional", "mandatory"), '"none", "optional" or "mandatory"')),
  emailAuthentication: optional(bool),
  emailAuthenticationAutoConnect: optional(bool),
  storeTokens: optional(bool),
  requestsTimeout: optional(expecting(Schema.Number.pipe(Schema.filter((n) => Number.isFinite(n) && n > 0)), "a positive number of seconds")),
  stateTimeout: optional(positive),
});

const hostPattern = /^(?:\*|\.?[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*\.?|\[[0-9a-f:.]+\])$/i;

export const ConfigSchema = object({
  secret: expecting(
    Schema.String.pipe(Schema.filter((s) => Buffer.byteLength(s) >= 32)),
    "a string of at least 32 bytes",
  ),
  database: optional(
    expecting(
      Schema.String.pipe(Schema.filter((s) => /^sqlite:.+/.test(s) || /^postgres(?:ql)?:\/\/./.test(s))),
      '"sqlite:<file>", "sqlite::memory:" or a "postgres://…" URL',
    ),
  ),
  migrate: optional(bool),
  busyTimeoutMs: optional(positive),
  sqliteGroupCommit: optional(
    Schema.Union(object({ maxSteps: optional(positive), maxMs: optional(positive) }), bool),
  ),
  mailer: optional(
    Schema.Union(
      Schema.String.pipe(Schema.filter((s) => s === "console" || /^smtps?:\/\/./.test(s))),
      withMethods(["send"], ""),
    ).annotations({ message: () => ({ message: '"console", an smtp:// URL or an object with send(mail, delivery)', override: true }) }),
  ),
  mail: optional(object({ render: optional(hook) })),
  logger: optional(withMethods(["error", "warn", "info"], "an object with error, warn and info methods (console is one)")),
  passwordHasher: optional(
    Schema.Union(Schema.Literal("argon2id"), withMethods(["hash", "verify"], "")).annotations({
      message: () => ({ message: '"argon2id" or an object with hash(password) and verify(hash, password)', override: true }),
    }),
  ),
  defaultFromEmail: optional(text),
  siteName: optional(text),
  frontendUrls: optional(FrontendUrls),
  account: optional(Account),
  adapter: optional(object({ isOpenForSignup: optional(hook), isNewUserActive: optional(hook) })),
  socialaccount: optional(SocialAccount),
  allowedHosts: optional(
    list(
      Schema.String.pipe(Schema.filter((h) => hostPattern.test(h))),
      'a host name without port ("example.com", ".example.com" for it and its subdomains, "[::1]") or "*"',
      "an array of host names",
      true,
    ),
  ),
  basePath: optional(
    Schema.String.pipe(Schema.filter((path) => /^(?:\/[A-Za-z0-9._~-]+)+$/.test(path) && !/\/\.\.?(?:\/|$)/.test(path))).annotations({
      message: () => 'a path of one or more segments, starting with "/" and without a trailing one (e.g. "/_allauth", "/api/auth")',
    }),
  ),
  trustedProxyCount: optional(count),
  secureCookies: optional(bool),
  hostPrefixedCookies: optional(bool),
  webhooks: optional(
    Schema.Array(
      object({
        url: expecting(
          Schema.String.pipe(Schema.filter(isAllowedWebhookUrl)),
          "an https URL (plain http only to localhost, 127.0.0.0/8 or [::1]), without credentials",
        ),
        secret: expecting(Schema.String.pipe(Schema.filter(isWebhookSecret)), 'a Standard Webhooks secret: "whsec_" and at least 24 bytes in base64'),
        signals: list(Schema.Literal(...authSignalNames), `a signal name (${authSignalNames.join(", ")})`, "an array of signal names", true),
      }),
    ).annotations({ message: () => "an array of webhook endpoints { url, secret, signals }" }),
  ),
  sessionIdleTimeout: optional(expecting(Schema.Union(intFrom(1), Schema.Null), "a positive integer or null")),
  usersessions: optional(
    Schema.Union(Schema.Boolean, object({ trackActivity: optional(bool) })).annotations({ message: () => "true, false or an object" }),
  ),
  outbox: optional(
    object({
      maxAttempts: optional(positive),
      leaseMs: optional(positive),
      pollIntervalMs: optional(expecting(Schema.Union(intFrom(1), Schema.Literal(false)), "a positive integer or false")),
      closeTimeoutMs: optional(positive),
    }),
  ),
});

/**
 * Fails to compile when a setting is added to the `AuthConfig` interfaces but not here (where it
 * would be refused as unknown), or the other way round.
 */
type Same<A, B> = [Exclude<A, B>, Exclude<B, A>] extends [never, never] ? true : { missing: Exclude<A, B>; extra: Exclude<B, A> };
const settingsInSync: [
  Same<keyof AuthConfig, keyof typeof ConfigSchema.fields>,
  Same<keyof AccountConfig, keyof typeof Account.fields>,
  Same<keyof FrontendUrls, keyof typeof FrontendUrls.fields>,
  Same<keyof RateLimitsConfig, keyof typeof RateLimits.fields>,
  Same<keyof AdapterConfig, "isOpenForSignup" | "isNewUserActive">,
  Same<keyof SocialAccountConfig, keyof typeof SocialAccount.fields>,
  Same<keyof ProviderInput, keyof typeof Provider.fields>,
  Same<ProviderType, (typeof providerTypes)[number]>,
] = [true, true, true, true, true, true, true, true];

/** The setting names one level down, for suggestions at the top level. */
const nested: Readonly<Record<string, ReadonlyArray<string>>> = {
  account: Object.keys(Account.fields),
  frontendUrls: Object.keys(FrontendUrls.fields),
  socialaccount: Object.keys(SocialAccount.fields),
};

function camel(name: string): string {
  return name.toLowerCase().replace(/_+([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const current = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
      previous = current;
    }
  }
  return row[b.length]!;
}

/** A likely meant name for an unknown key: allauth's spelling camelCased, or a near-miss typo. */
function suggest(key: string, known: ReadonlyArray<string>, atTop: boolean): string | null {
  if (/[_A-Z]/.test(key) && key.includes("_")) {
    const direct = camel(key);
    if (known.includes(direct)) {
      return direct;
    }
    if (atTop) {
      // ACCOUNT_LOGIN_METHODS, HEADLESS_FRONTEND_URLS, login_methods at the top level.
      const stripped = camel(key.replace(/^(ACCOUNT|HEADLESS|SOCIALACCOUNT)_/i, ""));
      if (known.includes(stripped)) {
        return stripped;
      }
      // SOCIALACCOUNT_EMAIL_VERIFICATION is socialaccount's, not account's.
      const social = /^SOCIALACCOUNT_/i.test(key);
      for (const [parent, names] of Object.entries(nested).sort(([a], [b]) => Number(b === "socialaccount" && social) - Number(a === "socialaccount" && social))) {
        if (names.includes(stripped)) {
          return `${parent}.${stripped}`;
        }
      }
    }
  }
  const lower = key.toLowerCase();
  const ranked = known
    .map((name) => ({ name, d: distance(lower, name.toLowerCase()) }))
    .filter(({ d }) => d <= Math.max(1, Math.min(3, Math.floor(key.length / 4))))
    .sort((x, y) => x.d - y.d);
  if (ranked.length > 0 && (ranked.length === 1 || ranked[0]!.d < ranked[1]!.d)) {
    return ranked[0]!.name;
  }
  return null;
}

/** `account.rateLimits.login`, `account.loginMethods[0]`. */
export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  return path
    .map((part, i) => (typeof part === "number" ? `[${part}]` : i === 0 ? String(part) : `.${String(part)}`))
    .join("");
}

function describe(value: unknown): string {
  if (typeof value === "function") {
    return "a function";
  }
  if (typeof value === "number" || value === undefined) {
    return String(value);
  }
  if (Array.isArray(value)) {
    return value.length === 0 ? "[]" : "an array";
  }
  if (typeof value === "object" && value !== null) {
    return "an object";
  }
  // A URL's password (a refused `database` or `mailer` URL) is never repeated (LG-02).
  const shown = JSON.stringify(typeof value === "string" ? value.replace(/^([a-z][a-z0-9+.-]*:\/\/[^/@:]*):[^/@]*@/i, "$1:***@") : value);
  return shown.length > 60 ? `${shown.slice(0, 57)}…"` : shown;
}

function valueAt(input: unknown, path: ReadonlyArray<PropertyKey>): unknown {
  let value = input;
  for (const part of path) {
    value = typeof value === "object" && value !== null ? (value as Record<PropertyKey, unknown>)[part] : undefined;
  }
  return value;
}

const decode = Schema.decodeUnknownEither(ConfigSchema, { onExcessProperty: "error", errors: "first" });

/** Checks the options' shape; throws the first mistake as a `ConfigError`. */
export function validateConfig(input: unknown): void {
  const result = decode(input);
  if (Either.isRight(result)) {
    return;
  }
  const issues = ParseResult.ArrayFormatter.formatErrorSync(result.left).filter(
    (issue) => !/^Expected undefined, actual /.test(issue.message),
  );
  const first = issues[0]!;
  const path = formatPath(first.path);
  if (first._tag === "Unexpected") {
    const key = String(first.path[first.path.length - 1]);
    const known = [...first.message.matchAll(/"([^"]+)"/g)].map((m) => m[1]!);
    const parent = formatPath(first.path.slice(0, -1));
    const meant = suggest(key, known, parent === "");
    const hint =
      meant === null ? ` (known here: ${known.join(", ")})` : `; did you mean ${parent === "" ? "" : `${parent}.`}${meant}?`;
    const spelling = key.includes("_") ? " (settings are allauth's names in camelCase)" : "";
    throw new ConfigError(path, `unknown setting${hint}${spelling}`);
  }
  if (first._tag === "Missing") {
    throw new ConfigError(path, "required, missing");
  }
  // Alternatives of a union fail at the same path: "an object or false".
  const expected = issues
    .filter((issue) => formatPath(issue.path) === path && issue._tag !== "Unexpected")
    .map((issue) => issue.message.replace(/^Expected (.*), actual .*$/s, "$1"));
  const value = valueAt(input, first.path);
  // A refused secret is never repeated (SECURITY.md LG-02): only its size is.
  const shown = first.path.at(-1) === "secret" && typeof value === "string" ? `a string of ${Buffer.byteLength(value)} bytes` : describe(value);
  throw new ConfigError(path, `expected ${[...new Set(expected)].join(" or ")}, got ${shown}`);
}
