/**
 * What a provider says about a person, turned into a `SocialProfile` (allauth's
 * `sociallogin_from_response`): the uid, the raw data kept as `extraData`, the cleaned address
 * list and the common fields that prefill a signup.
 */
import { cleanEmail } from "../domain/email.ts";
import { ProviderError } from "./errors.ts";
import type { ProfileEmail, ProfileTokens, ProviderConfig, SocialProfile } from "./types.ts";

/** allauth's `uid` column width. */
export const uidMaxLength = 191;

type Data = Readonly<Record<string, unknown>>;

/** The fields every provider mapping produces before cleanup (allauth's "common fields"). */
export interface CommonFields {
  readonly uid: unknown;
  readonly email: unknown;
  readonly emailVerified: boolean;
  /** Addresses the provider lists besides `email` (GitHub's emails endpoint, Discord). */
  readonly addresses: ReadonlyArray<ProfileEmail>;
  readonly username: unknown;
  readonly name: unknown;
  readonly firstName: unknown;
  readonly lastName: unknown;
}

function text(value: unknown): string | null {
  return typeof value === "string" && value !== "" ? value : null;
}

function isRecord(value: unknown): value is Data {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Whether `provider` vouches for `email` by configuration (allauth's `VERIFIED_EMAIL`). */
export function verifiedByConfig(provider: ProviderConfig, email: string): boolean {
  const setting = provider.verifiedEmail;
  if (typeof setting === "boolean") {
    return setting;
  }
  const domain = email.slice(email.indexOf("@") + 1).toLowerCase();
  return setting.some((d) => d.toLowerCase() === domain);
}

/**
 * allauth's `cleanup_email_addresses`: invalid addresses dropped, the common `email` put first as
 * primary (verified per the provider's claim), addresses the configuration vouches for marked
 * verified, then primary, verified and address descending.
 */
export function cleanupEmailAddresses(
  provider: ProviderConfig,
  email: unknown,
  emailVerified: boolean,
  addresses: ReadonlyArray<ProfileEmail>,
): Array<ProfileEmail> {
  const valid = addresses.flatMap((a) => {
    const clean = typeof a.email === "string" ? cleanEmail(a.email) : null;
    return clean === null ? [] : [{ email: clean, verified: a.verified === true, primary: a.primary === true }];
  });
  const common = typeof email === "string" ? cleanEmail(email) : null;
  if (common !== null && !valid.some((a) => a.email === common)) {
    valid.unshift({ email: common, verified: emailVerified, primary: true });
  }
  const marked = valid.map((a) => (verifiedByConfig(provider, a.email) ? { ...a, verified: true } : a));
  const rank = (a: ProfileEmail) => [a.primary ? 1 : 0, a.verified ? 1 : 0] as const;
  return marked
    .map((a, index) => ({ a, index }))
    .sort((x, y) => {
      const [xp, xv] = rank(x.a);
      const [yp, yv] = rank(y.a);
      if (xp !== yp) return yp - xp;
      if (xv !== yv) return yv - xv;
      if (x.a.email !== y.a.email) return x.a.email < y.a.email ? 1 : -1;
      return x.index - y.index;
    })
    .map(({ a }) => a);
}

/** Builds the profile from a mapping's common fields; refuses a uid that is not 1..191 characters. */
export function buildProfile(provider: ProviderConfig, extraData: Data, fields: CommonFields, tokens: ProfileTokens | null): SocialProfile {
  const uid = typeof fields.uid === "number" && Number.isSafeInteger(fields.uid) ? String(fields.uid) : fields.uid;
  if (typeof uid !== "string" || uid.length === 0 || uid.length > uidMaxLength) {
    throw new ProviderError("unknown", "the provider's user id is missing, empty or too long");
  }
  const [givenFromName, , familyFromName] = partition(text(fields.name) ?? "");
  return {
    provider: provider.id,
    uid,
    extraData,
    emailAddresses: cleanupEmailAddresses(provider, fields.email, fields.emailVerified, fields.addresses),
    username: text(fields.username),
    firstName: text(fields.firstName) ?? text(givenFromName),
    lastName: text(fields.lastName) ?? text(familyFromName),
    tokens,
  };
}

function partition(value: string): [string, string, string] {
  const at = value.indexOf(" ");
  return at < 0 ? [value, "", ""] : [value.slice(0, at), " ", value.slice(at + 1)];
}

/** OIDC keeps `{ userinfo?, id_token }` (allauth 65.11+); the token flow keeps the bare claims. */
export function pickUserData(extraData: Data): Data {
  if (isRecord(extraData["userinfo"])) {
    return extraData["userinfo"];
  }
  if (isRecord(extraData["id_token"])) {
    return extraData["id_token"];
  }
  return extraData;
}

/** An OpenID Connect person: userinfo when fetched, else the ID-token claims. */
export function oidcProfile(provider: ProviderConfig, extraData: Data, tokens: ProfileTokens | null): SocialProfile {
  const data = pickUserData(extraData);
  const uid = data[provider.uidField || "sub"];
  return buildProfile(
    provider,
    extraData,
    {
      uid: typeof uid === "number" ? String(uid) : uid,
      email: data["email"],
      emailVerified: data["email_verified"] === true || data["email_verified"] === "true",
      addresses: [],
      username: data["preferred_username"],
      name: data["name"],
      firstName: data["given_name"],
      lastName: data["family_name"],
    },
    tokens,
  );
}

function listedEmails(emails: unknown): Array<ProfileEmail> {
  if (!Array.isArray(emails)) {
    return [];
  }
  return emails.filter(isRecord).flatMap((e) =>
    typeof e["email"] === "string" ? [{ email: e["email"], verified: e["verified"] === true, primary: e["primary"] === true }] : [],
  );
}

/**
 * A plain OAuth 2 preset's user endpoint answer (GitHub, GitLab, Discord), with GitHub's emails
 * endpoint answer when it was read. Other types read like GitLab (`id`, `username`, `email`).
 */
export function oauthProfile(provider: ProviderConfig, user: Data, emails: unknown, tokens: ProfileTokens | null): SocialProfile {
  const common = { uid: user["id"], email: user["email"], emailVerified: false, name: user["name"], firstName: null, lastName: null };
  switch (provider.type) {
    case "github":
      return buildProfile(provider, user, { ...common, addresses: listedEmails(emails), username: user["login"] }, tokens);
    case "discord": {
      const verified = text(user["email"]) !== null && user["verified"] === true;
      const addresses = verified ? [{ email: user["email"] as string, verified: true, primary: true }] : [];
      return buildProfile(provider, user, { ...common, addresses, username: user["username"], name: user["username"] }, tokens);
    }
    default:
      return buildProfile(provider, user, { ...common, addresses: [], username: user["username"] }, tokens);
  }
}

const displayKeys: ReadonlyArray<ReadonlyArray<string>> = [
  ["username", "userName", "user_name", "login", "handle"],
  ["email", "Email", "mail", "email_address"],
  ["name", "display_name", "displayName", "displayname", "Display_Name", "nickname"],
  ["full_name", "fullName"],
];
const firstNameKeys = ["first_name", "firstname", "firstName", "First_Name", "given_name", "givenName"];
const lastNameKeys = ["last_name", "lastname", "lastName", "Last_Name", "family_name", "familyName", "surname"];

/** The last string among `keys` (allauth keeps overwriting), trimmed. */
function lastString(data: Data, keys: ReadonlyArray<string>): string {
  let found = "";
  for (const key of keys) {
    const value = data[key];
    if (typeof value === "string") {
      found = value.trim();
    }
  }
  return found;
}

/**
 * How a social account is shown (allauth's `ProviderAccount.to_str`): a username, else an
 * address, else a name, else "first last", else the provider's name.
 */
export function displayOf(extraData: unknown, providerName: string): string {
  if (!isRecord(extraData)) {
    return providerName;
  }
  const data = pickUserData(extraData);
  for (const keys of displayKeys) {
    for (const key of keys) {
      const value = data[key];
      if (typeof value === "string" && value.trim() !== "") {
        return value.trim();
      }
    }
  }
  const full = `${lastString(data, firstNameKeys)} ${lastString(data, lastNameKeys)}`.trim();
  return full !== "" ? full : providerName;
}
