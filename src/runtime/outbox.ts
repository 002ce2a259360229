/**
 * The transactional outbox. A step writes its mails and durable signals as rows inside its own
 * transaction (so a rolled-back step sends nothing), then, after commit, delivers them. A row is
 * delivered at least once: a failed delivery is retried with exponential backoff (by this
 * process's poller or any other instance's), and after `maxAttempts` it is dead-lettered, to be
 * listed and retried by hand. Every delivery carries the row id as its idempotency key.
 * A delivered mail keeps only its recipient and subject: its link or code leaves the table.
 */
import { Clock, Effect } from "effect";
import type { Mail } from "../services/mailer.ts";
import { Mailer } from "../services/mailer.ts";
import { Tokens } from "../services/tokens.ts";
import type { OutboxRow } from "../storage/outbox.ts";
import {
  claimOutboxRows,
  insertOutboxRow,
  listOutboxRows,
  markDelivered,
  markFailed,
  requeueOutboxRow,
} from "../storage/outbox.ts";
import type { DurableSignal, SignalBus } from "./signal-bus.ts";
import { durableCopy } from "./signal-bus.ts";
import type { AppRuntime, Step } from "./step.ts";

export interface OutboxOptions {
  /** Deliveries tried before a row is dead-lettered. */
  readonly maxAttempts: number;
  /** How long a claimed row is reserved for the instance delivering it. */
  readonly leaseMs: number;
  /** How often this instance looks for due rows (retries, another instance's crash); false: never. */
  readonly pollIntervalMs: number | false;
}

/** An outbox row as `auth.outbox.list` shows it (no payload). */
export interface OutboxEntry {
  readonly id: string;
  readonly kind: "mail" | "signal";
  readonly topic: string;
  readonly status: "pending" | "delivered" | "dead";
  readonly attempts: number;
  readonly lastError: string | null;
  readonly createdAt: number;
  readonly nextAttemptAt: number;
}

const batchSize = 50;
const maxBackoffMs = 3_600_000;

export class Outbox {
  #timer: ReturnType<typeof setInterval> | undefined;
  #draining: Promise<number> | null = null;

  constructor(
    private readonly runtime: AppRuntime,
    private readonly bus: SignalBus,
    private readonly options: OutboxOptions,
    private readonly report: (message: string, error: unknown) => void,
  ) {}

  /** Writes the step's mails and durable signals into its transaction; returns the row ids. */
  async enqueue(step: Step): Promise<ReadonlyArray<string>> {
    const signals = step.signals.filter((emitted) => this.bus.hasAfter(emitted.signal.type));
    if (step.mails.length === 0 && signals.length === 0) {
      return [];
    }
    return step.write(
      Effect.gen(function* () {
        const tokens = yield* Tokens;
        const now = yield* Clock.currentTimeMillis;
        const ids: Array<string> = [];
        for (const mail of step.mails) {
          const id = tokens.id();
          yield* insertOutboxRow({ id, kind: "mail", topic: "mail", payload: JSON.stringify(mail), now });
          ids.push(id);
        }
        for (const emitted of signals) {
          const id = tokens.id();
          const payload = JSON.stringify(durableCopy(emitted, step.request, now));
          yield* insertOutboxRow({ id, kind: "signal", topic: emitted.signal.type, payload, now });
          ids.push(id);
        }
        return ids;
      }),
    );
  }

  /** Claims and delivers due rows (only `ids`, when given); returns how many were delivered. */
  async deliver(ids?: ReadonlyArray<string>): Promise<number> {
    const now = await this.runtime.runPromise(Clock.currentTimeMillis);
    const rows = await this.runtime.runPromise(
      claimOutboxRows({ now, leaseMs: this.options.leaseMs, limit: batchSize, ...(ids === undefined ? {} : { ids }) }),
    );
    let delivered = 0;
    for (const row of rows) {
      delivered += (await this.#deliverRow(row)) ? 1 : 0;
    }
    return delivered;
  }

  /** Delivers every due row, batch after batch (one drain at a time per instance). */
  drain(): Promise<number> {
    this.#draining ??= (async () => {
      let total = 0;
      try {
        for (;;) {
          const delivered = await this.deliver();
          total += delivered;
          if (delivered === 0) {
            return total;
          }
        }
      } finally {
        this.#draining = null;
      }
    })();
    return this.#draining;
  }

  async list(status: OutboxEntry["status"], limit = 100): Promise<ReadonlyArray<OutboxEntry>> {
    const rows = await this.runtime.runPromise(listOutboxRows(status, limit));
    return rows.map((row) => ({
      id: row.id,
      kind: row.kind,
      topic: row.topic,
      status: row.status,
      attempts: Number(row.attempts),
      lastError: row.last_error,
      createdAt: Number(row.created_at),
      nextAttemptAt: Number(row.next_attempt_at),
    }));
  }

  /** Puts a dead (or pending) row back in line; false when there is no such undelivered row. */
  async retry(id: string): Promise<boolean> {
    const now = await this.runtime.runPromise(Clock.currentTimeMillis);
    return this.runtime.runPromise(requeueOutboxRow(id, now));
  }

  start(): void {
    if (this.options.pollIntervalMs === false || this.#timer !== undefined) {
      return;
    }
    this.#timer = setInterval(() => {
      this.drain().catch((error: unknown) => this.report("outbox drain failed", error));
    }, this.options.pollIntervalMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#draining?.catch(() => undefined);
  }

  async #deliverRow(row: OutboxRow): Promise<boolean> {
    const runtime = this.runtime;
    try {
      let kept = row.payload;
      if (row.kind === "mail") {
        const mail = JSON.parse(row.payload) as Mail;
        await runtime.runPromise(Effect.flatMap(Mailer, (mailer) => mailer.send(mail, { idempotencyKey: row.id })));
        kept = JSON.stringify({ to: mail.to, subject: mail.subject });
      } else {
        const signal = { ...(JSON.parse(row.payload) as object), idempotencyKey: row.id } as DurableSignal<never>;
        await this.bus.deliverDurable(signal);
      }
      const now = await runtime.runPromise(Clock.currentTimeMillis);
      await runtime.runPromise(markDelivered(row.id, now, kept));
      return true;
    } catch (error) {
      const now = await runtime.runPromise(Clock.currentTimeMillis);
      const attempts = Number(row.attempts);
      const dead = attempts >= this.options.maxAttempts;
      const message = error instanceof Error ? error.message : String(error);
      await runtime.runPromise(
        markFailed(row.id, {
          dead,
          nextAttemptAt: now + Math.min(1000 * 2 ** attempts, maxBackoffMs),
          error: message.slice(0, 500),
        }),
      );
      this.report(dead ? `outbox row ${row.id} dead after ${attempts} attempts` : `outbox delivery failed (${row.id})`, error);
      return false;
    }
  }
}
