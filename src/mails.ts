/**
 * The mails of the account flows, as allauth words them. Links are `frontendUrls` templates with
 * `{key}` percent-encoded, made absolute on the origin of the request that sends them (allauth's
 * `build_absolute_uri`); a code stands alone on its own line; "account already exists" carries
 * neither. User-supplied text only ever appears in the plain-text part.
 */
import type { ResolvedConfig } from "./config.ts";
import type { Mail } from "./services/mailer.ts";

/**
 * A `frontendUrls` template filled in: `{key}` percent-encoded, a path (`/…`) prefixed with the
 * request's `origin`, and `https` forced when `account.defaultHttpProtocol` says so.
 */
export function frontendLink(config: ResolvedConfig, template: string, origin: string, key?: string): string {
  const filled = key === undefined ? template : template.replace("{key}", encodeURIComponent(key));
  const absolute = /^[a-z][a-z0-9+.-]*:\/\//i.test(filled) ? filled : `${origin}${filled}`;
  return config.account.defaultHttpProtocol === "https" ? absolute.replace(/^http:/i, "https:") : absolute;
}

export function emailConfirmationMail(config: ResolvedConfig, to: string, key: string, origin: string): Mail {
  const url = frontendLink(config, config.frontendUrls.accountConfirmEmail, origin, key);
  return {
    to,
    subject: `${config.account.emailSubjectPrefix}Please Confirm Your Email Address`,
    text:
      `Hello from ${config.siteName}!\n\n` +
      `You're receiving this email because a user account was registered with this address.\n\n` +
      `To confirm this is correct, go to ${url}\n\n` +
      `Thank you for using ${config.siteName}!\n`,
  };
}

export function emailConfirmationCodeMail(config: ResolvedConfig, to: string, code: string): Mail {
  return {
    to,
    subject: `${config.account.emailSubjectPrefix}Please Confirm Your Email Address`,
    text:
      `Hello from ${config.siteName}!\n\n` +
      `Your email verification code is listed below. Please enter it in your open browser window.\n\n` +
      `${code}\n\n` +
      `Thank you for using ${config.siteName}!\n`,
  };
}

export function accountAlreadyExistsMail(config: ResolvedConfig, to: string): Mail {
  return {
    to,
    subject: `${config.account.emailSubjectPrefix}Account Already Exists`,
    text:
      `Hello from ${config.siteName}!\n\n` +
      `You are receiving this email because you, or someone else, tried to sign up for an account ` +
      `using the email address ${to}. However, an account using that email address already exists. ` +
      `In case you have forgotten about this, please use the password forgotten procedure to recover ` +
      `your account.\n\n` +
      `Thank you for using ${config.siteName}!\n`,
  };
}

/** A security notification (allauth `ACCOUNT_EMAIL_NOTIFICATIONS`): no link, no key. */
export function notificationMail(
  config: ResolvedConfig,
  to: string,
  what: "password_changed" | "password_set" | "password_reset" | "email_changed" | "email_removed" | "account_connected" | "account_disconnected" | "pre_account_secured",
  /** `email_removed`: the address that was removed (the mail goes to the primary one); the provider's name for the social ones. */
  removed: string = to,
): Mail {
  const lines: Record<typeof what, readonly [string, string]> = {
    password_changed: ["Password Changed", "Your password has been changed."],
    password_set: ["Password Set", "A password has been set for your account."],
    password_reset: ["Password Reset", "Your password has been reset."],
    email_changed: ["Email Changed", "The email address of your account has been changed from this address."],
    email_removed: ["Email Removed", `The email address ${removed} has been removed from your account.`],
    account_connected: ["Third-Party Account Connected", `A third-party account from ${removed} has been connected to your account.`],
    pre_account_secured: [
      "Account Secured",
      "This email address was confirmed for your account. Any password set before the confirmation no longer works, " +
        "and every other session of the account has been signed out. To sign in with a password, use the password " +
        "forgotten procedure.",
    ],
    account_disconnected: [
      "Third-Party Account Disconnected",
      `A third-party account from ${removed} has been disconnected from your account.`,
    ],
  };
  const [subject, body] = lines[what];
  return {
    to,
    subject: `${config.account.emailSubjectPrefix}${subject}`,
    text:
      `Hello from ${config.siteName}!\n\n${body}\n\n` +
      `If you did not make this change, please take proper security precautions immediately.\n\n` +
      `Thank you for using ${config.siteName}!\n`,
  };
}

export function passwordResetKeyMail(config: ResolvedConfig, to: string, key: string, origin: string): Mail {
  const url = frontendLink(config, config.frontendUrls.accountResetPasswordFromKey, origin, key);
  return {
    to,
    subject: `${config.account.emailSubjectPrefix}Password Reset Email`,
    text:
      `Hello from ${config.siteName}!\n\n` +
      `You're receiving this email because you or someone else has requested a password reset for ` +
      `your user account. It can be safely ignored if you did not request a password reset. ` +
      `Click the link below to reset your password.\n\n${url}\n\n` +
      `Thank you for using ${config.siteName}!\n`,
  };
}

export function codeMail(
  config: ResolvedConfig,
  to: string,
  code: string,
  purpose: "login" | "password_reset",
): Mail {
  const [subject, intro] =
    purpose === "login"
      ? ["Sign In Code", "Your sign-in code is listed below. Please enter it in your open browser window."]
      : ["Password Reset Code", "Your password reset code is listed below. Please enter it in your open browser window."];
  return {
    to,
    subject: `${config.account.emailSubjectPrefix}${subject}`,
    text: `Hello from ${config.siteName}!\n\n${intro}\n\n${code}\n\nThank you for using ${config.siteName}!\n`,
  };
}

export function unknownAccountMail(config: ResolvedConfig, to: string): Mail {
  return {
    to,
    subject: `${config.account.emailSubjectPrefix}Unknown Account`,
    text:
      `Hello from ${config.siteName}!\n\n` +
      `You are receiving this email because you, or someone else, requested access to an account ` +
      `with the email address ${to}. However, we do not have any record of such an account in our ` +
      `database.\n\nThis mail can be safely ignored if you did not request it.\n\n` +
      `Thank you for using ${config.siteName}!\n`,
  };
}
