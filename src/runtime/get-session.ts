/**
 * `auth.getSession(request)`: who is logged in, for the app's own routes. It reads the token the
 * way the headless API does (the `X-Session-Token` header for app clients, else the session
 * cookie), and answers with one query: the live session joined with its active user, or null.
 * An anonymous session (one holding only a pending flow) is null too.
 */
import { Effect } from "effect";
import type { AuthenticationRecord } from "../../machines/contracts.ts";
import type { UserRef } from "../../machines/signals.ts";
import { loadSession } from "./session.ts";
import type { AppServices } from "./step.ts";

export interface AuthSession {
  /** Which credential named the session: the app token, or the browser's cookie. */
  readonly client: "browser" | "app";
  readonly user: UserRef;
  /** How the session authenticated (the API's `data.methods`); `at` in milliseconds. */
  readonly methods: ReadonlyArray<AuthenticationRecord>;
  /** The id the API's `auth/sessions` lists for this session. */
  readonly sessionId: number;
  /** When the session was created (milliseconds). */
  readonly createdAt: number;
}

/** Headers as a fetch `Request` has them, or as Node's `IncomingMessage` (Express, Fastify) does. */
export type RequestHeaders = Headers | Readonly<Record<string, string | ReadonlyArray<string> | undefined>>;

function header(headers: RequestHeaders, name: string): string | null {
  if (headers instanceof Headers) {
    return headers.get(name);
  }
  const value = headers[name];
  return value === undefined ? null : typeof value === "string" ? value : value.join(", ");
}

function cookie(headers: RequestHeaders, name: string): string | null {
  for (const part of (header(headers, "cookie") ?? "").split(";")) {
    const at = part.indexOf("=");
    if (at > 0 && part.slice(0, at).trim() === name) {
      return part.slice(at + 1).trim();
    }
  }
  return null;
}

/** The credential a request carries, and the client it stands for. */
export function requestCredential(
  headers: RequestHeaders,
  cookieName: string,
): { readonly client: "browser" | "app"; readonly token: string } | null {
  const appToken = header(headers, "x-session-token");
  if (appToken !== null) {
    return { client: "app", token: appToken };
  }
  const browserToken = cookie(headers, cookieName);
  return browserToken === null ? null : { client: "browser", token: browserToken };
}

export const getSession = (
  headers: RequestHeaders,
  cookieName: string,
): Effect.Effect<AuthSession | null, never, AppServices> =>
  Effect.gen(function* () {
    const credential = requestCredential(headers, cookieName);
    if (credential === null || credential.token.length === 0 || credential.token.length > 128) {
      return null;
    }
    // The request's own read (`loadSession`): one query; a deactivated user is anonymous.
    const session = yield* loadSession(credential.token);
    if (session.user === null || session.publicId === null) {
      return null;
    }
    return {
      client: credential.client,
      user: session.user,
      methods: session.data.methods ?? [],
      sessionId: session.publicId,
      createdAt: session.createdAt,
    };
  });
