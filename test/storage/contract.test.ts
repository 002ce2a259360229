/**
 * The storage contract: what the flows rely on from the database, checked through the same
 * repository functions on SQLite and PostgreSQL (this file runs in both vitest projects).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SqlClient } from "@effect/sql";
import { Effect } from "effect";
import { describe, expect, it } from "vitest";
import { migrate, migrations } from "../../src/storage/migrations.ts";
import { claimOutboxRows, insertOutboxRow } from "../../src/storage/outbox.ts";
import { releaseHits, takeHits } from "../../src/storage/rate-limits.ts";
import { findSession, insertSession } from "../../src/storage/sessions.ts";
import { findUserByUsername, insertEmailAddress, insertUser, updateEmailAddress } from "../../src/storage/users.ts";
import { consumeVerification, insertVerification } from "../../src/storage/verifications.ts";
import { onPostgres } from "../support/database.ts";
import { harness } from "../support/harness.ts";
import type { Harness } from "../support/harness.ts";

const run = <A, E>(h: Harness, effect: Effect.Effect<A, E, SqlClient.SqlClient>): Promise<A> =>
  h.auth.runtime.runPromise(effect as Effect.Effect<A, E, never>);

let ids = 0;
const id = () => `id-${++ids}-${Math.random().toString(36).slice(2)}`;

async function user(h: Harness, username: string | null = null): Promise<string> {
  const userId = id();
  await run(h, insertUser({ id: userId, username, email: null, password: "!", isActive: true, dateJoined: 1 }));
  return userId;
}

describe(`storage contract (${onPostgres ? "PostgreSQL" : "SQLite"})`, () => {
  it("records every migration once; migrating again changes nothing", async () => {
    const h = await harness();
    await run(h, migrate);
    const applied = await h.query<{ id: number }>("SELECT id FROM auth_migrations ORDER BY id");
    expect(applied.map((row) => Number(row.id))).toEqual(migrations.map((m) => m.id));
    await h.close();
  });

  it("reads BIGINT times back as numbers", async () => {
    const h = await harness();
    const userId = await user(h);
    const [row] = await h.query<{ date_joined: unknown }>("SELECT date_joined FROM auth_user WHERE id = ?", userId);
    const viaClient = await run(h, Effect.flatMap(SqlClient.SqlClient, (sql) => sql<{ date_joined: unknown }>`SELECT date_joined FROM auth_user`));
    expect(typeof viaClient[0]!.date_joined).toBe("number");
    expect(Number(row!.date_joined)).toBe(1);
    await h.close();
  });

  it("finds usernames case-insensitively and refuses a second one differing only in case", async () => {
    const h = await harness();
    await user(h, "Ann");
    expect((await run(h, findUserByUsername("ANN")))?.username).toBe("Ann");
    await expect(user(h, "aNN")).rejects.toBeDefined();
    await h.close();
  });

  it("allows one verified owner per address and one primary per user", async () => {
    const h = await harness();
    const [a, b] = [await user(h), await user(h)];
    const rowA = { id: id(), user_id: a, email: "x@example.com", verified: 1, is_primary: 1 };
    await run(h, insertEmailAddress(rowA));
    const rowB = { id: id(), user_id: b, email: "x@example.com", verified: 0, is_primary: 1 };
    await run(h, insertEmailAddress(rowB));
    await expect(run(h, updateEmailAddress({ ...rowB, verified: 1 }))).rejects.toBeDefined();
    await expect(run(h, insertEmailAddress({ id: id(), user_id: a, email: "y@example.com", verified: 0, is_primary: 1 }))).rejects.toBeDefined();
    await h.close();
  });

  it("finds a session only until it expires", async () => {
    const h = await harness();
    const row = { id: id(), public_id: 42, user_id: null, data: "{}", ip: "1.2.3.4", user_agent: "x", created_at: 1, last_seen_at: 1, expires_at: 1000 };
    await run(h, insertSession(row));
    expect((await run(h, findSession(row.id, 999)))?.public_id).toBe(42);
    expect(await run(h, findSession(row.id, 1000))).toBeNull();
    await h.close();
  });

  it("lets exactly one of ten concurrent consumers use a verification", async () => {
    const h = await harness();
    const userId = await user(h);
    const verification = { id: id(), purpose: "p", digest: id(), user_id: userId, email_address_id: null, email: "x@example.com", created_at: 0, expires_at: 10_000 };
    await run(h, insertVerification(verification));
    const results = await Promise.all(Array.from({ length: 10 }, () => run(h, consumeVerification(verification.id, 5))));
    expect(results.filter(Boolean)).toHaveLength(1);
    expect(await run(h, consumeVerification(verification.id, 6))).toBe(false);
    await h.close();
  });

  it("takes rate-limit hits atomically: 20 concurrent takers of a 5-hit bucket get 5", async () => {
    const h = await harness();
    const results = await Promise.all(
      Array.from({ length: 20 }, () => run(h, takeHits([{ bucket: "b", amount: 5, periodInMs: 60_000 }], 1000, id))),
    );
    expect(results.filter((r) => r !== null)).toHaveLength(5);
    await h.close();
  });

  it("gives back exactly the hits it took, though others share their bucket and time", async () => {
    const h = await harness();
    const checks = [
      { bucket: "ip", amount: 10, periodInMs: 60_000 },
      { bucket: "key", amount: 10, periodInMs: 60_000 },
    ];
    const taken = await Promise.all(Array.from({ length: 3 }, () => run(h, takeHits(checks, 1000, id))));
    const [first, second, third] = taken as Array<Exclude<(typeof taken)[number], null | "limited">>;
    expect(first!.map((hit) => [hit.bucket, hit.at])).toEqual([["ip", 1000], ["key", 1000]]);
    await run(h, releaseHits([...first!, second![1]!]));
    const left = await h.query<{ bucket: string; id: string }>("SELECT bucket, id FROM auth_rate_limit");
    const kept = [second![0]!, ...third!];
    const named = (rows: ReadonlyArray<{ bucket: string; id: string }>) => rows.map((row) => `${row.bucket} ${row.id}`).sort();
    expect(named(left)).toEqual(named(kept));
    // Found through the bucket's index, the one every count uses: no index of their own.
    const indexes = await h.query<{ name: string }>(
      onPostgres
        ? "SELECT indexname AS name FROM pg_indexes WHERE tablename = 'auth_rate_limit' AND schemaname = current_schema()"
        : "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'auth_rate_limit'",
    );
    expect(indexes.map((row) => row.name).sort()).toEqual(["auth_rate_limit_at", "auth_rate_limit_bucket"]);
    if (!onPostgres) {
      const plan = await h.query<{ detail: string }>(
        "EXPLAIN QUERY PLAN DELETE FROM auth_rate_limit WHERE (bucket = ? AND at = ? AND id = ?) OR (bucket = ? AND at = ? AND id = ?)",
        "ip", 1000, "a", "key", 1000, "b",
      );
      expect(plan.map((row) => row.detail).join("\n")).toMatch(/USING INDEX auth_rate_limit_bucket \(bucket=\? AND at=\?\)/);
    }
    await h.close();
  });

  it("claims an outbox row for one drainer at a time, until its lease runs out", async () => {
    const h = await harness();
    await run(h, insertOutboxRow({ id: "row-1", kind: "mail", topic: "mail", payload: "{}", now: 0 }));
    const claims = await Promise.all(Array.from({ length: 5 }, () => run(h, claimOutboxRows({ now: 10, leaseMs: 100, limit: 10 }))));
    expect(claims.flat().map((row) => row.id)).toEqual(["row-1"]);
    expect(await run(h, claimOutboxRows({ now: 50, leaseMs: 100, limit: 10 }))).toEqual([]);
    const reclaimed = await run(h, claimOutboxRows({ now: 111, leaseMs: 100, limit: 10 }));
    expect(reclaimed.map((row) => [row.id, Number(row.attempts)])).toEqual([["row-1", 2]]);
    await h.close();
  });

  it("commits durably: SQLite (a file) in WAL mode with foreign keys, synchronous=FULL and a busy timeout; PostgreSQL with synchronous_commit on (DD-04)", async () => {
    const dir = onPostgres ? null : mkdtempSync(join(tmpdir(), "authmachines-pragma-"));
    const h = await harness(dir === null ? {} : { database: `sqlite:${join(dir, "auth.db")}` });
    if (onPostgres) {
      const [row] = await h.query<{ synchronous_commit: string }>("SHOW synchronous_commit");
      expect(row!.synchronous_commit).toBe("on");
    } else {
      const pragma = async (name: string) => Object.values((await h.query<Record<string, unknown>>(`PRAGMA ${name}`))[0]!)[0];
      expect(await pragma("journal_mode")).toBe("wal");
      expect(await pragma("foreign_keys")).toBe(1);
      expect(await pragma("synchronous")).toBe(2);
      expect(Number(await pragma("busy_timeout"))).toBeGreaterThan(0);
    }
    await h.close();
    if (dir !== null) rmSync(dir, { recursive: true, force: true });
  });
});
