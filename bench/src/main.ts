/**
 * `npm run bench`: every measurement in its own child process, one after another; prints the
 * tables and writes bench/results.json.
 *
 * BENCH_SCALE (default 1) multiplies every operation count; BENCH_FLOWS (default 100000) is the
 * number of pending flows of the scale run; BENCH_ONLY=floor,workloads,engine,limits,commit,alloc,scale
 * picks parts; BENCH_RUNS (default 3) repeats the side-by-side parts limits, commit and alloc and
 * prints their ranges; BENCH_LIMITS_HASHERS (default free,argon2id) are the hashers of the limits
 * part; BENCH_OUT (default results.json) is the file written in bench/. The PostgreSQL part `pg`
 * (not in the default set: it needs a server) reads BENCH_PG_URL, BENCH_PG_SCHEMA_PREFIX,
 * BENCH_PG_HASHERS and BENCH_PG_CONCURRENCY (see README.md and pg.ts).
 */
import Database from "better-sqlite3";
import { fork } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { Job, Lib, Sync } from "./child.ts";
import type { AllocationStats } from "./alloc.ts";
import type { HasherName } from "./hashers.ts";
import { argon2idParameters as libraryArgon2idParameters } from "../../src/services/password-hasher.ts";
import { argon2idParameters, scryptParameters } from "./hashers.ts";
import type { RunStats } from "./metrics.ts";
import { round } from "./metrics.ts";
import type { PgMeasurement } from "./pg.ts";
import { measureOnPostgres, serverSettings } from "./pg.ts";
import type { WorkloadName } from "./workloads.ts";
import { workloadTitles } from "./workloads.ts";

if (JSON.stringify(argon2idParameters) !== JSON.stringify(libraryArgon2idParameters)) {
  throw new Error(`bench argon2id parameters ${JSON.stringify(argon2idParameters)} differ from the library's`);
}

const benchDir = join(dirname(fileURLToPath(import.meta.url)), "..");
const scale = Number(process.env["BENCH_SCALE"] ?? "1");
const flows = Number(process.env["BENCH_FLOWS"] ?? "100000");
const only = new Set((process.env["BENCH_ONLY"] ?? "floor,workloads,engine,limits,commit,alloc,scale").split(","));
const runs = Math.max(1, Number(process.env["BENCH_RUNS"] ?? "3"));
const limitHashers = (process.env["BENCH_LIMITS_HASHERS"] ?? "free,argon2id").split(",") as Array<HasherName>;
const outFile = process.env["BENCH_OUT"] ?? "results.json";
const pgUrl = process.env["BENCH_PG_URL"] ?? "postgres://postgres@127.0.0.1:5432/test";
const pgSchemaPrefix = process.env["BENCH_PG_SCHEMA_PREFIX"] ?? "authbench_";
const pgHashers = (process.env["BENCH_PG_HASHERS"] ?? "free,argon2id").split(",") as Array<HasherName>;
const pgConcurrencies = (process.env["BENCH_PG_CONCURRENCY"] ?? "1,8").split(",").map(Number);
const libs: ReadonlyArray<Lib> = ["authmachines", "better-auth"];
const concurrencies = [1, 8] as const;
const workloads: ReadonlyArray<WorkloadName> = ["W1", "W2", "W3", "W4"];
const realHashers: ReadonlyArray<HasherName> = ["scrypt", "argon2id"];

/** Operations per measurement: argon2id takes ~13 ms here, scrypt (N=2^14, r=16) ~200 ms. */
function opsFor(hasher: HasherName, workload: WorkloadName | "floor", concurrency: number): number {
  const base =
    hasher === "argon2id" ? (workload === "W4" ? 24 : 96) : hasher === "scrypt" ? (workload === "W4" ? 8 : 16) : 0;
  return Math.max(concurrency, Math.round(base * scale));
}

/** Unmeasured operations first: one per worker, but at most two scrypt ones (~1 s each in W4). */
function warmupFor(hasher: HasherName, concurrency: number): number {
  return hasher === "scrypt" ? Math.min(2, concurrency) : concurrency;
}

function runChild(job: Job): Promise<any> {
  // The allocation run wants a young generation that rarely fills (see alloc.ts).
  const extra = job.kind === "alloc" ? ["--min-semi-space-size=64", "--max-semi-space-size=64"] : [];
  return new Promise((resolve, reject) => {
    const child = fork(join(benchDir, "src", "child.ts"), [JSON.stringify(job)], {
      cwd: benchDir,
      execArgv: ["--import", "tsx", "--expose-gc", ...extra],
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    let answered = false;
    child.on("message", (message: any) => {
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
  });
}

function version(pkg: string, from: string): string {
  try {
    return (JSON.parse(readFileSync(join(from, "node_modules", pkg, "package.json"), "utf8")) as { version: string }).version;
  } catch {
    return "?";
  }
}

const root = join(benchDir, "..");
const machine = {
  date: new Date().toISOString(),
  cpu: os.cpus()[0]?.model ?? "?",
  cores: os.availableParallelism(),
  memoryGiB: round(os.totalmem() / 2 ** 30),
  node: process.version,
  platform: `${os.type()} ${os.release()} ${os.arch()}`,
  uvThreadpoolSize: process.env["UV_THREADPOOL_SIZE"] ?? "4 (default)",
  sqliteGroupCommit: process.env["BENCH_GROUP_COMMIT"] === "1",
  loadAverageAtStart: os.loadavg().map((n) => round(n, 2)),
  versions: {
    authmachines: (JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string }).version,
    xstate: version("xstate", root),
    effect: version("effect", root),
    "@effect/sql-sqlite-node": version("@effect/sql-sqlite-node", root),
    "better-sqlite3 (authmachines)": version("better-sqlite3", root),
    "better-auth": version("better-auth", benchDir),
    "better-sqlite3 (bench, better-auth)": version("better-sqlite3", benchDir),
    "@node-rs/argon2": version("@node-rs/argon2", benchDir),
    ...(only.has("pg")
      ? {
          "@effect/sql-pg": version("@effect/sql-pg", root),
          "pg (authmachines)": version("pg", root),
          "pg (bench, better-auth)": version("pg", benchDir),
          kysely: version("kysely", benchDir),
        }
      : {}),
  },
  postgres: only.has("pg") ? await serverSettings(pgUrl) : null,
  sqlite: (() => {
    const db = new Database(":memory:");
    const version = db.prepare("SELECT sqlite_version() AS v").pluck().get() as string;
    db.close();
    return version;
  })(),
  settings: {
    scale,
    flows,
    runs,
    parts: [...only],
    limitHashers,
    ...(only.has("pg") ? { pgHashers, pgConcurrencies, pgSchemaPrefix } : {}),
  },
};

const log = (line: string) => process.stdout.write(`${line}\n`);
const started = performance.now();
const elapsed = () => `${Math.round((performance.now() - started) / 1000)}s`;

interface Row extends RunStats {
  readonly firstError: string | null;
  /** The worker process's CPU time over the measured operations (user + system). */
  readonly cpuMs?: number;
}

/** CPU milliseconds per operation, or "?" when the row has no CPU time. */
const cpuPerOp = (r: Row): number | string => (r.cpuMs === undefined ? "?" : round(r.cpuMs / r.ops, 3));

/** The parts repeated BENCH_RUNS times, each ratio measured within one run. */
interface Additions {
  limits: Array<{ run: number; hasher: HasherName; workload: WorkloadName; concurrency: number; off: Row; on: Row; ratio: number }>;
  commit: Array<{ run: number; engine: Row; bare: [Row, Row]; bareMean: number; ratio: number }>;
  alloc: Array<{ run: number; stats: AllocationStats }>;
  /** PostgreSQL: one process and two processes on one schema, side by side; ratio two/one. */
  pg: Array<{
    run: number;
    lib: Lib;
    hasher: HasherName;
    workload: WorkloadName;
    concurrency: number;
    one: PgMeasurement;
    two: PgMeasurement;
    ratio: number;
  }>;
}

const results: {
  machine: typeof machine;
  parameters: unknown;
  floor: Array<{ hasher: HasherName; op: "hash" | "verify"; stats: Row }>;
  workloads: Array<{ lib: Lib; hasher: HasherName; workload: WorkloadName; stats: Row }>;
  engine: Array<{ lib: Lib; sync: Sync; workload: WorkloadName; stats: Row }>;
  bare: Array<{ sync: Sync; round: number; stats: Row }>;
  scale: unknown;
  additions: Additions;
  ratios: Array<Record<string, unknown>>;
  targets: Array<Record<string, unknown>>;
  durationSeconds?: number;
} = {
  machine,
  parameters: { argon2id: argon2idParameters, scrypt: scryptParameters },
  floor: [],
  workloads: [],
  engine: [],
  bare: [],
  scale: null,
  additions: { limits: [], commit: [], alloc: [], pg: [] },
  ratios: [],
  targets: [],
};

log(`authmachines bench — ${machine.date} — ${machine.cpu}, ${machine.cores} cores, Node ${machine.node}, scale ${scale}`);

if (only.has("floor")) {
  for (const hasher of realHashers) {
    for (const op of ["hash", "verify"] as const) {
      for (const concurrency of concurrencies) {
        const ops = opsFor(hasher, "floor", concurrency);
        const stats = await runChild({ kind: "floor", hasher, op, concurrency, ops, warmup: warmupFor(hasher, concurrency) });
        results.floor.push({ hasher, op, stats });
        log(`[${elapsed()}] W5 floor ${hasher} ${op} c=${concurrency}: ${stats.opsPerSec}/s p50 ${stats.p50Ms} ms`);
      }
    }
  }
}

if (only.has("workloads")) {
  for (const hasher of realHashers) {
    for (const workload of workloads) {
      for (const concurrency of concurrencies) {
        for (const lib of libs) {
          const ops = opsFor(hasher, workload, concurrency);
          const stats = await runChild({
            kind: "workload",
            lib,
            hasher,
            workload,
            concurrency,
            ops,
            warmup: warmupFor(hasher, concurrency),
            engineWarmup: workload === "W4" ? 100 : 300,
            sync: "FULL",
          });
          results.workloads.push({ lib, hasher, workload, stats });
          log(
            `[${elapsed()}] ${workload} ${lib} ${hasher} c=${concurrency}: ${stats.opsPerSec}/s p50 ${stats.p50Ms} ms` +
              (stats.failures > 0 ? ` FAILURES ${stats.failures}: ${stats.firstError}` : ""),
          );
        }
      }
    }
  }
}

if (only.has("engine")) {
  const bare = async (round: number) => {
    for (const sync of ["FULL", "NORMAL"] as const) {
      const stats = await runChild({ kind: "bare", sync, ops: Math.round((sync === "FULL" ? 2000 : 20000) * scale) });
      results.bare.push({ sync, round, stats });
      log(`[${elapsed()}] bare transaction ${sync} (round ${round}): ${stats.opsPerSec}/s p50 ${stats.p50Ms} ms`);
    }
  };
  await bare(1);
  for (const sync of ["FULL", "NORMAL"] as const) {
    for (const [workload, cs] of [["W2", concurrencies], ["W3", [1]]] as const) {
      for (const concurrency of cs) {
        for (const lib of libs) {
          const ops = Math.round((sync === "FULL" ? 1500 : 3000) * scale);
          // 1,000 unmeasured steps first: below that the JIT is still visibly warming up.
          const stats = await runChild({ kind: "workload", lib, hasher: "free", workload, concurrency, ops, warmup: 1000, engineWarmup: 0, sync });
          results.engine.push({ lib, sync, workload, stats });
          log(`[${elapsed()}] engine ${workload} ${lib} ${sync} c=${concurrency}: ${stats.opsPerSec} steps/s p50 ${stats.p50Ms} ms, CPU ${cpuPerOp(stats)} ms/step`);
        }
      }
    }
  }
  await bare(2);
}

// ---------------------------------------------------------------------------------------------
// The repeated side-by-side parts (issue #13): rate limits on/off, the engine at c=8 against the
// bare commit floor, memory per step. All authmachines, SQLite synchronous=FULL.

const failed = (s: Row) => (s.failures > 0 ? ` FAILURES ${s.failures}: ${s.firstError}` : "");
for (let run = 1; run <= runs; run++) {
  if (only.has("limits")) {
    for (const hasher of limitHashers) {
      for (const workload of ["W2", "W4"] as const) {
        for (const concurrency of concurrencies) {
          const free = hasher === "free";
          const ops = free ? Math.max(concurrency, Math.round((workload === "W4" ? 300 : 1500) * scale)) : opsFor(hasher, workload, concurrency);
          const job = (rateLimits: "off" | "default"): Job => ({
            kind: "workload",
            lib: "authmachines",
            hasher,
            workload,
            concurrency,
            ops,
            warmup: free ? (workload === "W4" ? 200 : 1000) : warmupFor(hasher, concurrency),
            engineWarmup: free ? 0 : workload === "W4" ? 100 : 300,
            sync: "FULL",
            rateLimits,
          });
          // The order alternates between runs, so that a drifting machine favours neither side.
          const order = run % 2 === 1 ? (["off", "default"] as const) : (["default", "off"] as const);
          const got: Partial<Record<"off" | "default", Row>> = {};
          for (const limits of order) {
            got[limits] = await runChild(job(limits));
          }
          const off = got.off!;
          const on = got.default!;
          const ratio = round(on.opsPerSec / off.opsPerSec, 3);
          results.additions.limits.push({ run, hasher, workload, concurrency, off, on, ratio });
          log(
            `[${elapsed()}] run ${run} limits ${workload} ${hasher} c=${concurrency}: on ${on.opsPerSec}/s, off ${off.opsPerSec}/s, ratio ${ratio}` +
              failed(on) +
              failed(off),
          );
        }
      }
    }
  }
  if (only.has("commit")) {
    const bare = (): Promise<Row> => runChild({ kind: "bare", sync: "FULL", ops: Math.round(2000 * scale) });
    const before = await bare();
    const engine: Row = await runChild({
      kind: "workload",
      lib: "authmachines",
      hasher: "free",
      workload: "W2",
      concurrency: 8,
      ops: Math.round(1500 * scale),
      warmup: 1000,
      engineWarmup: 0,
      sync: "FULL",
    });
    const after = await bare();
    const bareMean = round((before.opsPerSec + after.opsPerSec) / 2);
    const ratio = round(engine.opsPerSec / bareMean, 3);
    results.additions.commit.push({ run, engine, bare: [before, after], bareMean, ratio });
    log(
      `[${elapsed()}] run ${run} commit floor FULL: engine login c=8 ${engine.opsPerSec} steps/s, bare ${before.opsPerSec} / ${after.opsPerSec} tx/s, ratio ${ratio}` +
        failed(engine),
    );
  }
  if (only.has("pg")) {
    for (const hasher of pgHashers) {
      for (const workload of workloads) {
        for (const concurrency of pgConcurrencies) {
          for (const lib of libs) {
            const free = hasher === "free";
            const job: Extract<Job, { kind: "workload" }> = {
              kind: "workload",
              lib,
              hasher,
              workload,
              concurrency,
              // Per process: two processes run twice the operations in all.
              ops: free ? Math.max(concurrency, Math.round((workload === "W4" ? 300 : 1500) * scale)) : opsFor(hasher, workload, concurrency),
              // Fewer unmeasured operations than on SQLite: round trips, not the JIT, dominate here.
              warmup: free ? (workload === "W4" ? 100 : 300) : warmupFor(hasher, concurrency),
              engineWarmup: free ? 0 : workload === "W4" ? 100 : 300,
              sync: "FULL",
            };
            // The order alternates between runs, so that a drifting machine favours neither side.
            const order = run % 2 === 1 ? [1, 2] : [2, 1];
            const got: Record<number, PgMeasurement> = {};
            for (const processes of order) {
              got[processes] = await measureOnPostgres(benchDir, pgUrl, pgSchemaPrefix, job, processes);
            }
            const one = got[1]!;
            const two = got[2]!;
            const ratio = round(two.opsPerSec / one.opsPerSec, 3);
            results.additions.pg.push({ run, lib, hasher, workload, concurrency, one, two, ratio });
            log(
              `[${elapsed()}] run ${run} pg ${workload} ${lib} ${hasher} c=${concurrency}: 1 process ${one.opsPerSec}/s, ` +
                `2 processes ${two.opsPerSec}/s (start skew ${two.startSkewMs} ms), ratio ${ratio}` +
                failed(one) +
                failed(two),
            );
          }
        }
      }
    }
  }
  if (only.has("alloc")) {
    const stats: AllocationStats = await runChild({ kind: "alloc", sync: "FULL", steps: Math.max(200, Math.round(2000 * scale)), warmup: 1000 });
    results.additions.alloc.push({ run, stats });
    log(
      `[${elapsed()}] run ${run} alloc: ${stats.allocatedBytesPerStep} B/step (p10–p90 ${stats.allocatedBytesPerStepP10}–${stats.allocatedBytesPerStepP90}, ${stats.cleanBatches}/${stats.batches} batches without GC)`,
    );
  }
}

if (only.has("scale")) {
  const dir = mkdtempSync(join(os.tmpdir(), "authmachines-bench-scale-"));
  try {
    const real = Math.min(flows, Math.max(10, Math.round(1000 * scale)));
    const empty = await runChild({ kind: "scale-measure", file: join(dir, "empty.db"), real });
    log(`[${elapsed()}] scale: ${real} signups + ${real} resumes on an empty database`);
    const seed = await runChild({ kind: "scale-seed", file: join(dir, "seeded.db"), count: flows - real });
    log(`[${elapsed()}] scale: seeded ${seed.seeded} pending flows (${seed.flowsPerSec}/s)`);
    const seeded = await runChild({ kind: "scale-measure", file: join(dir, "seeded.db"), real });
    log(`[${elapsed()}] scale: ${real} signups + ${real} resumes beside ${seed.seeded} pending flows`);
    results.scale = { flows, real, seed, empty, seeded };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// Derived numbers and the targets of DESIGN §7.

const find = (lib: Lib, hasher: HasherName, workload: WorkloadName, concurrency: number) =>
  results.workloads.find((r) => r.lib === lib && r.hasher === hasher && r.workload === workload && r.stats.concurrency === concurrency)
    ?.stats;
const floorOf = (hasher: HasherName, op: "hash" | "verify", concurrency: number) =>
  results.floor.find((r) => r.hasher === hasher && r.op === op && r.stats.concurrency === concurrency)?.stats;
const engineOf = (lib: Lib, sync: Sync, workload: WorkloadName, concurrency: number) =>
  results.engine.find((r) => r.lib === lib && r.sync === sync && r.workload === workload && r.stats.concurrency === concurrency)
    ?.stats;
const bareOf = (sync: Sync) => {
  const rows = results.bare.filter((r) => r.sync === sync).map((r) => r.stats);
  return rows.length === 0
    ? undefined
    : { opsPerSec: round(rows.reduce((a, r) => a + r.opsPerSec, 0) / rows.length), p50Ms: round(rows.reduce((a, r) => a + r.p50Ms, 0) / rows.length, 3) };
};

for (const hasher of realHashers) {
  for (const workload of workloads) {
    for (const concurrency of concurrencies) {
      const ours = find("authmachines", hasher, workload, concurrency);
      const peer = find("better-auth", hasher, workload, concurrency);
      if (ours !== undefined && peer !== undefined) {
        results.ratios.push({
          hasher,
          workload,
          concurrency,
          opsPerSec: round(ours.opsPerSec / peer.opsPerSec, 2),
          p50: round(ours.p50Ms / peer.p50Ms, 2),
          p99: round(ours.p99Ms / peer.p99Ms, 2),
        });
      }
    }
  }
}

const verdict = (ok: boolean | null) => (ok === null ? "not measured" : ok ? "met" : "NOT met");
{
  // 1. Per-step overhead beyond the hash: p50(login) − p50(raw verify), p50(signup) − p50(raw hash), c=1.
  // argon2id only: with 16 scrypt samples of ~190 ms the difference is inside the noise.
  for (const hasher of ["argon2id"] as const) {
    for (const lib of libs) {
      const login = find(lib, hasher, "W2", 1);
      const signup = find(lib, hasher, "W1", 1);
      const verify = floorOf(hasher, "verify", 1);
      const hash = floorOf(hasher, "hash", 1);
      if (login && verify && signup && hash) {
        const loginOver = round(login.p50Ms - verify.p50Ms, 2);
        const signupOver = round(signup.p50Ms - hash.p50Ms, 2);
        results.targets.push({
          target: "≤ 1 ms p50 per step beyond the hash",
          lib,
          hasher,
          measured: `login +${loginOver} ms, signup +${signupOver} ms (p50 at c=1 minus the raw ${hasher} p50)`,
          verdict: lib === "authmachines" ? verdict(loginOver <= 1 && signupOver <= 1) : "peer (reference: 2–4 ms)",
        });
      }
    }
  }
  for (const sync of ["FULL", "NORMAL"] as const) {
    for (const lib of libs) {
      const login = engineOf(lib, sync, "W2", 1);
      if (login) {
        results.targets.push({
          target: "≤ 1 ms p50 per step beyond the hash",
          lib,
          hasher: "free",
          measured: `login step p50 ${login.p50Ms} ms with a free hasher, synchronous=${sync} (database commit included)`,
          verdict: lib === "authmachines" ? verdict(login.p50Ms <= 1) : "peer (reference: 2–4 ms)",
        });
      }
    }
  }
  // 2. c=8 throughput vs the raw hash throughput.
  for (const hasher of realHashers) {
    for (const lib of libs) {
      const signup = find(lib, hasher, "W1", 8);
      const login = find(lib, hasher, "W2", 8);
      const hash = floorOf(hasher, "hash", 8);
      const verify = floorOf(hasher, "verify", 8);
      if (signup && login && hash && verify) {
        const s = round(signup.opsPerSec / hash.opsPerSec, 2);
        const l = round(login.opsPerSec / verify.opsPerSec, 2);
        results.targets.push({
          target: "c=8 login and signup ≥ 90 % of the raw hash throughput",
          lib,
          hasher,
          measured: `signup ${Math.round(s * 100)} %, login ${Math.round(l * 100)} % of raw ${hasher} at c=8`,
          verdict: lib === "authmachines" ? verdict(s >= 0.9 && l >= 0.9) : "peer",
        });
      }
    }
  }
  // 3. Engine vs bare transaction.
  for (const sync of ["FULL", "NORMAL"] as const) {
    const bare = bareOf(sync);
    for (const lib of libs) {
      for (const concurrency of concurrencies) {
        const login = engineOf(lib, sync, "W2", concurrency);
        if (bare && login) {
          const share = round(login.opsPerSec / bare.opsPerSec, 3);
          results.targets.push({
            target: "login steps/s (no hashing) ≥ 80 % of a bare two-statement transaction",
            lib,
            hasher: "free",
            measured: `${sync} c=${concurrency}: ${login.opsPerSec} steps/s vs ${bare.opsPerSec} tx/s = ${round(share * 100, 1)} %; per step +${round(1000 / login.opsPerSec - 1000 / bare.opsPerSec, 2)} ms`,
            verdict: lib === "authmachines" ? verdict(share >= 0.8) : "peer",
          });
        }
      }
    }
  }
  // 4. Scale.
  const s = results.scale as any;
  if (s) {
    const e = s.empty.memory.afterResumes;
    const f = s.seeded.memory.afterResumes;
    results.targets.push({
      target: "100,000 pending flows: snapshots ≤ 1 KiB, no actor kept, RSS does not grow",
      lib: "authmachines",
      hasher: "free",
      measured:
        `${s.seeded.pendingAfter} pending; snapshot p50 ${s.seeded.snapshotBytes.p50} B, max ${s.seeded.snapshotBytes.max} B; ` +
        `actors alive ${s.empty.actorsAlive + s.seeded.actorsAlive}/${s.empty.actorsCreated + s.seeded.actorsCreated}; ` +
        `RSS / heap after the same requests: ${e.rssMiB} / ${e.heapUsedMiB} MiB with ${s.empty.pendingAfter} pending, ` +
        `${f.rssMiB} / ${f.heapUsedMiB} MiB with ${s.seeded.pendingAfter} pending`,
      verdict: verdict(
        s.seeded.snapshotBytes.max <= 1024 &&
          s.empty.actorsAlive + s.seeded.actorsAlive === 0 &&
          f.rssMiB - e.rssMiB < 0.1 * e.rssMiB &&
          f.heapUsedMiB - e.heapUsedMiB < 0.1 * e.heapUsedMiB,
      ),
    });
  }
}

// ---------------------------------------------------------------------------------------------
// Printing.

function table(headers: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string | number | null>>): void {
  const cells = rows.map((row) => row.map((c) => (c === null ? "—" : String(c))));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i]!.length)));
  const numeric = headers.map((_, i) => cells.every((r) => /^[-+]?[\d.]+%?$|^—$/.test(r[i]!)));
  const line = (row: ReadonlyArray<string>) =>
    row.map((c, i) => (numeric[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join("  ").trimEnd();
  log(line(headers));
  log(widths.map((w) => "-".repeat(w)).join("  "));
  for (const row of cells) {
    log(line(row));
  }
  log("");
}
const pct = (share: number | null) => (share === null ? null : `${Math.round(share * 100)}%`);
const start = (s: Row) => (s as Row & { processStartRssMiB: number }).processStartRssMiB;
const statCells = (s: Row) => [s.ops, s.opsPerSec, s.p50Ms, s.p99Ms, s.peakRssMiB, round(s.peakRssMiB - start(s)), pct(s.hashShare), s.failures];
const statHeaders = ["ops", "ops/s", "p50 ms", "p99 ms", "peak RSS MiB", "over start", "hashing", "failed"];

log("");
if (results.floor.length > 0) {
  log("W5 — the floor: raw hash / verify alone");
  table(["hasher", "op", "c", ...statHeaders], results.floor.map((r) => [r.hasher, r.op, r.stats.concurrency, ...statCells(r.stats)]));
}
if (results.workloads.length > 0) {
  log("W1–W4 — SQLite synchronous=FULL, ops/s per operation (W4: one whole lifecycle)");
  table(
    ["workload", "library", "hasher", "c", ...statHeaders],
    results.workloads.map((r) => [`${r.workload} ${workloadTitles[r.workload].split(" ")[0]}`, r.lib, r.hasher, r.stats.concurrency, ...statCells(r.stats)]),
  );
  log("authmachines / better-auth");
  table(
    ["hasher", "workload", "c", "ops/s ratio", "p50 ratio", "p99 ratio"],
    results.ratios.map((r) => [r["hasher"] as string, r["workload"] as string, r["concurrency"] as number, r["opsPerSec"] as number, r["p50"] as number, r["p99"] as number]),
  );
}
if (results.engine.length > 0) {
  log("Flow engine alone (free hasher) and the bare two-statement transaction");
  table(
    ["what", "sync", "c", "ops", "steps/s", "p50 ms", "p99 ms", "CPU ms/step", "peak RSS MiB", "over start"],
    [
      ...results.bare.map((r) => [`bare transaction (round ${r.round})`, r.sync, 1, r.stats.ops, r.stats.opsPerSec, r.stats.p50Ms, r.stats.p99Ms, "", r.stats.peakRssMiB, round(r.stats.peakRssMiB - start(r.stats))]),
      ...results.engine.map((r) => [`${r.lib} ${r.workload === "W2" ? "login" : "wrong-password login"}`, r.sync, r.stats.concurrency, r.stats.ops, r.stats.opsPerSec, r.stats.p50Ms, r.stats.p99Ms, cpuPerOp(r.stats), r.stats.peakRssMiB, round(r.stats.peakRssMiB - start(r.stats))]),
    ],
  );
}
if (results.scale !== null) {
  const s = results.scale as any;
  const mem = (m: { rssMiB: number; heapUsedMiB: number }) => `${m.rssMiB} / ${m.heapUsedMiB}`;
  log(`Scale — pending persisted flows (code-mode email verification); ${s.real} real signups, then ${s.real} resuming requests`);
  table(
    ["", "empty database", "seeded database"],
    [
      ["pending flows before → after", `${s.empty.pendingBefore} → ${s.empty.pendingAfter}`, `${s.seeded.pendingBefore} → ${s.seeded.pendingAfter}`],
      ["snapshot bytes p50 / p99 / max", `${s.empty.snapshotBytes.p50} / ${s.empty.snapshotBytes.p99} / ${s.empty.snapshotBytes.max}`, `${s.seeded.snapshotBytes.p50} / ${s.seeded.snapshotBytes.p99} / ${s.seeded.snapshotBytes.max}`],
      ["snapshots over 1 KiB", s.empty.snapshotBytes.overOneKiB, s.seeded.snapshotBytes.overOneKiB],
      ["database MiB", s.empty.databaseMiB, s.seeded.databaseMiB],
      ["RSS / heap MiB at start", mem(s.empty.memory.before), mem(s.seeded.memory.before)],
      ["… after the signups", mem(s.empty.memory.afterSignups), mem(s.seeded.memory.afterSignups)],
      ["… after the resumes", mem(s.empty.memory.afterResumes), mem(s.seeded.memory.afterResumes)],
      ["signups/s, resumes/s (FULL)", `${s.empty.signupsPerSec}, ${s.empty.resumesPerSec}`, `${s.seeded.signupsPerSec}, ${s.seeded.resumesPerSec}`],
      ["actors alive after the requests", `${s.empty.actorsAlive} of ${s.empty.actorsCreated}`, `${s.seeded.actorsAlive} of ${s.seeded.actorsCreated}`],
    ],
  );
  log(`seeding: ${s.seed.seeded} flows from the machine in ${s.seed.seconds}s (${s.seed.flowsPerSec}/s)\n`);
}
const range = (values: ReadonlyArray<number>, digits = 2): string => {
  const lo = round(Math.min(...values), digits);
  const hi = round(Math.max(...values), digits);
  return lo === hi ? String(lo) : `${lo}–${hi}`;
};
const a = results.additions;
if (a.limits.length > 0) {
  log(`allauth's default rate limits on vs off (authmachines, FULL), ${runs} run(s): ops/s (W4: lifecycles/s), ratio on/off`);
  const keys = [...new Set(a.limits.map((r) => `${r.hasher} ${r.workload} ${r.concurrency}`))];
  table(
    ["hasher", "workload", "c", "off ops/s", "on ops/s", "on p50 ms", "off p50 ms", "on/off", "failed"],
    keys.map((key) => {
      const rows = a.limits.filter((r) => `${r.hasher} ${r.workload} ${r.concurrency}` === key);
      const r0 = rows[0]!;
      return [
        r0.hasher,
        r0.workload,
        r0.concurrency,
        range(rows.map((r) => r.off.opsPerSec), 1),
        range(rows.map((r) => r.on.opsPerSec), 1),
        range(rows.map((r) => r.on.p50Ms), 3),
        range(rows.map((r) => r.off.p50Ms), 3),
        range(rows.map((r) => r.ratio)),
        rows.reduce((n, r) => n + r.on.failures + r.off.failures, 0),
      ];
    }),
  );
  const worst = Math.min(...a.limits.map((r) => r.ratio));
  results.targets.push({
    target: "with default rate limits on ≥ 0.9× the same workload with limits off",
    lib: "authmachines",
    hasher: [...new Set(a.limits.map((r) => r.hasher))].join(", "),
    measured: `on/off ${range(a.limits.map((r) => r.ratio))} over ${runs} run(s), W2 and W4, c=1 and c=8, FULL`,
    verdict: verdict(worst >= 0.9),
  });
}
if (a.commit.length > 0) {
  log(`Engine-only login c=8 (free hasher) against the bare one-transaction-per-step floor, FULL, ${runs} run(s)`);
  table(
    ["engine steps/s", "engine p50 ms", "bare tx/s (mean of before/after)", "engine/bare"],
    [[range(a.commit.map((r) => r.engine.opsPerSec), 1), range(a.commit.map((r) => r.engine.p50Ms), 3), range(a.commit.map((r) => r.bareMean), 1), range(a.commit.map((r) => r.ratio), 3)]],
  );
  results.targets.push({
    target: "c=8 hash-free logins at FULL ≥ 1.0× the one-transaction-per-step floor (group commit)",
    lib: "authmachines",
    hasher: "free",
    measured: `engine/bare ${range(a.commit.map((r) => r.ratio), 3)} over ${runs} run(s)`,
    verdict: verdict(Math.min(...a.commit.map((r) => r.ratio)) >= 1),
  });
}
if (a.alloc.length > 0) {
  log(`Memory per hash-free login step (c=1, FULL), ${runs} run(s); see src/alloc.ts for the method`);
  const s = a.alloc.map((r) => r.stats);
  table(
    ["", "range"],
    [
      ["V8 heap allocated B/step (median of GC-free batches)", range(s.map((x) => x.allocatedBytesPerStep), 0)],
      ["… p10 / p90 of the batches", `${range(s.map((x) => x.allocatedBytesPerStepP10), 0)} / ${range(s.map((x) => x.allocatedBytesPerStepP90), 0)}`],
      ["ArrayBuffer (Buffer) B/step", range(s.map((x) => x.arrayBufferBytesPerStep), 0)],
      ["GCs per 1,000 steps", range(s.map((x) => x.gcPerThousandSteps))],
      ["GC ms per step", range(s.map((x) => x.gcMsPerStep), 4)],
      ["heap retained B/step after a forced GC", range(s.map((x) => x.retainedHeapBytesPerStep), 0)],
      ["RSS growth MiB over the steps", range(s.map((x) => x.rssGrowthMiB), 1)],
      ["RSS / heapUsed MiB after", `${range(s.map((x) => x.rssAfterMiB), 1)} / ${range(s.map((x) => x.heapUsedAfterMiB), 1)}`],
      ["steps, batches without a GC", `${s[0]!.steps}, ${range(s.map((x) => x.cleanBatches), 0)} of ${s[0]!.batches}`],
    ],
  );
}
if (a.pg.length > 0) {
  log(
    `W1–W4 on PostgreSQL ${machine.postgres?.["server_version"] ?? ""} (one schema per measurement), ${runs} run(s): ` +
      "ops/s in all (W4: lifecycles/s), 1 process and 2 processes on one schema, each process at concurrency c",
  );
  const keys = [...new Set(a.pg.map((r) => `${r.hasher} ${r.workload} ${r.concurrency} ${r.lib}`))];
  const rowsOf = (key: string) => a.pg.filter((r) => `${r.hasher} ${r.workload} ${r.concurrency} ${r.lib}` === key);
  table(
    ["hasher", "workload", "c", "library", "1p ops/s", "2p ops/s", "2p/1p", "1p p50 ms", "2p p50 ms", "1p p99 ms", "2p p99 ms", "hashing 1p", "queries/op", "tx/op", "node CPU ms/op 1p", "node cores 1p / 2p", "peak RSS", "failed"],
    keys.map((key) => {
      const rows = rowsOf(key);
      const r0 = rows[0]!;
      return [
        r0.hasher,
        `${r0.workload} ${workloadTitles[r0.workload].split(" ")[0]}`,
        r0.concurrency,
        r0.lib,
        range(rows.map((r) => r.one.opsPerSec), 1),
        range(rows.map((r) => r.two.opsPerSec), 1),
        range(rows.map((r) => r.ratio)),
        range(rows.map((r) => r.one.p50Ms), 2),
        range(rows.map((r) => r.two.p50Ms), 2),
        range(rows.map((r) => r.one.p99Ms), 2),
        range(rows.map((r) => r.two.p99Ms), 2),
        pct(rows[0]!.one.hashShare),
        range(rows.map((r) => r.one.queriesPerOp ?? Number.NaN), 1),
        range(rows.map((r) => r.one.transactionsPerOp ?? Number.NaN), 1),
        range(rows.map((r) => r.one.cpuMsPerOp ?? Number.NaN), 2),
        `${range(rows.map((r) => r.one.cores ?? Number.NaN))} / ${range(rows.map((r) => r.two.cores ?? Number.NaN))}`,
        range(rows.flatMap((r) => [r.one.peakRssMiB, r.two.peakRssMiB]), 0),
        rows.reduce((n, r) => n + r.one.failures + r.two.failures, 0),
      ];
    }),
  );
  log("authmachines / better-auth on PostgreSQL (ops/s, within each run)");
  const pairs = [...new Set(a.pg.map((r) => `${r.hasher} ${r.workload} ${r.concurrency}`))].flatMap((key) => {
    const perRun = [...new Set(a.pg.map((r) => r.run))].flatMap((run) => {
      const of = (lib: Lib) => a.pg.find((r) => r.run === run && r.lib === lib && `${r.hasher} ${r.workload} ${r.concurrency}` === key);
      const ours = of("authmachines");
      const peer = of("better-auth");
      return ours && peer ? [{ one: ours.one.opsPerSec / peer.one.opsPerSec, two: ours.two.opsPerSec / peer.two.opsPerSec }] : [];
    });
    return perRun.length === 0 ? [] : [[...key.split(" "), range(perRun.map((p) => p.one)), range(perRun.map((p) => p.two))]];
  });
  table(["hasher", "workload", "c", "1 process", "2 processes"], pairs);
  for (const lib of libs) {
    const free = a.pg.filter((r) => r.lib === lib && r.hasher === "free");
    if (free.length > 0) {
      const worst = Math.min(...free.map((r) => r.ratio));
      results.targets.push({
        target: "PostgreSQL: two processes on one database ≥ 1.6× one process, hash-free",
        lib,
        hasher: "free",
        measured: `2p/1p ${range(free.map((r) => r.ratio))} over ${runs} run(s), W1–W4, c=${[...new Set(free.map((r) => r.concurrency))].join(" and ")} per process`,
        verdict: lib === "authmachines" ? verdict(worst >= 1.6) : "peer",
      });
    }
  }
}
if (results.targets.length > 0) {
  log("DESIGN §7 targets");
  let last = "";
  for (const t of results.targets) {
    if (t["target"] !== last) {
      last = t["target"] as string;
      log(`  ${last}`);
    }
    log(`    [${t["verdict"]}] ${t["lib"]}, ${t["hasher"]}: ${t["measured"]}`);
  }
  log("");
}

results.durationSeconds = Math.round((performance.now() - started) / 1000);
(results.machine as { loadAverageAtEnd?: Array<number> }).loadAverageAtEnd = os.loadavg().map((n) => round(n, 2));
writeFileSync(resolve(benchDir, outFile), `${JSON.stringify(results, null, 2)}\n`);
log(`wrote ${resolve(benchDir, outFile)} (${results.durationSeconds}s)`);
