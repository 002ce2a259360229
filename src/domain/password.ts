/**
 * Password policy, checked before any hashing: length in code points between the configured
 * minimum (15 by default) and maximum, not entirely numeric, not a commonly used password, not
 * the user's username or email local part. No composition rules; compared after NFKC.
 */
import { joinErrors } from "../../machines/errors.ts";
import type { FlowError } from "../../machines/errors.ts";

/** A small blocklist of the most common passwords of 15+ characters and their stems. */
const common = new Set([
  "password",
  "passwordpassword",
  "password123456789",
  "123456789012345",
  "qwertyuiopasdfgh",
  "qwertyuiopasdfghjkl",
  "1q2w3e4r5t6y7u8i",
  "iloveyouiloveyou",
  "aaaaaaaaaaaaaaa",
  "abcdefghijklmnop",
  "letmeinletmeinletmein",
  "welcomewelcome123",
  "administrator123",
  "passw0rdpassw0rd",
]);

export interface PasswordPolicy {
  readonly minLength: number;
  readonly maxLength: number;
}

/**
 * Every policy failure of `password`, in the order of Django's default validators (similarity,
 * minimum length, common, numeric), each its own error as Django's `validate_password` reports
 * them. Over the maximum length nothing else is checked.
 */
export function passwordErrors(
  password: string,
  policy: PasswordPolicy,
  context: { readonly username?: string | null; readonly email?: string | null } = {},
  param = "password",
): ReadonlyArray<FlowError> {
  const length = [...password].length;
  if (length > policy.maxLength) {
    return [{ code: "max_length", param, details: { limit: policy.maxLength, length } }];
  }
  const errors: Array<FlowError> = [];
  const normalized = password.normalize("NFKC");
  const folded = normalized.toLowerCase();
  const related: ReadonlyArray<readonly [string, string | null | undefined]> = [
    ["username", context.username],
    ["email address", context.email],
    ["email address", context.email?.split("@")[0]],
  ];
  const similar = related.find(([, v]) => typeof v === "string" && v.length > 0 && v.toLowerCase() === folded);
  if (similar !== undefined) {
    errors.push({ code: "password_too_similar", param, details: { attribute: similar[0] } });
  }
  if ([...normalized].length < policy.minLength) {
    errors.push({ code: "password_too_short", param, details: { limit: policy.minLength } });
  }
  if (common.has(folded) || common.has(folded.replace(/\s+/g, ""))) {
    errors.push({ code: "password_too_common", param });
  }
  if (/^\d+$/.test(normalized)) {
    errors.push({ code: "password_entirely_numeric", param });
  }
  return errors;
}

/** The policy failures of `password` as one error carrying the others, or null. */
export function checkPassword(
  password: string,
  policy: PasswordPolicy,
  context: { readonly username?: string | null; readonly email?: string | null } = {},
): FlowError | null {
  return joinErrors(passwordErrors(password, policy, context));
}
