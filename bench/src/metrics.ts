/**
 * Measuring: latencies (p50/p99), throughput, peak RSS (sampled), and the time spent in the
 * password hasher (a timing wrapper around `{ hash, verify }`).
 */
import { performance } from "node:perf_hooks";

export interface Hasher {
  hash(password: string): Promise<string>;
  verify(hash: string, password: string): Promise<boolean>;
}

/** Sums the wall time of every hash/verify call (queueing on the libuv pool included). */
export class HashClock {
  ms = 0;
  calls = 0;
  reset(): void {
    this.ms = 0;
    this.calls = 0;
  }
  wrap(hasher: Hasher): Hasher {
    const time = async <T>(run: () => Promise<T>): Promise<T> => {
      const start = performance.now();
      try {
        return await run();
      } finally {
        this.ms += performance.now() - start;
        this.calls += 1;
      }
    };
    return {
      hash: (password) => time(() => hasher.hash(password)),
      verify: (hash, password) => time(() => hasher.verify(hash, password)),
    };
  }
}

/** Samples `process.memoryUsage.rss()` every few milliseconds; `peak` is the largest seen. */
export class RssSampler {
  peak = 0;
  #timer: ReturnType<typeof setInterval> | undefined;
  start(intervalMs = 5): void {
    this.peak = process.memoryUsage.rss();
    this.#timer = setInterval(() => this.sample(), intervalMs);
    this.#timer.unref();
  }
  sample(): number {
    const rss = process.memoryUsage.rss();
    if (rss > this.peak) {
      this.peak = rss;
    }
    return rss;
  }
  stop(): number {
    if (this.#timer !== undefined) {
      clearInterval(this.#timer);
    }
    this.sample();
    return this.peak;
  }
}

export interface RunStats {
  readonly ops: number;
  readonly concurrency: number;
  readonly wallMs: number;
  readonly opsPerSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly meanMs: number;
  readonly peakRssMiB: number;
  /** Hasher time / total operation latency (null when nothing was hashed through the clock). */
  readonly hashShare: number | null;
  readonly hashCalls: number;
  readonly failures: number;
  /** Wall-clock time (epoch ms) the measured operations started and ended: comparable across processes. */
  readonly startedAtMs: number;
  readonly endedAtMs: number;
  /** Every measured latency (ms), when asked for (`keepLatencies`): to merge the runs of several processes. */
  readonly latencies?: ReadonlyArray<number>;
}

export function quantile(sorted: ReadonlyArray<number>, q: number): number {
  if (sorted.length === 0) {
    return Number.NaN;
  }
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[index]!;
}

export const mib = (bytes: number): number => Math.round((bytes / 1048576) * 10) / 10;

/** Epoch milliseconds with sub-millisecond resolution, comparable between processes. */
export const epochMs = (): number => performance.timeOrigin + performance.now();

/**
 * Runs `ops` operations, `concurrency` at a time (each worker takes the next index), after
 * `warmup` unmeasured ones. An operation that throws counts as a failure (its latency is kept).
 * `beforeMeasure` runs between the warm-up and the measured operations (a barrier between
 * processes that measure together).
 */
export async function runOps(
  options: {
    ops: number;
    concurrency: number;
    warmup: number;
    clock?: HashClock;
    beforeMeasure?: () => Promise<void>;
    keepLatencies?: boolean;
  },
  op: (index: number) => Promise<void>,
): Promise<RunStats & { firstError: string | null }> {
  const { ops, concurrency, warmup, clock } = options;
  let failures = 0;
  let firstError: string | null = null;
  const pool = async (from: number, count: number, latencies: Array<number> | null) => {
    let next = from;
    const end = from + count;
    const worker = async () => {
      while (next < end) {
        const index = next++;
        const start = performance.now();
        try {
          await op(index);
        } catch (error) {
          failures += latencies === null ? 0 : 1;
          firstError ??= error instanceof Error ? error.message : String(error);
        }
        latencies?.push(performance.now() - start);
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  };
  if (warmup > 0) {
    await pool(0, warmup, null);
    firstError = null;
  }
  await options.beforeMeasure?.();
  (globalThis as { gc?: () => void }).gc?.();
  clock?.reset();
  const latencies: Array<number> = [];
  const rss = new RssSampler();
  rss.start();
  const startedAtMs = epochMs();
  const started = performance.now();
  await pool(warmup, ops, latencies);
  const wallMs = performance.now() - started;
  const endedAtMs = epochMs();
  const peak = rss.stop();
  const sorted = [...latencies].sort((a, b) => a - b);
  const total = latencies.reduce((a, b) => a + b, 0);
  return {
    ops,
    concurrency,
    wallMs: round(wallMs),
    opsPerSec: round((ops * 1000) / wallMs),
    p50Ms: round(quantile(sorted, 0.5), 3),
    p99Ms: round(quantile(sorted, 0.99), 3),
    meanMs: round(total / latencies.length, 3),
    peakRssMiB: mib(peak),
    hashShare: clock === undefined || clock.calls === 0 ? null : round(clock.ms / total, 3),
    hashCalls: clock?.calls ?? 0,
    failures,
    firstError,
    startedAtMs: round(startedAtMs, 3),
    endedAtMs: round(endedAtMs, 3),
    ...(options.keepLatencies === true ? { latencies: latencies.map((ms) => round(ms, 3)) } : {}),
  };
}

export function round(value: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
