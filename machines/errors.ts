/**
 * Error codes a flow or an input can end with, and the flow error as data. The names are the
 * keys of the HTTP edge's error table (`src/http/error-table.ts`), which turns each into
 * allauth's wire `code`, message and, for the status-only ones, the bare status.
 */
export type AuthErrorCode =
  // Django form field errors.
  | "required"
  | "invalid"
  | "max_length"
  | "min_length"
  | "null_characters_not_allowed"
  | "invalid_list"
  | "invalid_pk_value"
  | "invalid_choice"
  // Signup and account data.
  | "email_taken"
  | "username_taken"
  | "username_blacklisted"
  | "email2_mismatch"
  // Login and reauthentication.
  | "invalid_login"
  | "email_password_mismatch"
  | "username_password_mismatch"
  | "too_many_login_attempts"
  | "incorrect_password"
  | "enter_current_password"
  // Django's password validators.
  | "password_too_short"
  | "password_too_common"
  | "password_too_similar"
  | "password_entirely_numeric"
  // Keys and codes.
  | "invalid_or_expired_key"
  | "invalid_password_reset"
  | "incorrect_code"
  | "unknown_email"
  | "unknown_email_address"
  | "same_as_current"
  | "select_only_one"
  // Email management.
  | "duplicate_email"
  | "max_email_addresses"
  | "cannot_remove_primary_email"
  | "unverified_primary_email"
  // Social accounts.
  | "connected_other"
  | "social_email_taken"
  | "account_not_found"
  | "no_password"
  | "no_verified_email"
  | "invalid_token"
  | "token_required"
  | "client_id_required"
  | "token_authentication_not_supported"
  | "permission_denied"
  | "reauthentication_required"
  // Outcomes answered with a bare status (or, for the body ones, an empty 400).
  | "too_many_attempts"
  | "unverified_email"
  | "account_inactive"
  | "signup_closed"
  | "already_authenticated"
  | "flow_not_pending"
  | "rate_limited"
  | "invalid_json"
  | "body_too_large"
  | "unexpected";

/** Values a message is filled with: Django's `limit_value`/`show_value`, a validator's attribute. */
export interface ErrorDetails {
  readonly limit?: number;
  readonly length?: number;
  /** `password_too_similar`: the user attribute the password resembles ("username", "email address"). */
  readonly attribute?: string;
  /** `invalid_pk_value` / `invalid_choice`: the offending value, as Python prints it. */
  readonly value?: string;
}

/** A flow failure as data: what machines store in context and actors reject with. */
export interface FlowError {
  readonly code: AuthErrorCode;
  readonly param?: string;
  readonly details?: ErrorDetails;
  /** Further errors of the same input, in allauth's order (a form reports them all at once). */
  readonly also?: ReadonlyArray<FlowError>;
}

/** One error and the ones it carries, in order. */
export function flatErrors(error: FlowError): ReadonlyArray<FlowError> {
  return [error, ...(error.also ?? []).flatMap(flatErrors)];
}

/** The first of `errors` carrying the rest, or null when there are none. */
export function joinErrors(errors: ReadonlyArray<FlowError>): FlowError | null {
  const [first, ...rest] = errors;
  return first === undefined ? null : rest.length === 0 ? first : { ...first, also: rest };
}

/** True when `value` is shaped as a `FlowError` (actors reject with these). */
export function isFlowError(value: unknown): value is FlowError {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as { code?: unknown }).code === "string"
  );
}

/** The flow error carried by an `onError` event, or `unexpected`. */
export function toFlowError(error: unknown): FlowError {
  if (!isFlowError(error)) {
    return { code: "unexpected" };
  }
  return {
    code: error.code,
    ...(error.param ? { param: error.param } : {}),
    ...(error.details === undefined ? {} : { details: error.details }),
    ...(error.also === undefined ? {} : { also: error.also.map(toFlowError) }),
  };
}
