/**
 * Schema migrations, run in order at start-up inside one transaction each. The SQL is written
 * once for SQLite and PostgreSQL: integers for booleans (0/1) and epoch milliseconds for times.
 */
import { SqlClient } from "@effect/sql";
import { Clock, Effect } from "effect";
import type { SqlError } from "@effect/sql/SqlError";
import { lockKey } from "./locks.ts";
import { retryWhileBusy, withWriteTransaction } from "./write-transaction.ts";

export interface Migration {
  readonly id: number;
  readonly name: string;
  readonly statements: ReadonlyArray<string>;
}

/** The table that records which migrations a database has. */
export const migrationsTable =
  "CREATE TABLE IF NOT EXISTS auth_migrations (id INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)";

/** The advisory lock (PostgreSQL) held while migrating. */
export const migrationLockKey = "authmachines:migrate";

export const migrations: ReadonlyArray<Migration> = [
  {
    id: 1,
    name: "accounts",
    statements: [
      `CREATE TABLE auth_user (
        id TEXT PRIMARY KEY,
        username TEXT,
        username_lower TEXT UNIQUE,
        email TEXT NOT NULL DEFAULT '',
        password TEXT NOT NULL,
        is_active INTEGER NOT NULL DEFAULT 1,
        last_login BIGINT,
        date_joined BIGINT NOT NULL
      )`,
      `CREATE TABLE auth_email_address (
        id TEXT PRIMARY KEY,
        user_id TEXT NOT NULL REFERENCES auth_user(id) ON DELETE CASCADE,
        email TEXT NOT NULL,
        verified INTEGER NOT NULL DEFAULT 0,
        is_primary INTEGER NOT NULL DEFAULT 0,
        UNIQUE (user_id, email)
      )`,
      `CREATE INDEX auth_email_address_email ON auth_email_address (email)`,
      `CREATE UNIQUE INDEX auth_email_address_verified_once ON auth_email_address (email) WHERE verified = 1`,
      `CREATE UNIQUE INDEX auth_email_address_one_primary ON auth_email_address (user_id) WHERE is_primary = 1`,
      `CREATE TABLE auth_session (
        id TEXT PRIMARY KEY,
        user_id TEXT REFERENCES auth_user(id) ON DELETE CASCADE,
        data TEXT NOT NULL,
        ip TEXT NOT NULL,
        user_agent TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        last_seen_at BIGINT NOT NULL,
        expires_at BIGINT NOT NULL
      )`,
      `CREATE INDEX auth_session_user ON auth_session (user_id)`,
      `CREATE TABLE auth_flow (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        session_id TEXT NOT NULL,
        snapshot TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        expires_at BIGINT NOT NULL
      )`,
      `CREATE TABLE auth_verification (
        id TEXT PRIMARY KEY,
        purpose TEXT NOT NULL,
        digest TEXT NOT NULL UNIQUE,
        user_id TEXT NOT NULL REFERENCES auth_user(id) ON DELETE CASCADE,
        email_address_id TEXT,
        email TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        expires_at BIGINT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        used_at BIGINT
      )`,
      `CREATE INDEX auth_verification_user ON auth_verification (user_id, purpose)`,
      `CREATE TABLE auth_rate_limit (
        bucket TEXT NOT NULL,
        at BIGINT NOT NULL
      )`,
      `CREATE INDEX auth_rate_limit_bucket ON auth_rate_limit (bucket, at)`,
    ],
  },
  {
    id: 2,
    name: "session_public_id",
    statements: [
      // The id the headless API shows for a session (allauth: an integer); random, not the token digest.
      `ALTER TABLE auth_session ADD COLUMN public_id BIGINT`,
      `CREATE UNIQUE INDEX auth_session_public_id ON auth_session (public_id)`,
    ],
  },
  {
    id: 3,
    name: "verification_fingerprint",
    statements: [
      // Password reset keys and codes die when the password, the last login or the emails change.
      `ALTER TABLE auth_verification ADD COLUMN fingerprint TEXT`,
    ],
  },
  {
    id: 4,
    name: "rate_limit_hit_id",
    statements: [
      // A failed-login attempt is taken before the password is checked and given back on success.
      `ALTER TABLE auth_rate_limit ADD COLUMN id TEXT`,
      `CREATE INDEX auth_rate_limit_id ON auth_rate_limit (id)`,
    ],
  },
  {
    id: 5,
    name: "outbox",
    statements: [
      // Mails and durable signals, written in the step's transaction, delivered after commit.
      `CREATE TABLE auth_outbox (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        topic TEXT NOT NULL,
        payload TEXT NOT NULL,
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at BIGINT NOT NULL,
        locked_until BIGINT,
        last_error TEXT,
        created_at BIGINT NOT NULL,
        delivered_at BIGINT
      )`,
      `CREATE INDEX auth_outbox_due ON auth_outbox (status, next_attempt_at)`,
    ],
  },
  {
    id: 6,
    name: "code_process",
    statements: [
      // A code flow's process lives in its row: counted by single atomic updates, never in the
      // snapshot, so parallel requests cannot pass the caps (see `code-flows.ts`).
      `ALTER TABLE auth_flow ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0`,
      `ALTER TABLE auth_flow ADD COLUMN resends INTEGER NOT NULL DEFAULT 0`,
      `ALTER TABLE auth_flow ADD COLUMN verification_id TEXT`,
      `ALTER TABLE auth_flow ADD COLUMN code_expires_at BIGINT`,
    ],
  },
  {
    id: 7,
    name: "social_accounts",
    statements: [
      // A person at a provider, known by (provider, uid) and never by email; `extra_data` is JSON.
      `CREATE TABLE auth_social_account (
        id TEXT PRIMARY KEY,
        user_id TEXT NOT NULL REFERENCES auth_user(id) ON DELETE CASCADE,
        provider TEXT NOT NULL,
        uid TEXT NOT NULL,
        extra_data TEXT NOT NULL,
        date_joined BIGINT NOT NULL,
        last_login BIGINT NOT NULL,
        UNIQUE (provider, uid)
      )`,
      `CREATE INDEX auth_social_account_user ON auth_social_account (user_id)`,
      // Only with `storeTokens`; the tokens are sealed (`src/social/token-box.ts`), never plain.
      `CREATE TABLE auth_social_token (
        account_id TEXT PRIMARY KEY REFERENCES auth_social_account(id) ON DELETE CASCADE,
        sealed TEXT NOT NULL,
        expires_at BIGINT
      )`,
      // A redirect in flight: keyed by the digest of its state parameter, taken once, swept when expired.
      `CREATE TABLE auth_social_state (
        digest TEXT PRIMARY KEY,
        session_id TEXT NOT NULL,
        provider TEXT NOT NULL,
        process TEXT NOT NULL,
        next TEXT NOT NULL,
        user_id TEXT,
        pkce_verifier_sealed TEXT NOT NULL,
        nonce TEXT NOT NULL,
        redirect_uri TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        expires_at BIGINT NOT NULL
      )`,
      `CREATE INDEX auth_social_state_expiry ON auth_social_state (expires_at)`,
    ],
  },
  {
    id: 8,
    name: "verification_digest_not_unique_and_sweep",
    statements: [
      // A code digest repeats over time (8 letters from 20): it was UNIQUE across all rows, so a
      // new code equal to an old one failed. Codes are checked against their flow's row; keys are
      // looked up by digest, preferring a live row. The table is rebuilt (SQLite cannot drop it).
      `CREATE TABLE auth_verification_next (
        id TEXT PRIMARY KEY,
        purpose TEXT NOT NULL,
        digest TEXT NOT NULL,
        user_id TEXT NOT NULL REFERENCES auth_user(id) ON DELETE CASCADE,
        email_address_id TEXT,
        email TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        expires_at BIGINT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        used_at BIGINT,
        fingerprint TEXT
      )`,
      `INSERT INTO auth_verification_next (id, purpose, digest, user_id, email_address_id, email, created_at, expires_at, attempts, used_at, fingerprint)
        SELECT id, purpose, digest, user_id, email_address_id, email, created_at, expires_at, attempts, used_at, fingerprint FROM auth_verification`,
      `DROP TABLE auth_verification`,
      `ALTER TABLE auth_verification_next RENAME TO auth_verification`,
      `CREATE INDEX auth_verification_user ON auth_verification (user_id, purpose)`,
      `CREATE INDEX auth_verification_digest ON auth_verification (purpose, digest)`,
      `CREATE INDEX auth_verification_expiry ON auth_verification (expires_at)`,
      // For the sweep of expired rows (`sweep.ts`).
      `CREATE INDEX auth_session_expiry ON auth_session (expires_at)`,
      `CREATE INDEX auth_flow_expiry ON auth_flow (expires_at)`,
      `CREATE INDEX auth_rate_limit_at ON auth_rate_limit (at)`,
      `CREATE INDEX auth_outbox_delivered ON auth_outbox (status, delivered_at)`,
    ],
  },
  {
    id: 9,
    name: "rate_limit_hits_given_back_by_bucket",
    statements: [
      // A hit given back is found by its bucket and time through `auth_rate_limit_bucket`: the
      // index on its id only cost a b-tree written and deleted with every hit.
      `DROP INDEX auth_rate_limit_id`,
    ],
  },
];

/** The ids in `auth_migrations`, or none when the table does not exist (read only). */
const appliedIds: Effect.Effect<ReadonlySet<number>, SqlError, SqlClient.SqlClient> = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient;
  const exists = yield* sql.onDialectOrElse({
    pg: () => sql<{ found: unknown }>`SELECT to_regclass('auth_migrations') AS found`,
    orElse: () => sql<{ found: unknown }>`SELECT name AS found FROM sqlite_master WHERE type = 'table' AND name = 'auth_migrations'`,
  });
  if (exists.length === 0 || exists[0]!.found === null) {
    return new Set<number>();
  }
  return new Set((yield* sql<{ id: number }>`SELECT id FROM auth_migrations`).map((row) => Number(row.id)));
});

/** The migrations a database lacks, in order, without changing anything. */
export const pendingMigrations: Effect.Effect<ReadonlyArray<Migration>, SqlError, SqlClient.SqlClient> = Effect.map(
  appliedIds,
  (done) => migrations.filter((migration) => !done.has(migration.id)),
);

/**
 * Applies every migration not yet recorded in `auth_migrations`, in one transaction (so a
 * failure leaves the schema as it was), and returns those it applied. On PostgreSQL an advisory
 * lock lets only one process migrate at a time.
 */
export const migrate: Effect.Effect<ReadonlyArray<Migration>, SqlError, SqlClient.SqlClient> = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient;
  yield* retryWhileBusy(sql.unsafe(migrationsTable));
  return yield* withWriteTransaction(
    Effect.gen(function* () {
      yield* lockKey(migrationLockKey);
      const pending = yield* pendingMigrations;
      for (const migration of pending) {
        for (const statement of migration.statements) {
          yield* sql.unsafe(statement);
        }
        yield* sql`INSERT INTO auth_migrations (id, name, applied_at) VALUES (${migration.id}, ${migration.name}, ${yield* Clock.currentTimeMillis})`;
      }
      return pending;
    }),
  );
});
