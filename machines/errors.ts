/**
 * Error codes a flow can end with. Names are allauth's `error_messages` keys, so the HTTP edge
 * answers `{ param, code, message }` exactly as allauth headless does.
 */
export type AuthErrorCode =
  | "required"
  | "invalid"
  | "unknown_field"
  | "max_length"
  | "email_taken"
  | "username_taken"
  | "invalid_username"
  | "incorrect_password"
  | "email_password_mismatch"
  | "username_password_mismatch"
  | "password_too_short"
  | "password_too_long"
  | "password_too_common"
  | "password_too_similar"
  | "password_entirely_numeric"
  | "too_many_login_attempts"
  | "invalid_or_expired_key"
  | "token_invalid"
  | "incorrect_code"
  | "too_many_attempts"
  | "unverified_email"
  | "duplicate_email"
  | "max_email_addresses"
  | "cannot_remove_primary_email"
  | "cannot_remove_last_email"
  | "unverified_primary_email"
  | "account_inactive"
  | "signup_closed"
  | "already_authenticated"
  | "flow_not_pending"
  | "rate_limited"
  | "unexpected";

/** A flow failure as data: what machines store in context and actors reject with. */
export interface FlowError {
  readonly code: AuthErrorCode;
  readonly param?: string;
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
  return isFlowError(error) ? { code: error.code, ...(error.param ? { param: error.param } : {}) } : { code: "unexpected" };
}
