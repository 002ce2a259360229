/**
 * authmachines driven the way an allauth headless app client drives it: Fetch `Request`s to
 * `auth.handler`, the session token in `X-Session-Token`.
 */
import { SqlClient } from "@effect/sql";
import { Effect } from "effect";
import { createAuth } from "../../src/index.ts";
import type { Auth } from "../../src/index.ts";
import type { AuthConfig } from "../../src/config.ts";
import type { Hasher } from "./metrics.ts";
import type { Driver, Session } from "./workloads.ts";

export const ourSecret = "bench-secret-bench-secret-bench-secret-0123";

interface Reply {
  readonly status: number;
  readonly body: any;
}

export async function call(
  auth: Auth,
  method: string,
  path: string,
  body?: unknown,
  token?: string | null,
  ip = "10.0.0.1",
): Promise<Reply> {
  const headers: Record<string, string> = { "user-agent": "bench" };
  if (body !== undefined) {
    headers["content-type"] = "application/json";
  }
  if (token != null) {
    headers["x-session-token"] = token;
  }
  const response = await auth.handler(
    new Request(`http://127.0.0.1/_allauth/app/v1/${path}`, {
      method,
      headers,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    }),
    { ip },
  );
  return { status: response.status, body: await response.json() };
}

function expect(reply: Reply, status: number, what: string): Reply {
  if (reply.status !== status) {
    throw new Error(`${what}: expected ${status}, got ${reply.status} ${JSON.stringify(reply.body).slice(0, 200)}`);
  }
  return reply;
}

/** Sets SQLite's `synchronous` on the library's (single) connection and reads it back. */
export async function setSynchronous(auth: Auth, mode: "FULL" | "NORMAL"): Promise<number> {
  const rows = await auth.runtime.runPromise(
    Effect.flatMap(SqlClient.SqlClient, (sql) =>
      Effect.zipRight(sql.unsafe(`PRAGMA synchronous = ${mode}`), sql.unsafe<{ synchronous: number }>("PRAGMA synchronous")),
    ),
  );
  return Number(rows[0]!.synchronous);
}

/** The library on `database` with the bench's settings (see the README's "Configuration"). */
function openAuth(database: string, hasher: Hasher, rateLimits: "off" | "default", migrate: boolean): Promise<Auth> {
  const account: AuthConfig["account"] = { loginMethods: ["email"], emailVerification: "none" };
  return createAuth({
    secret: ourSecret,
    database,
    migrate,
    passwordHasher: hasher,
    mailer: { send: async () => undefined },
    outbox: { pollIntervalMs: false },
    account: rateLimits === "off" ? { ...account, rateLimits: false } : account,
    // BENCH_GROUP_COMMIT=1: steps that write together share one COMMIT (SQLite).
    sqliteGroupCommit: process.env["BENCH_GROUP_COMMIT"] === "1",
    // The authentication log (one `info` per password check and session start) is dropped:
    // printing it to the console would measure the terminal. Warnings and failures still print.
    logger: { info: () => undefined, warn: console.warn, error: console.error },
  });
}

/**
 * `rateLimits: "default"` leaves `account.rateLimits` unset, so allauth's defaults apply (the
 * configuration people run); `"off"` sets it to `false`. Either way every request comes from its
 * own IPv4 address (10.x.y.z, counting up), as requests from many clients would: the per-IP
 * limits then never refuse, and the on/off runs take the same code path apart from the limits.
 */
export async function ourDriver(
  file: string,
  hasher: Hasher,
  synchronous: "FULL" | "NORMAL" = "FULL",
  rateLimits: "off" | "default" = "off",
): Promise<Driver & { auth: Auth }> {
  const auth = await openAuth(`sqlite:${file}`, hasher, rateLimits, true);
  const level = await setSynchronous(auth, synchronous);
  if (level !== (synchronous === "FULL" ? 2 : 1)) {
    throw new Error(`synchronous is ${level}`);
  }
  return driverOf(auth);
}

/**
 * The library on PostgreSQL (`url`: a `postgres://` URL whose connections use the run's schema;
 * the library's own pool of 10 connections). With `migrate: false` the schema must have been
 * migrated already (by `migratePostgres`), as when several processes share it.
 */
export async function ourPgDriver(
  url: string,
  hasher: Hasher,
  rateLimits: "off" | "default" = "off",
  migrate = false,
): Promise<Driver & { auth: Auth }> {
  return driverOf(await openAuth(url, hasher, rateLimits, migrate));
}

/** Applies the library's migrations to the (empty) schema `url` points to. */
export async function migratePostgres(url: string, hasher: Hasher): Promise<void> {
  const auth = await openAuth(url, hasher, "off", true);
  await auth.close();
}

function driverOf(auth: Auth): Driver & { auth: Auth } {
  let clients = 0;
  const nextIp = () => {
    const n = ++clients;
    return `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
  };
  const request = (method: string, path: string, body?: unknown, token?: string | null) =>
    call(auth, method, path, body, token, nextIp());
  return {
    name: "authmachines",
    auth,
    async signup(email, password) {
      const reply = expect(await request("POST", "auth/signup", { email, password }), 200, "signup");
      return { token: reply.body.meta.session_token as string };
    },
    async login(email, password) {
      const reply = expect(await request("POST", "auth/login", { email, password }), 200, "login");
      return { token: reply.body.meta.session_token as string };
    },
    async wrongLogin(email, password) {
      expect(await request("POST", "auth/login", { email, password }), 400, "wrong-password login");
    },
    async changePassword(session: Session, current, next) {
      const reply = expect(
        await request("POST", "account/password/change", { current_password: current, new_password: next }, session.token),
        200,
        "password change",
      );
      // The session goes on under a new token (SE-06, as allauth's update_session_auth_hash).
      const token = reply.body?.meta?.session_token as string | undefined;
      if (token === undefined || token === session.token) {
        throw new Error("password change: no new session token");
      }
      return { token };
    },
    async logout(session: Session) {
      expect(await request("DELETE", "auth/session", undefined, session.token), 401, "logout");
    },
    close: () => auth.close(),
  };
}
