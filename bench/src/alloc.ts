/**
 * Memory per hash-free login step (authmachines, c=1): bytes allocated on the V8 heap per step,
 * garbage collections per step, and what a step leaves behind (heap and RSS after a forced GC).
 *
 * Node 20's V8 has no "total allocated bytes" counter, so allocation is measured as the growth of
 * `process.memoryUsage().heapUsed` over a batch of steps during which no garbage collection ran:
 * without a collection nothing is freed, so the growth is what the batch allocated. Collections are
 * seen through a `PerformanceObserver` for "gc" entries, whose start times say which batches they
 * fell into; those batches are dropped. The child runs with a 64 MiB semi-space
 * (`--min-semi-space-size=64`), so most batches see no scavenge.
 */
import { PerformanceObserver, performance } from "node:perf_hooks";
import { freeHasher } from "./hashers.ts";
import { mib, quantile, round } from "./metrics.ts";
import { ourDriver } from "./ours.ts";
import { password } from "./workloads.ts";

export interface AllocationStats {
  readonly steps: number;
  readonly batch: number;
  readonly cleanBatches: number;
  readonly batches: number;
  /** Median over the batches without a GC of heapUsed growth / steps. */
  readonly allocatedBytesPerStep: number;
  readonly allocatedBytesPerStepP10: number;
  readonly allocatedBytesPerStepP90: number;
  /** `arrayBuffers` (Buffers, outside the V8 heap) growth per step, same batches. */
  readonly arrayBufferBytesPerStep: number;
  readonly gcPerThousandSteps: number;
  readonly gcMsPerStep: number;
  /** After all steps and a forced GC, against a forced GC before them. */
  readonly retainedHeapBytesPerStep: number;
  readonly rssGrowthMiB: number;
  readonly rssAfterMiB: number;
  readonly heapUsedAfterMiB: number;
}

const forceGc = () => {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) {
    throw new Error("run with --expose-gc");
  }
  gc();
  gc();
};

export async function measureAllocation(file: string, sync: "FULL" | "NORMAL", steps: number, warmup: number): Promise<AllocationStats> {
  const driver = await ourDriver(file, freeHasher, sync);
  try {
    const users = 8;
    const email = (i: number) => `alloc${i % users}@bench.example`;
    for (let i = 0; i < users; i++) {
      await driver.signup(email(i), password);
    }
    for (let i = 0; i < warmup; i++) {
      await driver.login(email(i), password);
    }
    const gcs: Array<{ start: number; duration: number }> = [];
    const observer = new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) {
        gcs.push({ start: entry.startTime, duration: entry.duration });
      }
    });
    forceGc();
    await new Promise((resolve) => setTimeout(resolve, 20));
    const before = process.memoryUsage();
    observer.observe({ entryTypes: ["gc"] });
    const batch = 20;
    const windows: Array<{ start: number; end: number; heap: number; buffers: number }> = [];
    for (let done = 0; done < steps; done += batch) {
      const m0 = process.memoryUsage();
      const start = performance.now();
      for (let i = 0; i < batch; i++) {
        await driver.login(email(done + i), password);
      }
      const end = performance.now();
      const m1 = process.memoryUsage();
      windows.push({ start, end, heap: m1.heapUsed - m0.heapUsed, buffers: m1.arrayBuffers - m0.arrayBuffers });
    }
    // GC entries arrive asynchronously: let them come in before reading them.
    await new Promise((resolve) => setTimeout(resolve, 50));
    observer.disconnect();
    const measuredGcs = gcs.slice();
    const clean = windows.filter((w) => w.heap > 0 && !measuredGcs.some((g) => g.start >= w.start && g.start <= w.end));
    const perStep = clean.map((w) => w.heap / batch).sort((a, b) => a - b);
    const buffers = clean.map((w) => w.buffers / batch).sort((a, b) => a - b);
    forceGc();
    const after = process.memoryUsage();
    const total = windows.length * batch;
    return {
      steps: total,
      batch,
      cleanBatches: clean.length,
      batches: windows.length,
      allocatedBytesPerStep: Math.round(quantile(perStep, 0.5)),
      allocatedBytesPerStepP10: Math.round(quantile(perStep, 0.1)),
      allocatedBytesPerStepP90: Math.round(quantile(perStep, 0.9)),
      arrayBufferBytesPerStep: Math.round(quantile(buffers, 0.5)),
      gcPerThousandSteps: round((measuredGcs.length * 1000) / total, 2),
      gcMsPerStep: round(measuredGcs.reduce((a, g) => a + g.duration, 0) / total, 4),
      retainedHeapBytesPerStep: Math.round((after.heapUsed - before.heapUsed) / total),
      rssGrowthMiB: mib(after.rss - before.rss),
      rssAfterMiB: mib(after.rss),
      heapUsedAfterMiB: mib(after.heapUsed),
    };
  } finally {
    await driver.close();
  }
}
