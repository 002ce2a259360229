import type { ProviderErrorCode } from "./types.ts";

/**
 * A provider round trip that failed (callback, code exchange, userinfo, discovery). `code` is what
 * goes back to the frontend (`?error=`); `reason` is for logs and tests only and is built from
 * fixed words and library error codes: it never holds a token, a code, a verifier, a secret, a
 * state value or a provider's response body.
 */
export class ProviderError extends Error {
  override readonly name = "ProviderError";
  constructor(
    readonly code: ProviderErrorCode,
    readonly reason: string,
  ) {
    super(`provider ${code}: ${reason}`);
  }
}

/** An app-supplied token (`auth/provider/token`) that was refused: answered 400 `invalid_token`. */
export class TokenError extends Error {
  override readonly name = "TokenError";
  readonly code = "invalid_token";
  constructor(readonly reason: string) {
    super(`invalid_token: ${reason}`);
  }
}

/** A short, log-safe label for a thrown value: its library code or OAuth error code, never its message. */
export function safeLabel(error: unknown): string {
  if (error instanceof ProviderError || error instanceof TokenError) {
    return error.reason;
  }
  if (typeof error === "object" && error !== null) {
    const { code, error: oauthError, name } = error as { code?: unknown; error?: unknown; name?: unknown };
    const parts = [name, code, oauthError].filter((part): part is string => typeof part === "string" && /^[A-Za-z0-9_.-]{1,60}$/.test(part));
    if (parts.length > 0) {
      return parts.join(" ");
    }
  }
  return "unexpected failure";
}

/** Runs `step`, turning any failure into a `ProviderError` with code `unknown` (ours pass through). */
export async function asProviderError<T>(context: string, step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (error) {
    if (error instanceof ProviderError) {
      throw error;
    }
    throw new ProviderError("unknown", `${context}: ${safeLabel(error)}`);
  }
}
