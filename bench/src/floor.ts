/**
 * The floors the library is measured against:
 *  - W5: the password hash and verify alone, with the same parameters, at the same concurrency;
 *  - a bare two-statement SQLite write transaction (an INSERT of a session row and an UPDATE of
 *    the user's last login, the two writes of a login) on better-sqlite3 in WAL mode at the
 *    same `synchronous` setting, with `BEGIN IMMEDIATE` as the library takes its write lock.
 */
import Database from "better-sqlite3";
import type { Hasher, HashClock, RunStats } from "./metrics.ts";
import { epochMs, mib, quantile, round, RssSampler, runOps } from "./metrics.ts";
import { password } from "./workloads.ts";

export async function runHashFloor(
  hasher: Hasher,
  op: "hash" | "verify",
  options: { ops: number; concurrency: number; warmup: number; clock: HashClock },
): Promise<RunStats & { firstError: string | null }> {
  const timed = options.clock.wrap(hasher);
  const stored = await hasher.hash(password);
  return runOps(options, async () => {
    if (op === "hash") {
      await timed.hash(password);
    } else if (!(await timed.verify(stored, password))) {
      throw new Error("verify failed");
    }
  });
}

export function runBareTransaction(
  file: string,
  synchronous: "FULL" | "NORMAL",
  ops: number,
): RunStats & { firstError: null } {
  const db = new Database(file);
  db.pragma("journal_mode = WAL");
  db.pragma(`synchronous = ${synchronous}`);
  db.exec(`CREATE TABLE user (id TEXT PRIMARY KEY, email TEXT NOT NULL, last_login INTEGER);
    CREATE TABLE session (id TEXT PRIMARY KEY, user_id TEXT NOT NULL, data TEXT NOT NULL, created_at INTEGER NOT NULL);
    INSERT INTO user VALUES ('u1', 'user@bench.example', NULL);`);
  const begin = db.prepare("BEGIN IMMEDIATE");
  const insert = db.prepare("INSERT INTO session (id, user_id, data, created_at) VALUES (?, ?, ?, ?)");
  const update = db.prepare("UPDATE user SET last_login = ? WHERE id = ?");
  const commit = db.prepare("COMMIT");
  const one = (i: number) => {
    begin.run();
    insert.run(`s${i}`, "u1", "{}", i);
    update.run(i, "u1");
    commit.run();
  };
  const warmup = Math.min(200, ops);
  for (let i = 0; i < warmup; i++) {
    one(-1 - i);
  }
  const latencies = new Float64Array(ops);
  const rss = new RssSampler();
  rss.start();
  const startedAtMs = epochMs();
  const started = performance.now();
  for (let i = 0; i < ops; i++) {
    const t = performance.now();
    one(i);
    latencies[i] = performance.now() - t;
  }
  const wallMs = performance.now() - started;
  const peak = rss.stop();
  db.close();
  const sorted = [...latencies].sort((a, b) => a - b);
  return {
    ops,
    concurrency: 1,
    wallMs: round(wallMs),
    opsPerSec: round((ops * 1000) / wallMs),
    p50Ms: round(quantile(sorted, 0.5), 3),
    p99Ms: round(quantile(sorted, 0.99), 3),
    meanMs: round(wallMs / ops, 3),
    peakRssMiB: mib(peak),
    hashShare: null,
    hashCalls: 0,
    failures: 0,
    firstError: null,
    startedAtMs: round(startedAtMs, 3),
    endedAtMs: round(startedAtMs + wallMs, 3),
  };
}
