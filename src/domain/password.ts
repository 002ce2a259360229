/**
 * Password policy, checked before any hashing: length in code points between the configured
 * minimum (15 by default) and maximum, not entirely numeric, not a commonly used password, not
 * the user's username or email local part. No composition rules. Lengths count the code points
 * as typed (SECURITY.md CR-02: "\uFDFA" is one, although NFKC makes it 18); the other checks
 * compare after NFKC.
 */
import { readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { joinErrors } from "../../machines/errors.ts";
import type { FlowError } from "../../machines/errors.ts";

/**
 * Common passwords, one a line, lower-cased and NFKC-normalised, gzipped: the 49,233 entries of
 * the `passwords` dictionary of the npm package `@zxcvbn-ts/language-common` 4.1.3 (MIT licence,
 * copyright Dan Wheeler, Dropbox, Inc. and @zxcvbn-ts; see common-passwords.LICENSE.txt beside
 * it). Loaded once, on first use.
 */
let commonPasswords: ReadonlySet<string> | undefined;

function common(): ReadonlySet<string> {
  commonPasswords ??= new Set(
    gunzipSync(readFileSync(new URL("./common-passwords.txt.gz", import.meta.url))).toString("utf8").split("\n").filter((line) => line !== ""),
  );
  return commonPasswords;
}

/** Longest entry of the list; a value longer than two of them cannot be two entries joined. */
const longestCommon = 20;

/**
 * A folded password is common when it is on the list, or is two entries of it joined
 * ("password" + "12345678", "passwordpassword" + "1"): whole values only, never a substring.
 */
function isCommon(folded: string): boolean {
  const list = common();
  if (list.has(folded)) {
    return true;
  }
  if (folded.length > 2 * longestCommon) {
    return false;
  }
  for (let i = 1; i < folded.length; i++) {
    if (list.has(folded.slice(0, i)) && list.has(folded.slice(i))) {
      return true;
    }
  }
  return false;
}

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
  if (length < policy.minLength) {
    errors.push({ code: "password_too_short", param, details: { limit: policy.minLength } });
  }
  if (isCommon(folded) || isCommon(folded.replace(/\s+/g, ""))) {
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
