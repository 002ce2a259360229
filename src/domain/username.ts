/**
 * Usernames: ASCII letters, digits and `@ . + - _` (Django's validator without the Unicode
 * letters, so no look-alike names), compared case-insensitively.
 */
import type { FlowError } from "../../machines/errors.ts";

export interface UsernamePolicy {
  readonly minLength: number;
  readonly maxLength: number;
  readonly blacklist: ReadonlyArray<string>;
}

/** The username as stored, or the failure. */
export function cleanUsername(value: string, policy: UsernamePolicy): string | FlowError {
  const length = [...value].length;
  if (length > policy.maxLength) {
    return { code: "max_length", param: "username", details: { limit: policy.maxLength, length } };
  }
  if (length < policy.minLength) {
    return { code: "min_length", param: "username", details: { limit: policy.minLength, length } };
  }
  if (!/^[A-Za-z0-9@.+_-]+$/.test(value)) {
    return { code: "invalid", param: "username" };
  }
  if (policy.blacklist.includes(value.toLowerCase())) {
    return { code: "username_blacklisted", param: "username" };
  }
  return value;
}
