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
  if (value.length > policy.maxLength) {
    return { code: "max_length", param: "username" };
  }
  if (value.length < policy.minLength || !/^[A-Za-z0-9@.+_-]+$/.test(value)) {
    return { code: "invalid_username", param: "username" };
  }
  if (policy.blacklist.includes(value.toLowerCase())) {
    return { code: "invalid_username", param: "username" };
  }
  return value;
}
