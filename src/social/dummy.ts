/**
 * The dummy provider (development and tests): a form that stands in for a provider's login page.
 * Its fields are validated as allauth's dummy form validates them, and mapped to a profile: the
 * uid is the account id, the address is verified only when the form says so.
 */
import { cleanEmail } from "../domain/email.ts";
import { buildProfile } from "./profile.ts";
import type { ProviderConfig, SocialProfile } from "./types.ts";

/** The dummy provider as configured when nothing else is said. */
export const dummyProvider: ProviderConfig = {
  id: "dummy",
  type: "dummy",
  name: "Dummy",
  clientId: null,
  secret: null,
  serverUrl: null,
  endpoints: null,
  scope: [],
  authParams: {},
  tokenAuthMethod: "client_secret_post",
  fetchUserinfo: false,
  uidField: "id",
  verifiedEmail: false,
  emailAuthentication: null,
  flows: ["provider_redirect", "provider_token"],
};

/** The form's fields once cleaned (kept whole as the account's `extraData`). */
export interface DummyFields {
  readonly id: number;
  readonly email: string;
  readonly email_verified: boolean;
  readonly username: string;
  readonly first_name: string;
  readonly last_name: string;
  readonly phone: string;
  readonly phone_verified: boolean;
}

export type DummyFieldErrors = Readonly<Partial<Record<keyof DummyFields, ReadonlyArray<string>>>>;

export type DummyResult =
  | { readonly ok: true; readonly profile: SocialProfile; readonly fields: DummyFields }
  | { readonly ok: false; readonly errors: DummyFieldErrors };

function charField(value: unknown): string {
  if (typeof value === "string") return value.trim();
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return "";
}

function booleanField(value: unknown): boolean {
  if (typeof value === "string") return !["", "false", "0"].includes(value.trim().toLowerCase());
  return Boolean(value);
}

function integerField(value: unknown): number | string {
  const raw = charField(value);
  if (raw === "") return "This field is required.";
  const match = /^([+-]?\d+)(?:\.0*)?$/.exec(raw);
  const parsed = match ? Number(match[1]) : Number.NaN;
  return Number.isSafeInteger(parsed) ? parsed : "Enter a whole number.";
}

/** Validates the dummy form (page POST or the token flow's JSON) and builds the profile. */
export function dummyProfile(values: Readonly<Record<string, unknown>>, provider: ProviderConfig = dummyProvider): DummyResult {
  const errors: Partial<Record<keyof DummyFields, Array<string>>> = {};
  const id = integerField(values["id"]);
  if (typeof id === "string") errors.id = [id];
  const email = charField(values["email"]);
  if (email !== "" && cleanEmail(email) === null) errors.email = ["Enter a valid email address."];
  if (typeof id === "string" || errors.email !== undefined) {
    return { ok: false, errors };
  }
  const fields: DummyFields = {
    id,
    email,
    email_verified: booleanField(values["email_verified"]),
    username: charField(values["username"]),
    first_name: charField(values["first_name"]),
    last_name: charField(values["last_name"]),
    phone: charField(values["phone"]),
    phone_verified: booleanField(values["phone_verified"]),
  };
  const addresses = email === "" ? [] : [{ email, verified: fields.email_verified, primary: true }];
  const profile = buildProfile(
    provider,
    { ...fields },
    { uid: String(id), email: null, emailVerified: false, addresses, username: fields.username, name: null, firstName: fields.first_name, lastName: fields.last_name },
    null,
  );
  return { ok: true, profile, fields };
}

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export interface DummyPageInput {
  /** Where the form posts (the dummy authenticate URL with its `state` query). */
  readonly action: string;
  /** The redirect state id, repeated as a hidden field. */
  readonly state: string;
  readonly errors?: DummyFieldErrors;
  readonly values?: Readonly<Record<string, unknown>>;
  /** Extra hidden fields (a CSRF token). */
  readonly hidden?: Readonly<Record<string, string>>;
}

const textFields: ReadonlyArray<readonly [keyof DummyFields, string, string]> = [
  ["id", "Account ID", "number"],
  ["email", "Email", "email"],
  ["username", "Username", "text"],
  ["first_name", "First name", "text"],
  ["last_name", "Last name", "text"],
];

/** The dummy provider's login page: every value, error and attribute HTML-escaped. */
export function dummyPage(input: DummyPageInput): string {
  const values = input.values ?? {};
  const errors = input.errors ?? {};
  const hidden = { state: input.state, ...input.hidden };
  const field = ([name, label, type]: readonly [keyof DummyFields, string, string]) => {
    const value = charField(values[name]);
    const messages = (errors[name] ?? []).map((m) => `<li>${escapeHtml(m)}</li>`).join("");
    return (
      `<p><label for="id_${name}">${escapeHtml(label)}</label> ` +
      `<input id="id_${name}" name="${name}" type="${type}" value="${escapeHtml(value)}"${name === "id" ? " required" : ""}>` +
      (messages === "" ? "" : `<ul class="errorlist">${messages}</ul>`) +
      `</p>`
    );
  };
  const checked = booleanField(values["email_verified"]) ? " checked" : "";
  return [
    `<!doctype html>`,
    `<html lang="en"><head><meta charset="utf-8"><title>Dummy provider</title></head><body>`,
    `<h1>Dummy provider</h1>`,
    `<form method="post" action="${escapeHtml(input.action)}">`,
    ...Object.entries(hidden).map(([name, value]) => `<input type="hidden" name="${escapeHtml(name)}" value="${escapeHtml(value)}">`),
    ...textFields.slice(0, 2).map(field),
    `<p><label><input name="email_verified" type="checkbox" value="true"${checked}> Email verified</label></p>`,
    ...textFields.slice(2).map(field),
    `<p><button type="submit">Login</button> <button type="submit" name="action" value="cancel" formnovalidate>Cancel</button></p>`,
    `</form></body></html>`,
  ].join("\n");
}
