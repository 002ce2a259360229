/**
 * What the machines need from the outside world: the settings they read and the input and
 * output of every named actor. `src/actors/<slug>.ts` implements these; tests may too.
 */
import type { Secret } from "./secret.ts";
import type { ConfirmationRef, EmailAddressRef, SocialLoginRef, UserRef } from "./signals.ts";

export type EmailVerificationMode = "none" | "optional" | "mandatory";
export type LoginMethod = "email" | "username";

/** The settings a flow reads, as plain JSON (allauth's names, camelCased). */
export interface FlowSettings {
  readonly emailVerification: EmailVerificationMode;
  readonly emailVerificationByCodeEnabled: boolean;
  readonly loginOnEmailConfirmation: boolean;
  readonly preventEnumeration: boolean | "strict";
  readonly changeEmail: boolean;
  readonly loginMethods: ReadonlyArray<LoginMethod>;
  /**
   * allauth's `ACCOUNT_LOGIN_BY_CODE_REQUIRED`: `true`, or the methods ("password", …) after
   * which a login code is required as a second step. Absent means false.
   */
  readonly loginByCodeRequired?: boolean | ReadonlyArray<string>;
}

/** How the session was authenticated (allauth's `methods` entries). */
export interface AuthenticationRecord {
  readonly method: "password" | "code" | "email_verification" | "password_reset" | "socialaccount";
  readonly at: number;
  /** True for a reauthentication (allauth records those with `reauthenticated: true`). */
  readonly reauthenticated?: boolean;
  readonly email?: string;
  readonly username?: string;
  /** `socialaccount`: the provider (its id) and the account's `uid`. */
  readonly provider?: string;
  readonly uid?: string;
}

/** A login parked at a stage, waiting for the stage to finish (allauth's `Login`). */
export interface PendingLogin {
  readonly userId: string;
  readonly signup: boolean;
  readonly emailAddressId: string | null;
  readonly method: AuthenticationRecord["method"];
  readonly email?: string;
  readonly username?: string;
  /** A social login or signup: carried to `user_logged_in` (allauth's `signal_kwargs`). */
  readonly socialLogin?: SocialLoginRef;
}

/** What every flow machine starts with. */
export interface FlowInput {
  readonly settings: FlowSettings;
  /** The user the session holds when the step begins, or null. */
  readonly sessionUser: UserRef | null;
}

// ---- named actors ----

export interface SignupForm {
  readonly email: string | null;
  readonly username: string | null;
  /** Null when the signup asks for no password: the account gets an unusable one. */
  readonly password: Secret | null;
}
export interface ValidateSignupOutput {
  /** Cleaned values (email canonical, username as stored). */
  readonly email: string | null;
  readonly username: string | null;
  /** True when the email is already in use by another account. */
  readonly emailTaken: boolean;
}
export interface CreateUserInput {
  readonly email: string | null;
  readonly username: string | null;
  readonly password: Secret | null;
}
export interface CreateUserOutput {
  readonly user: UserRef;
  readonly emailAddress: EmailAddressRef | null;
}
export interface SendAccountExistsMailInput {
  readonly email: string;
  /** Hashed and thrown away so that the fake flow costs what a real signup costs (none: no hash). */
  readonly password: Secret | null;
}
export interface LoginForm {
  readonly email: string | null;
  readonly username: string | null;
  readonly password: Secret;
}
export interface AuthenticateOutput {
  readonly user: UserRef;
  /** The address used to log in (login by email), or null. */
  readonly emailAddress: EmailAddressRef | null;
  /** True when the user has at least one verified address. */
  readonly hasVerifiedEmail: boolean;
}
export interface SendVerificationEmailInput {
  readonly userId: string;
  /** The address to verify; null means "the user's primary or first unverified address". */
  readonly emailAddressId: string | null;
  readonly signup: boolean;
}
export interface SendVerificationEmailOutput {
  /** False when a cooldown suppressed the mail, or there was nothing to verify. */
  readonly sent: boolean;
  readonly confirmation: ConfirmationRef | null;
  /** Code mode: the id of the verification the pending flow confirms. */
  readonly verificationId: string | null;
  /**
   * Code mode: allauth recomputes `email_confirmation_sent`'s `signup` as "the user never
   * logged in" (`EmailVerificationProcess.send`); when present it replaces the login's flag.
   */
  readonly signup?: boolean;
}
export interface StartSessionInput {
  readonly userId: string;
  /** The login being completed; the actor records its method with the current time. */
  readonly login: PendingLogin;
}
export interface StartSessionOutput {
  readonly user: UserRef;
}
export interface ConfirmEmailOutput {
  readonly user: UserRef;
  readonly emailAddress: EmailAddressRef;
  /** `account.changeEmail`: the address it replaced (already deleted), or null. */
  readonly fromEmailAddress: EmailAddressRef | null;
  /** True when the address row was created by this confirmation (code-mode add). */
  readonly added: boolean;
}
/** The code was right (`checkCode`): the verification it matched is now used up. */
export interface ConfirmEmailCodeInput {
  readonly verificationId: string;
}
export interface ConfirmEmailKeyInput {
  readonly key: Secret;
}

export interface ChangePasswordInput {
  readonly userId: string;
  /** As sent (null when absent): required of a user with a usable password. */
  readonly currentPassword: Secret | null;
  /** As sent (null when absent, which the actor refuses as `required`). */
  readonly newPassword: Secret | null;
}
export interface ChangePasswordOutput {
  readonly user: UserRef;
}

export interface ManageEmailTarget {
  readonly userId: string;
  readonly email: string;
}
/** The input checks of an add, remove or mark-primary, run before reauthentication is asked. */
export interface ManageEmailCheck extends ManageEmailTarget {
  readonly action: "ADD" | "REMOVE" | "MARK_PRIMARY";
}
export interface AddEmailOutput {
  /** Link mode: the new unverified row. Code mode: null (stored only when the code is right). */
  readonly emailAddress: EmailAddressRef | null;
  /** The verification mail, when one was queued. */
  readonly confirmation: ConfirmationRef | null;
  /** Code mode: the verification that holds the code. */
  readonly verificationId: string | null;
}
export interface RemoveEmailOutput {
  readonly user: UserRef;
  readonly emailAddress: EmailAddressRef;
}
export interface MarkPrimaryOutput {
  readonly user: UserRef;
  readonly fromEmailAddress: EmailAddressRef | null;
  readonly toEmailAddress: EmailAddressRef;
}
/** Changing the address of a signup waiting for its code (allauth's `change_to`). */
export interface ChangePendingEmailInput {
  readonly userId: string;
  /** The new address, as typed. */
  readonly email: string;
  /** The address the code went to so far. */
  readonly current: string;
}
export interface ChangePendingEmailOutput {
  /** The new unverified address (null when the new address is taken and that is hidden). */
  readonly emailAddress: EmailAddressRef | null;
  readonly confirmation: ConfirmationRef | null;
  /** The verification holding the new code (null when hidden). */
  readonly verificationId: string | null;
  /** `email_confirmation_sent`'s flag: the user never logged in. */
  readonly signup: boolean;
}
export interface ResendVerificationOutput {
  readonly sent: boolean;
  readonly confirmation: ConfirmationRef | null;
  /** Code mode: the verification that holds the new code. */
  readonly verificationId: string | null;
}

export interface ReauthenticateInput {
  readonly userId: string;
  readonly password: Secret;
}

export interface EndSessionsInput {
  readonly userId: string;
  /** Public ids of the sessions to end (never the current one: that is a logout). */
  readonly sessionIds: ReadonlyArray<number>;
  /** Whether the current session is among them; it is ended last, as a logout. */
  readonly includesCurrent: boolean;
}

export interface RequestPasswordResetInput {
  readonly email: string;
}
export interface RequestPasswordResetOutput {
  /** Code mode: the verification holding the code; null in link mode and for unknown addresses. */
  readonly verificationId: string | null;
}
export interface CheckResetKeyInput {
  readonly key: Secret;
}
export interface CheckResetKeyOutput {
  readonly user: UserRef;
  readonly verificationId: string;
  readonly emailAddress: EmailAddressRef | null;
}
export interface ConfirmResetCodeInput {
  readonly verificationId: string;
}
export interface ConfirmResetCodeOutput {
  readonly user: UserRef;
  readonly emailAddress: EmailAddressRef;
  /** True when confirming the code verified the address just now (`email_confirmed`). */
  readonly verifiedNow: boolean;
}
export interface HashNewPasswordInput {
  /** The key's or code's verification (whose user the password must not resemble); null: none. */
  readonly verificationId: string | null;
  readonly password: Secret;
}
export interface HashNewPasswordOutput {
  /** The hash, wrapped so it never reaches a log or a snapshot. */
  readonly passwordHash: Secret;
}
export interface ResetPasswordInput {
  readonly verificationId: string;
  readonly passwordHash: Secret;
  /** End the current session (another user's) first, in the same transaction. */
  readonly endSession: boolean;
}
export interface ResetPasswordOutput {
  readonly user: UserRef;
}

export interface SendLoginCodeInput {
  readonly userId: string;
  /** The address to mail; null means the user's primary address. */
  readonly emailAddressId: string | null;
}
export interface SendLoginCodeOutput {
  readonly verificationId: string | null;
}
export interface RequestLoginCodeInput {
  readonly email: string;
}
export interface ConfirmLoginCodeInput {
  readonly verificationId: string;
}
export interface ConfirmLoginCodeOutput {
  readonly user: UserRef;
  readonly emailAddress: EmailAddressRef;
  /** True when the code verified the address just now (`email_confirmed`). */
  readonly verifiedNow: boolean;
}

// ---- the code-verification process (machines/code-verification.ts) ----

export interface CheckCodeInput {
  /** Null when the request sent none: counted as a wrong code, answered `required`. */
  readonly code: Secret | null;
}
/**
 * What one check of a code did. `wrong` counted an attempt (`last`: it was the final one, the
 * process is over); `gone`: there is no live process (ended, timed out, out of attempts).
 */
export type CheckCodeOutput =
  | { readonly result: "right"; readonly verificationId: string }
  | { readonly result: "wrong"; readonly error: "required" | "incorrect_code"; readonly last: boolean }
  | { readonly result: "gone" };
/**
 * What one resend did: `sent` (for a flow that can never succeed, nothing is mailed, and it
 * looks the same); `exhausted`: out of resends or no live process; `rate_limited`: the cooldown.
 */
export type ResendCodeOutput =
  | {
      readonly result: "sent";
      /** Email verification: the mail just queued (`email_confirmation_sent`), else null. */
      readonly confirmation: ConfirmationRef | null;
      readonly signup: boolean;
    }
  | { readonly result: "exhausted" }
  | { readonly result: "rate_limited" };
