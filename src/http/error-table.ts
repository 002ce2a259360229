/**
 * THE error table: every error the headless API answers, keyed by `AuthErrorCode`, with allauth's
 * wire `code` and message (django-allauth 65.16.1, as listed in ALLAUTH-ERRORS.md), or the bare
 * status of an answer that carries no `errors`.
 *
 * API:
 * - `errorFor(error, config)` → `{ message, code, param? }`, one item of a 400's `errors` array.
 *   `param` is copied only when the error has one (allauth omits the key for `clean()` errors).
 * - `statusFor(code)` → the status of a status-only answer (403, 409, 429, …), or `undefined`
 *   for a form error.
 * - `isFormError(code)` narrows a code to the ones rendered as `errors` items.
 *
 * Errors travel as `FlowError`s `{ code, param?, details? }`; `details` fills the placeholders
 * (Django's `limit_value` / `show_value`, the similar attribute). Settings that appear in a
 * message (minimum password length, address cap) are read from the config when rendering.
 */
import type { AuthErrorCode, ErrorDetails, FlowError } from "../../machines/errors.ts";
import type { ResolvedConfig } from "../config.ts";

type Message = (details: ErrorDetails, config: ResolvedConfig, param: string | undefined) => string;

interface FormEntry {
  /** allauth's code on the wire ("" where allauth adds a plain-string error). */
  readonly code: string;
  readonly message: string | Message;
}

interface StatusEntry {
  readonly status: number;
}

function plural(n: number, one: string, many: string): string {
  return n === 1 ? one : many;
}

/** Django's `invalid` message depends on the field (EmailField, the username validator, …). */
const invalidMessage: Message = (_d, _c, param) => {
  switch (param) {
    case "email":
      return "Enter a valid email address.";
    case "username":
      return "Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters.";
    default:
      return "Enter a valid value.";
  }
};

const table: { readonly [K in AuthErrorCode]: FormEntry | StatusEntry } = {
  required: { code: "required", message: "This field is required." },
  invalid: { code: "invalid", message: invalidMessage },
  max_length: {
    code: "max_length",
    message: ({ limit = 0, length = 0 }) =>
      `Ensure this value has at most ${limit} ${plural(limit, "character", "characters")} (it has ${length}).`,
  },
  min_length: {
    code: "min_length",
    message: ({ limit = 0, length = 0 }) =>
      `Ensure this value has at least ${limit} ${plural(limit, "character", "characters")} (it has ${length}).`,
  },
  // Django's `ProhibitNullCharactersValidator`, on every `CharField`.
  null_characters_not_allowed: { code: "null_characters_not_allowed", message: "Null characters are not allowed." },
  invalid_list: { code: "invalid_list", message: "Enter a list of values." },
  invalid_pk_value: { code: "invalid_pk_value", message: ({ value = "" }) => `“${value}” is not a valid value.` },
  invalid_choice: {
    code: "invalid_choice",
    message: ({ value = "" }) => `Select a valid choice. ${value} is not one of the available choices.`,
  },
  email_taken: { code: "email_taken", message: "A user is already registered with this email address." },
  username_taken: { code: "username_taken", message: "A user with that username already exists." },
  username_blacklisted: { code: "username_blacklisted", message: "Username can not be used. Please use other username." },
  email2_mismatch: { code: "", message: "You must type the same email each time." },
  invalid_login: { code: "invalid_login", message: "Invalid login." },
  email_password_mismatch: {
    code: "email_password_mismatch",
    message: "The email address and/or password you specified are not correct.",
  },
  username_password_mismatch: {
    code: "username_password_mismatch",
    message: "The username and/or password you specified are not correct.",
  },
  too_many_login_attempts: { code: "too_many_login_attempts", message: "Too many failed login attempts. Try again later." },
  incorrect_password: { code: "incorrect_password", message: "Incorrect password." },
  enter_current_password: { code: "enter_current_password", message: "Please type your current password." },
  password_too_short: {
    code: "password_too_short",
    message: (d, config) => {
      const min = d.limit ?? config.account.passwordMinLength;
      return `This password is too short. It must contain at least ${min} ${plural(min, "character", "characters")}.`;
    },
  },
  password_too_common: { code: "password_too_common", message: "This password is too common." },
  password_too_similar: {
    code: "password_too_similar",
    message: (d) => `The password is too similar to the ${d.attribute ?? "username"}.`,
  },
  password_entirely_numeric: { code: "password_entirely_numeric", message: "This password is entirely numeric." },
  invalid_or_expired_key: { code: "invalid_or_expired_key", message: "Invalid or expired key." },
  invalid_password_reset: { code: "invalid_password_reset", message: "The password reset token was invalid." },
  incorrect_code: { code: "incorrect_code", message: "Incorrect code." },
  // The account adapter's text (code request, password reset request).
  unknown_email: { code: "unknown_email", message: "The email address is not assigned to any user account." },
  // The headless adapter's text for the same code (account/email PUT, PATCH, DELETE).
  unknown_email_address: { code: "unknown_email", message: "Unknown email address." },
  same_as_current: { code: "same_as_current", message: "The new value must be different from the current one." },
  select_only_one: { code: "select_only_one", message: "Please select only one." },
  duplicate_email: { code: "duplicate_email", message: "This email address is already associated with this account." },
  max_email_addresses: {
    code: "max_email_addresses",
    message: (d, config) => `You cannot add more than ${d.limit ?? config.account.maxEmailAddresses ?? 0} email addresses.`,
  },
  cannot_remove_primary_email: {
    code: "cannot_remove_primary_email",
    message: "You cannot remove your primary email address.",
  },
  unverified_primary_email: { code: "unverified_primary_email", message: "Your primary email address must be verified." },
  connected_other: { code: "connected_other", message: "The third-party account is already connected to a different account." },
  // The provider signup form's text for a taken address (the provider's name filled in).
  social_email_taken: {
    code: "email_taken",
    message: ({ value = "" }) =>
      `An account already exists with this email address. Please sign in to that account first, then connect your ${value} account.`,
  },
  account_not_found: { code: "account_not_found", message: "Unknown account." },
  no_password: { code: "no_password", message: "Your account has no password set up." },
  no_verified_email: { code: "no_verified_email", message: "Your account has no verified email address." },
  invalid_token: { code: "invalid_token", message: "Invalid token." },
  token_required: { code: "token_required", message: "`id_token` and/or `access_token` required." },
  client_id_required: { code: "client_id_required", message: "`client_id` required." },
  token_authentication_not_supported: {
    code: "token_authentication_not_supported",
    message: "Provider does not support token authentication.",
  },
  // Connect while anonymous (allauth: an uncaught PermissionDenied, 403).
  permission_denied: { status: 403 },
  reauthentication_required: { status: 401 },
  // Exhausted attempts end the flow: the next call finds nothing pending.
  too_many_attempts: { status: 409 },
  unverified_email: { status: 409 },
  account_inactive: { status: 401 },
  signup_closed: { status: 403 },
  already_authenticated: { status: 409 },
  flow_not_pending: { status: 409 },
  rate_limited: { status: 429 },
  // Django's bare `HttpResponseBadRequest` (empty, not JSON) for a body it cannot read.
  invalid_json: { status: 400 },
  body_too_large: { status: 400 },
  unexpected: { status: 500 },
};

/** One item of a 400 answer's `errors` array, worded as allauth words it. */
export interface WireError {
  readonly message: string;
  readonly code: string;
  readonly param?: string;
}

/** True when `code` is answered as an `errors` item (not a bare status). */
export function isFormError(code: AuthErrorCode): boolean {
  return "code" in table[code];
}

/** The bare status of a status-only code, or `undefined` for a form error. */
export function statusFor(code: AuthErrorCode): number | undefined {
  const entry = table[code];
  return "status" in entry ? entry.status : undefined;
}

/** The wire form of one error. A status-only code here is a bug; it renders as `invalid`. */
export function errorFor(error: FlowError, config: ResolvedConfig): WireError {
  const entry = table[error.code];
  const form: FormEntry = "code" in entry ? entry : table.invalid as FormEntry;
  const message = typeof form.message === "string" ? form.message : form.message(error.details ?? {}, config, error.param);
  return { message, code: form.code, ...(error.param === undefined ? {} : { param: error.param }) };
}
