/**
 * One measurement in a fresh process (so peak RSS and the heap belong to it alone): reads a job
 * from argv, runs it, sends the result to the parent over IPC.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { HasherName } from "./hashers.ts";
import { hashers } from "./hashers.ts";
import type { Hasher } from "./metrics.ts";
import { HashClock, mib, round } from "./metrics.ts";
import type { WorkloadName } from "./workloads.ts";
import { runWorkload } from "./workloads.ts";

// Only the library a measurement needs is loaded (dynamic imports below), so that its RSS is its own.

export type Lib = "authmachines" | "better-auth";
export type Sync = "FULL" | "NORMAL";

export type Job =
  | {
      kind: "workload";
      lib: Lib;
      hasher: HasherName;
      workload: WorkloadName;
      concurrency: number;
      ops: number;
      warmup: number;
      /** Operations run first with the free hasher, so the measured ones meet warm (JIT-compiled) code. */
      engineWarmup: number;
      sync: Sync;
      /** authmachines only: allauth's default rate limits on ("default") or off (the default). */
      rateLimits?: "off" | "default";
      /**
       * On PostgreSQL instead of a SQLite file (`sync` then means nothing): `url` reaches a schema
       * already migrated for `lib`, which other processes may share. `tag` makes this process's
       * emails its own. After its warm-up the child sends `{ ready: true }` and waits for the
       * parent's "go", so that processes measuring together start together; it answers with every
       * latency, so that the parent can merge them.
       */
      postgres?: { url: string; tag: string };
    }
  | { kind: "alloc"; sync: Sync; steps: number; warmup: number }
  | { kind: "floor"; hasher: HasherName; op: "hash" | "verify"; concurrency: number; ops: number; warmup: number }
  | { kind: "bare"; sync: Sync; ops: number }
  | { kind: "scale-seed"; file: string; count: number }
  | { kind: "scale-measure"; file: string; real: number };

/** The hasher a library runs with: better-auth's scrypt is its own `better-auth/crypto`. */
async function hasherFor(lib: Lib, name: HasherName): Promise<Hasher> {
  return lib === "better-auth" && name === "scrypt" ? (await import("./peer.ts")).betterAuthScrypt : hashers[name];
}

/** Tells the parent this process is warm, and waits for its "go". */
function awaitGo(): Promise<void> {
  return new Promise((resolve) => {
    const onMessage = (message: unknown) => {
      if (message === "go") {
        process.off("message", onMessage);
        resolve();
      }
    };
    process.on("message", onMessage);
    process.send!({ ready: true });
  });
}

async function run(job: Job, dir: string): Promise<unknown> {
  const file = join(dir, "bench.db");
  switch (job.kind) {
    case "workload": {
      const clock = new HashClock();
      const real = await hasherFor(job.lib, job.hasher);
      // During the engine warm-up new passwords get the free hash; a free hash verifies as such.
      let warming = job.engineWarmup > 0;
      const free = hashers.free;
      const switching: Hasher = {
        hash: (password) => (warming ? free : real).hash(password),
        verify: (hash, password) => (hash.startsWith("$free$") ? free : real).verify(hash, password),
      };
      const hasher = clock.wrap(switching);
      const pg = job.postgres;
      const counter = pg === undefined ? null : await (await import("./pg-queries.ts")).countPgQueries();
      const driver =
        job.lib === "authmachines"
          ? pg === undefined
            ? await (await import("./ours.ts")).ourDriver(file, hasher, job.sync, job.rateLimits ?? "off")
            : await (await import("./ours.ts")).ourPgDriver(pg.url, hasher, job.rateLimits ?? "off")
          : pg === undefined
            ? await (await import("./peer.ts")).peerDriver(file, hasher, job.sync)
            : await (await import("./peer.ts")).peerPgDriver(pg.url, hasher);
      const tag = pg?.tag ?? "";
      let cpuAtGo = process.cpuUsage();
      try {
        if (warming) {
          const options = { ops: job.engineWarmup, concurrency: job.concurrency, warmup: 0, clock: new HashClock(), prefix: `${tag}warm` };
          await runWorkload(driver, job.workload, options);
          warming = false;
        }
        const stats = await runWorkload(driver, job.workload, {
          ops: job.ops,
          concurrency: job.concurrency,
          warmup: job.warmup,
          clock,
          prefix: `${tag}user`,
          beforeMeasure: async () => {
            if (counter !== null) {
              await awaitGo();
              counter.reset();
            }
            cpuAtGo = process.cpuUsage();
          },
          ...(counter === null ? {} : { keepLatencies: true }),
        });
        // This process's CPU time (user + system, its hash threads included) over the measured
        // operations: on a shared VM it moves far less than the throughput does.
        const cpu = process.cpuUsage(cpuAtGo);
        const cpuMs = round((cpu.user + cpu.system) / 1000);
        return counter === null ? { ...stats, cpuMs } : { ...stats, pgQueries: { ...counter.counts }, cpuMs };
      } finally {
        await driver.close();
      }
    }
    case "floor": {
      const clock = new HashClock();
      return (await import("./floor.ts")).runHashFloor(hashers[job.hasher], job.op, { ...job, clock });
    }
    case "alloc":
      return (await import("./alloc.ts")).measureAllocation(file, job.sync, job.steps, job.warmup);
    case "bare":
      return (await import("./floor.ts")).runBareTransaction(file, job.sync, job.ops);
    case "scale-seed":
      return (await import("./scale.ts")).seedFlows(job.file, job.count);
    case "scale-measure":
      return (await import("./scale.ts")).measureFlows(job.file, job.real);
  }
}

const job = JSON.parse(process.argv[2]!) as Job;
const dir = mkdtempSync(join(tmpdir(), "authmachines-bench-"));
/** RSS with the bench's own modules loaded, before the measured library is. */
const startRss = mib(process.memoryUsage.rss());
let message: unknown;
try {
  const result = await run(job, dir);
  message = { ok: true, result: { ...(result as object), processStartRssMiB: startRss } };
} catch (error) {
  message = { ok: false, error: error instanceof Error ? (error.stack ?? error.message) : String(error) };
} finally {
  rmSync(dir, { recursive: true, force: true });
}
process.send!(message, () => process.exit(0));
