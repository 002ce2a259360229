/**
 * The signal catalogue: one member per django-allauth signal, names verbatim.
 *
 * Machines declare `AuthSignal` as their `emitted` type and `emit` each member on the transition
 * where the thing it announces has happened (after the write it describes). Payload fields are
 * allauth's argument names in camelCase. Payloads are plain JSON: ids and public fields only —
 * never a password, hash, key, code or token. The runtime adds `request` (and `response` for
 * `user_logged_in`) before handing a signal to receivers; see `src/runtime/signal-bus.ts`.
 */

/** A user as signals and snapshots see it. */
export interface UserRef {
  readonly id: string;
  readonly username: string | null;
  /** The primary address, or null. */
  readonly email: string | null;
  readonly isActive: boolean;
  readonly hasUsablePassword: boolean;
}

/** An `EmailAddress` row. */
export interface EmailAddressRef {
  readonly id: string;
  readonly userId: string;
  readonly email: string;
  readonly verified: boolean;
  readonly primary: boolean;
}

/** What was sent by `email_confirmation_sent`. The key or code itself is never included. */
export interface ConfirmationRef {
  /** `link` for a key mailed as a link, `code` for a code process. */
  readonly kind: "link" | "code";
  readonly emailAddress: EmailAddressRef;
  /** Epoch milliseconds at which the mail was handed to the outgoing queue. */
  readonly sentAt: number;
}

/** A social login as signals see it (social flows arrive with the social-account issue). */
export interface SocialLoginRef {
  readonly provider: string;
  readonly uid: string;
  readonly userId: string | null;
  readonly isExisting: boolean;
}

/** A `SocialAccount` row. */
export interface SocialAccountRef {
  readonly id: string;
  readonly provider: string;
  readonly uid: string;
  readonly userId: string;
}

/**
 * Every signal a machine can emit.
 */
export type AuthSignal =
  /**
   * The user is logged in: the session already holds them (rotated, `lastLogin` stamped).
   * Fires at the end of the login pipeline only, never while a stage (email verification, login
   * code) is pending, never for an inactive user, never on reauthentication.
   * Carries `user`; `socialLogin` for social logins and signups.
   */
  | { readonly type: "user_logged_in"; readonly user: UserRef; readonly socialLogin?: SocialLoginRef }
  /**
   * The session is about to lose its user: fired before the session is ended, so the request
   * still holds the user. `user` is null for an anonymous `DELETE auth/session`.
   */
  | { readonly type: "user_logged_out"; readonly user: UserRef | null }
  /**
   * A user row (and its email address rows) was created by a signup. The request is still
   * anonymous. Followed by the login pipeline. Carries `socialLogin` for social signups.
   */
  | { readonly type: "user_signed_up"; readonly user: UserRef; readonly socialLogin?: SocialLoginRef }
  /** A user without a usable password set one. Last in its flow, after the optional logout. */
  | { readonly type: "password_set"; readonly user: UserRef }
  /** A user changed their password with the current one. Last, after the optional logout. */
  | { readonly type: "password_changed"; readonly user: UserRef }
  /** A password was reset by key or code; the new password is saved. */
  | { readonly type: "password_reset"; readonly user: UserRef }
  /**
   * An address became verified (saved). Carries `emailAddress` and, as in allauth, no `user`.
   * Reached by link, by code, and indirectly by login-by-code and reset-by-code.
   */
  | { readonly type: "email_confirmed"; readonly emailAddress: EmailAddressRef }
  /**
   * A verification mail (link or code) was queued. `signup` is true inside a signup's login
   * pipeline (code mode: the user never logged in). Not fired when the mail was suppressed by a
   * cooldown, an enumeration-prevention fake flow, or an already verified address.
   */
  | {
      readonly type: "email_confirmation_sent";
      readonly confirmation: ConfirmationRef;
      readonly signup: boolean;
    }
  /**
   * The primary address changed (mark primary; also equal from/to when re-selecting it), or,
   * with `account.changeEmail`, any verification completed (`fromEmailAddress` null when there
   * was no other address; the old row is already deleted).
   */
  | {
      readonly type: "email_changed";
      readonly user: UserRef;
      readonly fromEmailAddress: EmailAddressRef | null;
      readonly toEmailAddress: EmailAddressRef;
    }
  /** A new address row was saved by the user (link mode) or at code verification (code mode). */
  | { readonly type: "email_added"; readonly user: UserRef; readonly emailAddress: EmailAddressRef }
  /** An address row was deleted by the user. Not for change-email mode's silent clean-up. */
  | { readonly type: "email_removed"; readonly user: UserRef; readonly emailAddress: EmailAddressRef }
  /** A provider handshake succeeded; nothing of the local login has happened yet. */
  | { readonly type: "pre_social_login"; readonly socialLogin: SocialLoginRef }
  /** A social account was connected to an existing user. Never on social signup. */
  | { readonly type: "social_account_added"; readonly socialLogin: SocialLoginRef }
  /** An already connected social account was looked up and its data refreshed. */
  | { readonly type: "social_account_updated"; readonly socialLogin: SocialLoginRef }
  /** A social account was disconnected; the row is already gone. */
  | { readonly type: "social_account_removed"; readonly socialAccount: SocialAccountRef };

export type AuthSignalName = AuthSignal["type"];

/** All signal names, in catalogue order. */
export const authSignalNames = [
  "user_logged_in",
  "user_logged_out",
  "user_signed_up",
  "password_set",
  "password_changed",
  "password_reset",
  "email_confirmed",
  "email_confirmation_sent",
  "email_changed",
  "email_added",
  "email_removed",
  "pre_social_login",
  "social_account_added",
  "social_account_updated",
  "social_account_removed",
] as const satisfies ReadonlyArray<AuthSignalName>;

/** The signal of a given name. */
export type AuthSignalOf<N extends AuthSignalName> = Extract<AuthSignal, { type: N }>;
