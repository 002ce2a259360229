/**
 * `npm run profile`: a CPU profile of the hash-free login step (authmachines, c=1), summarised by
 * package. V8's sampling CPU profiler (the one `node --cpu-prof` starts) is driven through
 * `node:inspector`, so that the profile covers the measured logins only, not start-up, migrations
 * or the warm-up. Writes `bench/profile/login-c1-<sync>.cpuprofile` (open it in Chrome DevTools
 * or speedscope) and prints a Markdown summary.
 *
 * PROFILE_SYNC (default NORMAL: the step's CPU without most of the fsync wait; FULL also works),
 * PROFILE_STEPS (default 5000), PROFILE_WARMUP (default 1000), PROFILE_INTERVAL_US (default 100).
 * PROFILE_DATABASE=postgres profiles the same logins on PostgreSQL instead (BENCH_PG_URL and
 * BENCH_PG_SCHEMA_PREFIX as in the `pg` part; a fresh schema, dropped afterwards), written to
 * `login-c1-postgres.cpuprofile`. PROFILE_FLOW=signup profiles hash-free signups (each a new
 * account; the bench verifies no address, so no mail) instead of logins, written to
 * `signup-c1-….cpuprofile`.
 */
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { freeHasher } from "./hashers.ts";
import { ourDriver, ourPgDriver } from "./ours.ts";
import { withPgSchema } from "./pg.ts";
import type { Driver } from "./workloads.ts";
import { password } from "./workloads.ts";

interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  readonly lineNumber: number;
}
interface ProfileNode {
  readonly id: number;
  readonly callFrame: CallFrame;
  readonly children?: ReadonlyArray<number>;
}
interface Profile {
  readonly nodes: ReadonlyArray<ProfileNode>;
  readonly samples: ReadonlyArray<number>;
  readonly timeDeltas: ReadonlyArray<number>;
}

const benchDir = join(dirname(fileURLToPath(import.meta.url)), "..");
const repoUrl = `file://${join(benchDir, "..")}/`;
const sync = (process.env["PROFILE_SYNC"] ?? "NORMAL") as "FULL" | "NORMAL";
const steps = Number(process.env["PROFILE_STEPS"] ?? "5000");
const warmup = Number(process.env["PROFILE_WARMUP"] ?? "1000");
const interval = Number(process.env["PROFILE_INTERVAL_US"] ?? "100");
const onPostgres = process.env["PROFILE_DATABASE"] === "postgres";
/** `default`: allauth's default rate limits on (the bench's `limits` part), else off. */
const limits = process.env["PROFILE_LIMITS"] === "default" ? "default" : "off";
const flow = process.env["PROFILE_FLOW"] === "signup" ? "signup" : "login";

/** The package of a script URL. */
function packageOfUrl(url: string): string {
  const nm = url.lastIndexOf("/node_modules/");
  if (nm >= 0) {
    const rest = url.slice(nm + "/node_modules/".length).split("/");
    return rest[0]!.startsWith("@") ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  if (url.startsWith("node:")) return "node: internals";
  if (url.startsWith(`${repoUrl}src/`)) return "ours (src/)";
  if (url.startsWith(`${repoUrl}machines/`)) return "ours (machines/)";
  if (url.startsWith(`${repoUrl}bench/`)) return "bench driver";
  return url;
}

/**
 * The package a sampled frame belongs to. A native function (no script URL: C++ bindings, V8
 * built-ins) is put with the nearest caller that has one: called from @effect/sql-sqlite-node or
 * better-sqlite3's JS it is better-sqlite3's native code (statement preparation and execution).
 */
function packageOf(node: ProfileNode, parents: ReadonlyMap<number, ProfileNode>): string {
  const { url, functionName } = node.callFrame;
  if (url !== "") return packageOfUrl(url);
  if (functionName === "(garbage collector)") return "GC";
  if (functionName === "(program)" || functionName === "(idle)" || functionName === "(root)") return functionName;
  let up = parents.get(node.id);
  while (up !== undefined && up.callFrame.url === "") {
    up = parents.get(up.id);
  }
  const caller = up === undefined ? "?" : packageOfUrl(up.callFrame.url);
  return caller === "@effect/sql-sqlite-node" || caller === "better-sqlite3" ? "better-sqlite3 (native)" : `native, called from ${caller}`;
}

function summarise(profile: Profile): string {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parents = new Map<number, ProfileNode>();
  for (const n of profile.nodes) {
    for (const child of n.children ?? []) {
      parents.set(child, n);
    }
  }
  const selfUs = new Map<number, number>();
  // timeDeltas[i] is the time before sample i; attribute each delta to the sample it precedes.
  // Samples taken inside the inspector's own calls (Profiler.stop) are the profiler, not the step.
  const inProfiler = (id: number): boolean => {
    for (let n: ProfileNode | undefined = byId.get(id); n !== undefined; n = parents.get(n.id)) {
      if (n.callFrame.url === "node:inspector" || n.callFrame.url === "node:inspector/promises") return true;
    }
    return false;
  };
  let total = 0;
  let excluded = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const dt = profile.timeDeltas[i] ?? 0;
    if (inProfiler(profile.samples[i]!)) {
      excluded += dt;
      continue;
    }
    selfUs.set(profile.samples[i]!, (selfUs.get(profile.samples[i]!) ?? 0) + dt);
    total += dt;
  }
  const byPackage = new Map<string, number>();
  const byFunction = new Map<string, { pkg: string; us: number }>();
  for (const [id, us] of selfUs) {
    const node = byId.get(id)!;
    const frame = node.callFrame;
    const pkg = packageOf(node, parents);
    byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + us);
    const file = frame.url === "" ? "" : ` ${frame.url.slice(frame.url.lastIndexOf("/") + 1)}:${frame.lineNumber + 1}`;
    const key = `${frame.functionName || "(anonymous)"}${file}`;
    const entry = byFunction.get(key) ?? { pkg, us: 0 };
    entry.us += us;
    byFunction.set(key, entry);
  }
  const pct = (us: number) => `${((us * 100) / total).toFixed(1)} %`;
  const lines = [
    `Self time over ${(total / 1e6).toFixed(2)} s of profile (${profile.samples.length} samples; ${(excluded / 1e3).toFixed(0)} ms inside the inspector's own calls left out):`,
    "",
    "| package | self time |",
    "| --- | --- |",
    ...[...byPackage].sort((a, b) => b[1] - a[1]).map(([pkg, us]) => `| ${pkg} | ${pct(us)} |`),
    "",
    "| function (top 25 by self time) | package | self time |",
    "| --- | --- | --- |",
    ...[...byFunction]
      .sort((a, b) => b[1].us - a[1].us)
      .slice(0, 25)
      .map(([fn, { pkg, us }]) => `| \`${fn.replaceAll("|", "\\|")}\` | ${pkg} | ${pct(us)} |`),
  ];
  return lines.join("\n");
}

async function profileSteps(driver: Driver): Promise<void> {
  const email = (i: number) => `profile${i % 8}@bench.example`;
  // Signups need an address nobody has: warm-up and measured ones count on from here.
  let fresh = 0;
  const step = flow === "signup" ? () => driver.signup(`new${fresh++}@bench.example`, password) : (i: number) => driver.login(email(i), password);
  for (let i = 0; i < 8; i++) {
    await driver.signup(email(i), password);
  }
  for (let i = 0; i < warmup; i++) {
    await step(i);
  }
  const session = new Session();
  session.connect();
  await session.post("Profiler.enable");
  await session.post("Profiler.setSamplingInterval", { interval });
  await session.post("Profiler.start");
  const started = performance.now();
  for (let i = 0; i < steps; i++) {
    await step(i);
  }
  const ms = performance.now() - started;
  const { profile } = (await session.post("Profiler.stop")) as unknown as { profile: Profile };
  session.disconnect();
  const out = join(benchDir, "profile");
  mkdirSync(out, { recursive: true });
  const file = join(out, `${flow}-c1-${onPostgres ? "postgres" : sync}.cpuprofile`);
  writeFileSync(file, JSON.stringify(profile));
  process.stdout.write(
    `${steps} hash-free ${flow}s, c=1, ${onPostgres ? "PostgreSQL" : `synchronous=${sync}`}, after ${warmup} warm-up ${flow}s: ` +
      `${((steps * 1000) / ms).toFixed(0)} steps/s while profiling (sampling every ${interval} µs); wrote ${file}\n\n` +
      `${summarise(profile)}\n`,
  );
}

if (onPostgres) {
  const url = process.env["BENCH_PG_URL"] ?? "postgres://postgres@127.0.0.1:5432/test";
  await withPgSchema(url, process.env["BENCH_PG_SCHEMA_PREFIX"] ?? "authbench_", "authmachines", async (schemaUrl) => {
    const driver = await ourPgDriver(schemaUrl, freeHasher);
    try {
      await profileSteps(driver);
    } finally {
      await driver.close();
    }
  });
} else {
  const dir = mkdtempSync(join(tmpdir(), "authmachines-profile-"));
  const driver = await ourDriver(join(dir, "bench.db"), freeHasher, sync, limits);
  try {
    await profileSteps(driver);
  } finally {
    await driver.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
