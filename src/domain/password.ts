/**
 * Password policy, checked before any hashing: length in code points between the configured
 * minimum (15 by default) and maximum, not entirely numeric, not a commonly used password, not
 * the user's username or email local part. No composition rules; compared after NFKC.
 */
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

/** The first policy failure of `password`, or null. */
export function checkPassword(
  password: string,
  policy: PasswordPolicy,
  context: { readonly username?: string | null; readonly email?: string | null } = {},
): FlowError | null {
  const length = [...password].length;
  if (length > policy.maxLength) {
    return { code: "max_length", param: "password", details: { limit: policy.maxLength, length } };
  }
  const normalized = password.normalize("NFKC");
  if ([...normalized].length < policy.minLength) {
    return { code: "password_too_short", param: "password" };
  }
  const folded = normalized.toLowerCase();
  if (common.has(folded) || common.has(folded.replace(/\s+/g, ""))) {
    return { code: "password_too_common", param: "password" };
  }
  if (/^\d+$/.test(normalized)) {
    return { code: "password_entirely_numeric", param: "password" };
  }
  const related: ReadonlyArray<readonly [string, string | null | undefined]> = [
    ["username", context.username],
    ["email address", context.email],
    ["email address", context.email?.split("@")[0]],
  ];
  const similar = related.find(([, v]) => typeof v === "string" && v.length > 0 && v.toLowerCase() === folded);
  if (similar !== undefined) {
    return { code: "password_too_similar", param: "password", details: { attribute: similar[0] } };
  }
  return null;
}
