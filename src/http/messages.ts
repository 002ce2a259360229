/** Human-readable messages for error codes, worded as allauth words them. */
import type { ResolvedConfig } from "../config.ts";

export function messageFor(code: string, param: string | undefined, config: ResolvedConfig): string {
  switch (code) {
    case "required":
      return "This field is required.";
    case "invalid":
      if (param === "email") {
        return "Enter a valid email address.";
      }
      return param === "key" ? "Invalid or expired key." : "Enter a valid value.";
    case "invalid_type":
      return "Enter a valid value.";
    case "unknown_field":
      return "Unknown field.";
    case "max_length":
      return "Ensure this value is not too long.";
    case "email_taken":
      return "A user is already registered with this email address.";
    case "username_taken":
      return "A user with that username already exists.";
    case "invalid_username":
      return "Usernames can only contain letters, digits and @/./+/-/_.";
    case "email_password_mismatch":
      return "The email address and/or password you specified are not correct.";
    case "username_password_mismatch":
      return "The username and/or password you specified are not correct.";
    case "password_too_short":
      return `This password is too short. It must contain at least ${config.account.passwordMinLength} characters.`;
    case "password_too_long":
      return `This password is too long. It must contain at most ${config.account.passwordMaxLength} characters.`;
    case "password_too_common":
      return "This password is too common.";
    case "password_entirely_numeric":
      return "This password is entirely numeric.";
    case "password_too_similar":
      return "The password is too similar to your username or email address.";
    case "too_many_login_attempts":
      return "Too many failed login attempts. Try again later.";
    case "token_invalid":
      return "The password reset token was invalid.";
    case "incorrect_password":
      return "Incorrect password.";
    case "duplicate_email":
      return "This email address is already associated with this account.";
    case "max_email_addresses":
      return "You cannot add more email addresses.";
    case "cannot_remove_primary_email":
      return "You cannot remove your primary email address.";
    case "cannot_remove_last_email":
      return "You cannot remove your only email address.";
    case "unverified_primary_email":
      return "Your primary email address must be verified.";
    case "incorrect_code":
      return "Incorrect code.";
    case "too_many_attempts":
      return "Too many attempts. Try again later.";
    case "invalid_json":
      return "The request body is not valid JSON.";
    case "body_too_large":
      return "The request body is too large.";
    default:
      return "Something went wrong.";
  }
}
