/**
 * Scale: 100,000 pending persisted flows (code-mode email verification, parked at
 * `awaitingCode`), in three processes:
 *
 *  - seed: makes `count` pending flows by running the real `emailVerificationMachine` (from
 *    `machines/`) with the input the signup step gives it, taking `actor.getPersistedSnapshot()`
 *    and storing its JSON with the library's own `insertFlow`, 1,000 to a write transaction;
 *  - measure, twice — on an empty database and on the seeded one: `real` signups through
 *    `auth.handler` (mandatory verification by code, so each parks a real flow), then `real`
 *    requests that resume those flows (a wrong code: the snapshot is read, restored, run and
 *    stored again with attempts = 1).
 *
 * The same requests against 0 and against 99,000 other pending flows show what the pending flows
 * cost in memory. Resident memory and V8 heap are read after a full GC; every actor a step
 * creates is held by a WeakRef (through the XState inspector hook) and the ones still alive after
 * the requests and a GC are counted: none should be, as no actor is kept between requests.
 */
import { statSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { SqlClient } from "@effect/sql";
import { Effect } from "effect";
import { createActor } from "xstate";
import { emailVerificationMachine } from "../../machines/index.ts";
import type { Auth } from "../../src/index.ts";
import { createAuth } from "../../src/index.ts";
import { flowSettings } from "../../src/config.ts";
import { insertFlow } from "../../src/storage/sessions.ts";
import { withWriteTransaction } from "../../src/storage/write-transaction.ts";
import { freeHasher } from "./hashers.ts";
import { mib, quantile, round } from "./metrics.ts";
import { call, ourSecret } from "./ours.ts";
import { password } from "./workloads.ts";

interface Memory {
  readonly rssMiB: number;
  readonly heapUsedMiB: number;
}

async function settledMemory(): Promise<Memory> {
  const gc = (globalThis as { gc?: () => void }).gc;
  for (let i = 0; i < 3; i++) {
    await new Promise((resolve) => setTimeout(resolve, 10));
    gc?.();
  }
  const usage = process.memoryUsage();
  return { rssMiB: mib(usage.rss), heapUsedMiB: mib(usage.heapUsed) };
}

function open(file: string, inspect?: (event: { type: string; actorRef?: object }) => void): Promise<Auth> {
  return createAuth(
    {
      secret: ourSecret,
      database: `sqlite:${file}`,
      passwordHasher: freeHasher,
      mailer: { send: async () => undefined },
      outbox: { pollIntervalMs: false },
      account: {
        loginMethods: ["email"],
        emailVerification: "mandatory",
        emailVerificationByCodeEnabled: true,
        rateLimits: false,
      },
      // The authentication log is dropped, as in ours.ts; warnings and failures still print.
      logger: { info: () => undefined, warn: console.warn, error: console.error },
    },
    inspect === undefined ? {} : { inspect },
  );
}

const query = <T extends object>(auth: Auth, text: string) =>
  auth.runtime.runPromise(Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe<T>(text)));

/** Stores `count` pending flows made by the real machine. */
export async function seedFlows(file: string, count: number) {
  const auth = await open(file);
  const settings = flowSettings(auth.config);
  const now = Date.now();
  const hex = (n: number, width = 32) => n.toString(16).padStart(width, "0");
  const started = performance.now();
  const batch = 1000;
  for (let start = 0; start < count; start += batch) {
    const rows = [];
    for (let i = start; i < Math.min(count, start + batch); i++) {
      const actor = createActor(emailVerificationMachine, {
        input: {
          settings,
          sessionUser: null,
          mode: "code",
          verificationId: hex(i + 1),
          pendingLogin: {
            userId: hex(i + 1_000_000_000),
            signup: true,
            emailAddressId: hex(i + 2_000_000_000),
            method: "password",
            email: `generated${i}@bench.example`,
          },
        },
      });
      actor.start();
      const snapshot = JSON.stringify(actor.getPersistedSnapshot());
      actor.stop();
      rows.push({
        id: hex(i + 3_000_000_000),
        kind: "email-verification",
        session_id: hex(i + 4_000_000_000, 43),
        snapshot,
        created_at: now,
        expires_at: now + 3_600_000,
      });
    }
    await auth.runtime.runPromise(withWriteTransaction(Effect.forEach(rows, insertFlow, { discard: true })));
  }
  const seconds = (performance.now() - started) / 1000;
  await auth.close();
  return { seeded: count, seconds: round(seconds), flowsPerSec: round(count / seconds) };
}

/** `real` signups that park a flow each, then one resuming request per flow. */
export async function measureFlows(file: string, real: number) {
  const live: Array<WeakRef<object>> = [];
  let actorsCreated = 0;
  const auth = await open(file, (event) => {
    if (event.type === "@xstate.actor" && event.actorRef !== undefined) {
      actorsCreated += 1;
      live.push(new WeakRef(event.actorRef));
    }
  });
  const pendingBefore = Number((await query<{ n: number }>(auth, "SELECT COUNT(*) AS n FROM auth_flow"))[0]!.n);
  const before = await settledMemory();

  const tokens: Array<string> = [];
  let started = performance.now();
  for (let i = 0; i < real; i++) {
    const reply = await call(auth, "POST", "auth/signup", { email: `pending${i}@bench.example`, password });
    if (reply.status !== 401) {
      throw new Error(`signup: ${reply.status} ${JSON.stringify(reply.body)}`);
    }
    tokens.push(reply.body.meta.session_token as string);
  }
  const signupsPerSec = round(real / ((performance.now() - started) / 1000));
  const afterSignups = await settledMemory();

  started = performance.now();
  for (const token of tokens) {
    const reply = await call(auth, "POST", "auth/email/verify", { key: "ABCD-EFGH" }, token);
    if (reply.status !== 400) {
      throw new Error(`verify: ${reply.status} ${JSON.stringify(reply.body)}`);
    }
  }
  const resumesPerSec = round(real / ((performance.now() - started) / 1000));
  const afterResumes = await settledMemory();
  const actorsAlive = live.filter((ref) => ref.deref() !== undefined).length;

  const sizes = (await query<{ n: number }>(auth, "SELECT length(snapshot) AS n FROM auth_flow"))
    .map((row) => Number(row.n))
    .sort((a, b) => a - b);
  const realSizes = (
    await query<{ n: number }>(auth, "SELECT length(f.snapshot) AS n FROM auth_flow f JOIN auth_session s ON s.id = f.session_id")
  )
    .map((row) => Number(row.n))
    .sort((a, b) => a - b);
  await auth.close();
  let databaseBytes = statSync(file).size;
  try {
    databaseBytes += statSync(`${file}-wal`).size;
  } catch {
    // the WAL is gone after a clean close
  }
  return {
    pendingBefore,
    pendingAfter: sizes.length,
    snapshotBytes: {
      p50: quantile(sizes, 0.5),
      p99: quantile(sizes, 0.99),
      max: sizes[sizes.length - 1] ?? 0,
      mean: round(sizes.reduce((a, b) => a + b, 0) / Math.max(1, sizes.length)),
      realP50: quantile(realSizes, 0.5),
      realMax: realSizes[realSizes.length - 1] ?? 0,
      overOneKiB: sizes.filter((n) => n > 1024).length,
    },
    databaseMiB: mib(databaseBytes),
    signupsPerSec,
    resumesPerSec,
    memory: { before, afterSignups, afterResumes },
    actorsCreated,
    actorsAlive,
  };
}
