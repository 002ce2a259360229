/**
 * better-auth, in-process through its server API (`auth.api.*`), on better-sqlite3 (WAL, and the
 * `synchronous` setting asked for), with its schema created by its own `getMigrations`.
 * Its default password hashing is scrypt (N=16384, r=16, p=1) from `better-auth/crypto`
 * (`node:crypto` on Node); `emailAndPassword.password` replaces it.
 */
import Database from "better-sqlite3";
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

function options(db: Database.Database, hasher: Hasher) {
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
  return {
    name: "better-auth",
    db,
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
    close: async () => {
      db.close();
    },
  };
}
