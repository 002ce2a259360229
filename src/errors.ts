/**
 * The one expected failure of every service and actor: a flow error code (allauth's
 * `error_messages` keys) and the input field it concerns. Infrastructure failures are defects.
 */
import { Data } from "effect";
import type { AuthErrorCode } from "../machines/errors.ts";

export class AuthFailure extends Data.TaggedError("AuthFailure")<{
  readonly code: AuthErrorCode;
  readonly param?: string;
}> {}

/** Fails with an `AuthFailure`. */
export function fail(code: AuthErrorCode, param?: string): AuthFailure {
  return new AuthFailure(param === undefined ? { code } : { code, param });
}
