/**
 * The authentication log (SECURITY.md LG-05): one structured event per password check, and per
 * login, handed to `logger.info` after the step. It says who (the account id, or a digest of the
 * identifier typed when it names no account), from where, how, with what outcome and when (ISO
 * 8601 UTC); never a password, hash, key or code.
 */
export interface AuthEvent {
  readonly event: "authentication";
  /** A password login, a logged-in user's password checked again, or a session that now holds a user. */
  readonly action: "login" | "password_check" | "session_started";
  readonly outcome: "success" | "failure" | "throttled";
  /** How: `password`, or the login's method (`code`, `socialaccount`, …). */
  readonly method: string;
  readonly userId: string | null;
  /** SHA-256 of the identifier typed, first 16 hex digits, when no account is known. */
  readonly identifier: string | null;
  readonly ip: string;
  readonly at: string;
}
