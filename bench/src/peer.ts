/**
 * better-auth, in-process through its server API (`auth.api.*`), on better-sqlite3 (WAL, and the
 * `synchronous` setting asked for) or on PostgreSQL (a `pg` Pool, which better-auth drives through
 * its Kysely adapter), with its schema created by its own `getMigrations`.
 * Its default password hashing is scrypt (N=16384, r=16, p=1) from `better-auth/crypto`
 * (`node:crypto` on Node); `emailAndPassword.password` replaces it.
 */
import Database from "better-sqlite3";
// Types only: `pg` is loaded by the PostgreSQL runs alone, so that it is not in the SQLite runs' RSS.
import type pg from "pg";
import { betterAuth } from "better-auth";
import { hashPassword, verifyPassword } from "better-auth/crypto";
import { getMigrations } from "better-auth/db/migration";
import type { Hasher } from "./metrics.ts";
import type { Driver, Session } from "./workloads.ts";

/** better-auth's own scrypt, as `{ hash, verify }` so it can be timed like any other. */
export const betterAuthScrypt: Hasher = {
  hash: (password) => hashPassword(password),
  verify: (hash, password) => verifyPassword({ hash, password }),
};

function options(db: Database.Database | pg.Pool, hasher: Hasher) {
  return {
    database: db,
    secret: "bench-secret-bench-secret-bench-secret-0123",
    baseURL: "http://127.0.0.1:3000",
    rateLimit: { enabled: false },
    telemetry: { enabled: false },
    logger: { disabled: true },
    emailAndPassword: {
      enabled: true,
      maxPasswordLength: 1024,
      password: {
        hash: (password: string) => hasher.hash(password),
        verify: ({ hash, password }: { hash: string; password: string }) => hasher.verify(hash, password),
      },
    },
  };
}

/** The `cookie` request header that carries the session set by a response. */
function cookieFrom(headers: Headers): Headers {
  const cookies = headers.getSetCookie().map((c) => c.split(";")[0]!);
  if (cookies.length === 0) {
    throw new Error("no session cookie");
  }
  return new Headers({ cookie: cookies.join("; ") });
}

export async function peerDriver(
  file: string,
  hasher: Hasher,
  synchronous: "FULL" | "NORMAL" = "FULL",
): Promise<Driver & { db: Database.Database }> {
  const db = new Database(file);
  db.pragma("journal_mode = WAL");
  db.pragma(`synchronous = ${synchronous}`);
  db.pragma("foreign_keys = ON");
  const config = options(db, hasher);
  const { runMigrations } = await getMigrations(config);
  await runMigrations();
  const auth = betterAuth(config);
  const level = db.pragma("synchronous", { simple: true });
  if (level !== (synchronous === "FULL" ? 2 : 1)) {
    throw new Error(`synchronous is ${String(level)}`);
  }
  return { ...driverOf(auth, async () => void db.close()), db };
}

/**
 * A `pg` Pool on `url` (a `postgres://` URL whose connections use the run's schema), `max` 10
 * connections like the library's own pool. With `migrate: false` the schema must have been
 * created already (by `migratePeerPostgres`), as when several processes share it.
 */
export async function peerPgDriver(url: string, hasher: Hasher, migrate = false): Promise<Driver> {
  const { default: driver } = await import("pg");
  const pool = new driver.Pool({ connectionString: url, max: 10 });
  const config = options(pool, hasher);
  if (migrate) {
    await (await getMigrations(config)).runMigrations();
  }
  return driverOf(betterAuth(config), () => pool.end());
}

/** Creates better-auth's tables in the (empty) schema `url` points to, with its own `getMigrations`. */
export async function migratePeerPostgres(url: string): Promise<void> {
  const { default: driver } = await import("pg");
  const pool = new driver.Pool({ connectionString: url, max: 1 });
  try {
    await (await getMigrations(options(pool, betterAuthScrypt))).runMigrations();
  } finally {
    await pool.end();
  }
}

function driverOf(auth: ReturnType<typeof betterAuth<ReturnType<typeof options>>>, close: () => Promise<void>): Driver {
  return {
    name: "better-auth",
    async signup(email, password) {
      const { headers } = await auth.api.signUpEmail({
        body: { email, password, name: email },
        returnHeaders: true,
      });
      return { token: null, headers: cookieFrom(headers) };
    },
    async login(email, password) {
      const { headers } = await auth.api.signInEmail({ body: { email, password }, returnHeaders: true });
      return { token: null, headers: cookieFrom(headers) };
    },
    async wrongLogin(email, password) {
      try {
        await auth.api.signInEmail({ body: { email, password } });
      } catch (error) {
        if ((error as { statusCode?: number }).statusCode === 401) {
          return;
        }
        throw error;
      }
      throw new Error("wrong password accepted");
    },
    async changePassword(session: Session, current, next) {
      // Like ours, other sessions end; better-auth then issues a new session for this client.
      const { headers } = await auth.api.changePassword({
        body: { currentPassword: current, newPassword: next, revokeOtherSessions: true },
        headers: session.headers!,
        returnHeaders: true,
      });
      return { token: null, headers: cookieFrom(headers) };
    },
    async logout(session: Session) {
      await auth.api.signOut({ headers: session.headers! });
    },
    close,
  };
}
