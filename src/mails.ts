/**
 * The mails of the account flows, as allauth words them. Links are `frontendUrls` templates with
 * `{key}` percent-encoded; a code stands alone on its own line; "account already exists" carries
 * neither. User-supplied text only ever appears in the plain-text part.
 */
import type { ResolvedConfig } from "./config.ts";
import type { Mail } from "./services/mailer.ts";

function link(template: string, key: string): string {
  return template.replace("{key}", encodeURIComponent(key));
}

export function emailConfirmationMail(config: ResolvedConfig, to: string, key: string): Mail {
  const url = link(config.frontendUrls.accountConfirmEmail, key);
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
