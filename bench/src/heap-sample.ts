/**
 * `npm run heap`: where a warm hash-free login step allocates, from V8's sampling heap profiler
 * (every 256 bytes, objects later collected included): bytes per step by package, then by
 * function. The bench's `alloc` part gives the total; this says who allocates it.
 */
import { Session } from "node:inspector/promises";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { freeHasher } from "./hashers.ts";
import { ourDriver } from "./ours.ts";
import { password } from "./workloads.ts";

const file = join(mkdtempSync(join(tmpdir(), "heap-")), "db.sqlite");
const driver = await ourDriver(file, freeHasher, "FULL");
const email = (i: number) => `h${i % 8}@bench.example`;
for (let i = 0; i < 8; i++) await driver.signup(email(i), password);
for (let i = 0; i < 200; i++) await driver.login(email(i), password);
const session = new Session();
session.connect();
await session.post("HeapProfiler.startSampling", { samplingInterval: 256, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true } as never);
const steps = 400;
for (let i = 0; i < steps; i++) await driver.login(email(i), password);
const { profile } = (await session.post("HeapProfiler.stopSampling")) as any;
await driver.close();
rmSync(dirname(file), { recursive: true, force: true });
const byFn = new Map<string, number>();
const byPkg = new Map<string, number>();
let total = 0;
const walk = (node: any, stack: string[]) => {
  const cf = node.callFrame;
  const url: string = cf.url;
  const pkg = url.includes("node_modules/") ? url.split("node_modules/").pop()!.split("/").slice(0, url.split("node_modules/").pop()!.startsWith("@") ? 2 : 1).join("/") : url.includes("/src/") || url.includes("/machines/") ? "ours" : url.startsWith("node:") ? "node" : url || "(native)";
  const self = node.selfSize as number;
  total += self;
  const key = `${cf.functionName || "(anon)"} ${url.replace(/.*\/(node_modules|src|machines)\//, "$1/")}:${cf.lineNumber + 1}`;
  byFn.set(key, (byFn.get(key) ?? 0) + self);
  byPkg.set(pkg, (byPkg.get(pkg) ?? 0) + self);
  for (const c of node.children) walk(c, stack);
};
walk(profile.head, []);
console.log(`sampled ${Math.round(total / steps)} B/step`);
for (const [k, v] of [...byPkg].sort((a, b) => b[1] - a[1]).slice(0, 15)) console.log(String(Math.round(v / steps)).padStart(8), k);
console.log("---");
for (const [k, v] of [...byFn].sort((a, b) => b[1] - a[1]).slice(0, 45)) console.log(String(Math.round(v / steps)).padStart(8), k);
