/**
 * The one expected failure of every service and actor: a flow error code (allauth's
 * `error_messages` keys) and the input field it concerns. Infrastructure failures are defects.
 */
import { Data } from "effect";
import type { AuthErrorCode, ErrorDetails, FlowError } from "../machines/errors.ts";

export class AuthFailure extends Data.TaggedError("AuthFailure")<{
  readonly code: AuthErrorCode;
  readonly param?: string;
  readonly details?: ErrorDetails;
  readonly also?: ReadonlyArray<FlowError>;
}> {}

/** Fails with an `AuthFailure`. */
export function fail(code: AuthErrorCode, param?: string, details?: ErrorDetails): AuthFailure {
  return new AuthFailure({
    code,
    ...(param === undefined ? {} : { param }),
    ...(details === undefined ? {} : { details }),
  });
}

/** Fails with a flow error as data (keeps its details and the errors it carries). */
export function failWith(error: FlowError): AuthFailure {
  return new AuthFailure(error);
}
