/**
 * The PostgreSQL part (`BENCH_ONLY=pg`): W1–W4 against one PostgreSQL database, in one process
 * and in two processes that share one schema.
 *
 *  - Every measurement gets a schema of its own (`<prefix><pid>_<n>`), created and migrated here
 *    in the parent (the library by `createAuth` with `migrate: true`, better-auth by its own
 *    `getMigrations`), so that the children only open it (`migrate: false`; two processes
 *    migrating one schema at once would race), and dropped afterwards, failed or not.
 *  - Each child builds its library on the schema, warms up, sends `{ ready: true }` and waits; when
 *    every child of the measurement is ready the parent sends "go" to all of them, so that they
 *    measure at the same time. Each child runs the whole per-process load (same operations, same
 *    concurrency) under its own email prefix, as two server instances with their own clients.
 *  - The measurement's throughput is all operations over the wall time from the first child's
 *    start to the last child's end (epoch clocks of one machine); latencies are merged.
 */
import { fork } from "node:child_process";
import { join } from "node:path";
import pg from "pg";
import type { Job, Lib } from "./child.ts";
import { freeHasher } from "./hashers.ts";
import type { RunStats } from "./metrics.ts";
import { quantile, round } from "./metrics.ts";
import type { QueryCounts } from "./pg-queries.ts";

export type Row = RunStats & {
  readonly firstError: string | null;
  readonly processStartRssMiB?: number;
  /** Statements sent during the measured operations, and how many opened a transaction (pg-queries.ts). */
  readonly pgQueries?: QueryCounts;
  /** The process's CPU time (user + system) over the measured operations. */
  readonly cpuMs?: number;
};

/** One measurement on PostgreSQL: the merged numbers, each process's own, and how far apart they started. */
export interface PgMeasurement extends Row {
  readonly processes: number;
  /** Time between the first and the last process starting its measured operations (ms). */
  readonly startSkewMs: number;
  /** Statements (round trips) and transactions per operation, all processes together. */
  readonly queriesPerOp: number | null;
  readonly transactionsPerOp: number | null;
  /** CPU time of the measuring processes (not PostgreSQL's) per operation, and as cores busy over the wall time. */
  readonly cpuMsPerOp: number | null;
  readonly cores: number | null;
  /** Each process's numbers (without the latencies). */
  readonly perProcess: ReadonlyArray<Row>;
}

async function admin<T>(url: string, use: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}

/** A URL whose connections use `schema` (as `search_path`). */
export function schemaUrl(url: string, schema: string): string {
  const separator = url.includes("?") ? "&" : "?";
  return `${url}${separator}options=${encodeURIComponent(`-c search_path=${schema}`)}`;
}

/** The server's version and the settings that decide what a commit costs. */
export function serverSettings(url: string): Promise<Record<string, string>> {
  return admin(url, async (client) => {
    const names = ["server_version", "synchronous_commit", "fsync", "wal_sync_method", "commit_delay", "shared_buffers", "max_connections"];
    const settings: Record<string, string> = {};
    for (const name of names) {
      const rows = (await client.query<Record<string, string>>(`SHOW ${name}`)).rows;
      settings[name] = Object.values(rows[0]!)[0]!;
    }
    return settings;
  });
}

let schemas = 0;

/** Runs `use` on a fresh schema migrated for `lib`, then drops the schema. */
export async function withPgSchema<T>(url: string, prefix: string, lib: Lib, use: (schemaUrl: string) => Promise<T>): Promise<T> {
  const schema = `${prefix}${process.pid}_${++schemas}`;
  if (!/^[a-z_][a-z0-9_]*$/.test(schema)) {
    throw new Error(`schema name ${JSON.stringify(schema)}: use lower-case letters, digits and _`);
  }
  await admin(url, (client) => client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE; CREATE SCHEMA ${schema}`));
  try {
    const target = schemaUrl(url, schema);
    if (lib === "authmachines") {
      await (await import("./ours.ts")).migratePostgres(target, freeHasher);
    } else {
      await (await import("./peer.ts")).migratePeerPostgres(target);
    }
    return await use(target);
  } finally {
    await admin(url, (client) => client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`));
  }
}

interface Running {
  readonly ready: Promise<void>;
  readonly result: Promise<Row>;
  go(): void;
  kill(): void;
}

function start(benchDir: string, job: Job): Running {
  const child = fork(join(benchDir, "src", "child.ts"), [JSON.stringify(job)], {
    cwd: benchDir,
    execArgv: ["--import", "tsx", "--expose-gc"],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  let ready!: () => void;
  let resolve!: (row: Row) => void;
  let reject!: (error: Error) => void;
  const readyPromise = new Promise<void>((r) => (ready = r));
  const result = new Promise<Row>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  let answered = false;
  child.on("message", (message: any) => {
    if (message?.ready === true) {
      ready();
      return;
    }
    answered = true;
    if (message.ok) {
      resolve(message.result);
    } else {
      reject(new Error(`${JSON.stringify(job)}: ${message.error}`));
    }
  });
  child.on("exit", (code) => {
    if (!answered) {
      reject(new Error(`${JSON.stringify(job)}: child exited with ${code}`));
    }
  });
  // A child that fails before it is ready ends the wait too (with its error).
  const readyOrFailed = Promise.race([readyPromise, result.then(() => undefined)]);
  // Awaited below unless another child failed first: then these rejections are expected.
  result.catch(() => undefined);
  readyOrFailed.catch(() => undefined);
  return {
    ready: readyOrFailed,
    result,
    go: () => child.connected && child.send("go"),
    kill: () => {
      if (child.exitCode === null) {
        child.kill();
      }
    },
  };
}

/** Merges the runs of processes that measured at the same time. */
export function merge(rows: ReadonlyArray<Row>): PgMeasurement {
  const latencies = rows.flatMap((r) => r.latencies ?? []).sort((a, b) => a - b);
  const startedAtMs = Math.min(...rows.map((r) => r.startedAtMs));
  const endedAtMs = Math.max(...rows.map((r) => r.endedAtMs));
  const wallMs = endedAtMs - startedAtMs;
  const ops = rows.reduce((n, r) => n + r.ops, 0);
  const busy = rows.map((r) => r.meanMs * r.ops);
  const total = busy.reduce((a, b) => a + b, 0);
  const hashed = rows.reduce((a, r, i) => a + (r.hashShare ?? 0) * busy[i]!, 0);
  const perProcess = rows.map(({ latencies: _, ...rest }) => rest);
  const counted = rows.every((r) => r.pgQueries !== undefined);
  const perOp = (count: (q: QueryCounts) => number) =>
    counted ? round(rows.reduce((n, r) => n + count(r.pgQueries!), 0) / ops, 2) : null;
  return {
    processes: rows.length,
    ops,
    concurrency: rows[0]!.concurrency,
    wallMs: round(wallMs),
    opsPerSec: round((ops * 1000) / wallMs),
    p50Ms: round(quantile(latencies, 0.5), 3),
    p99Ms: round(quantile(latencies, 0.99), 3),
    meanMs: round(total / ops, 3),
    peakRssMiB: Math.max(...rows.map((r) => r.peakRssMiB)),
    processStartRssMiB: Math.max(...rows.map((r) => r.processStartRssMiB ?? 0)),
    hashShare: rows.every((r) => r.hashShare === null) ? null : round(hashed / total, 3),
    hashCalls: rows.reduce((n, r) => n + r.hashCalls, 0),
    failures: rows.reduce((n, r) => n + r.failures, 0),
    firstError: rows.find((r) => r.firstError !== null)?.firstError ?? null,
    startedAtMs,
    endedAtMs,
    startSkewMs: round(Math.max(...rows.map((r) => r.startedAtMs)) - startedAtMs, 1),
    queriesPerOp: perOp((q) => q.queries),
    transactionsPerOp: perOp((q) => q.transactions),
    cpuMsPerOp: rows.every((r) => r.cpuMs !== undefined) ? round(rows.reduce((n, r) => n + r.cpuMs!, 0) / ops, 3) : null,
    cores: rows.every((r) => r.cpuMs !== undefined) ? round(rows.reduce((n, r) => n + r.cpuMs!, 0) / wallMs, 2) : null,
    perProcess,
  };
}

/**
 * `job` (a workload job without `postgres`) in `processes` child processes at once, on one fresh
 * schema of `url`'s database.
 */
export function measureOnPostgres(
  benchDir: string,
  url: string,
  prefix: string,
  job: Extract<Job, { kind: "workload" }>,
  processes: number,
): Promise<PgMeasurement> {
  return withPgSchema(url, prefix, job.lib, async (target) => {
    const children = Array.from({ length: processes }, (_, k) => start(benchDir, { ...job, postgres: { url: target, tag: `p${k}` } }));
    try {
      await Promise.all(children.map((c) => c.ready));
      for (const c of children) {
        c.go();
      }
      return merge(await Promise.all(children.map((c) => c.result)));
    } catch (error) {
      for (const c of children) {
        c.kill();
      }
      throw error;
    }
  });
}
