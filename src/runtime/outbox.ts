/**
 * The transactional outbox. A step writes its mails and durable signals as rows inside its own
 * transaction (so a rolled-back step sends nothing), then, after commit, delivers them. A row is
 * delivered at least once: a failed delivery is retried with exponential backoff (by this
 * process's poller or any other instance's), and after `maxAttempts` it is dead-lettered, to be
 * listed and retried by hand. Every delivery carries the row id as its idempotency key.
 * A delivered mail keeps only its recipient and subject: its link or code leaves the table; until
 * then the mail is sealed (AES-256-GCM under a key derived from `secret`, SECURITY.md TK-02).
 * A claimed row is leased for `leaseMs` and the lease is renewed while it is being sent, so the
 * rows of a crashed instance are retried within seconds. The poller also sweeps expired rows
 * (`storage/sweep.ts`). Closing finishes the send in progress (up to `closeTimeoutMs`) and gives
 * the other claimed rows back to the next poller.
 */
import { setMaxListeners } from "node:events";
import { Cause, Clock, Effect, Exit } from "effect";
import type { Mail } from "../services/mailer.ts";
import { Mailer } from "../services/mailer.ts";
import { Tokens } from "../services/tokens.ts";
import { openSecret, sealSecret } from "../social/token-box.ts";
import type { OutboxRow } from "../storage/outbox.ts";
import {
  claimOutboxRows,
  insertOutboxRow,
  listOutboxRows,
  markDelivered,
  markFailed,
  releaseOutboxRows,
  renewLease,
  requeueOutboxRow,
} from "../storage/outbox.ts";
import { sweepExpired } from "../storage/sweep.ts";
import type { WebhookEndpoint, WebhookPayload } from "./webhooks.ts";
import { sendWebhook } from "./webhooks.ts";
import type { DurableSignal, SignalBus } from "./signal-bus.ts";
import { durableCopy } from "./signal-bus.ts";
import type { AppRuntime, Step } from "./step.ts";

export interface OutboxOptions {
  /** Deliveries tried before a row is dead-lettered. */
  readonly maxAttempts: number;
  /** How long a claimed row is reserved for the instance delivering it (renewed while sending). */
  readonly leaseMs: number;
  /** How often this instance looks for due rows (retries, another instance's crash); false: never. */
  readonly pollIntervalMs: number | false;
  /** How long `close()` waits for the send in progress before interrupting it. */
  readonly closeTimeoutMs: number;
}

/** What the outbox needs beyond its options: the key for sealed mails, webhooks, sweep retention. */
export interface OutboxContext {
  readonly secret: string;
  readonly webhooks: ReadonlyArray<WebhookEndpoint>;
  /** The longest rate-limit period (older hits are swept). */
  readonly rateLimitRetentionMs: number;
}

/** An outbox row as `auth.outbox.list` shows it (no payload). */
export interface OutboxEntry {
  readonly id: string;
  readonly kind: "mail" | "signal" | "webhook";
  readonly topic: string;
  readonly status: "pending" | "delivered" | "dead";
  readonly attempts: number;
  readonly lastError: string | null;
  readonly createdAt: number;
  readonly nextAttemptAt: number;
}

const batchSize = 50;
const maxBackoffMs = 3_600_000;
const sweepEveryMs = 60_000;
const deliveredRetentionMs = 7 * 86_400_000;
const mailLabel = "authmachines outbox mail v1";

/** A failure as kept in `last_error` and reported: the error's own message and code. */
export function describeError(error: unknown): string {
  if (!(error instanceof Error)) {
    return String(error);
  }
  const code = (error as { code?: unknown }).code;
  const own = typeof code === "string" && !error.message.includes(code) ? `${code}: ${error.message}` : error.message;
  // fetch's "fetch failed" keeps the reason (ECONNREFUSED…) in its cause.
  return error.cause instanceof Error ? `${own} (${describeError(error.cause)})` : own;
}

/** Hides any word of the mail's text (a key, a code, a link) that an error message repeats. */
function withoutMailContent(message: string, mail: Mail | null): string {
  if (mail === null) {
    return message;
  }
  let clean = message;
  // `data` is absent on a row queued before mails carried it.
  const secrets = `${mail.data?.url ?? ""} ${mail.data?.code ?? ""}`;
  for (const word of new Set(`${mail.text} ${mail.html ?? ""} ${secrets}`.split(/[\s"'<>]+/))) {
    if (word.length >= 8 && clean.includes(word)) {
      clean = clean.split(word).join("[mail content]");
    }
  }
  return clean;
}

/** What a transport's error says besides its message (nodemailer's, Node's system errors). */
const errorFacts = ["errno", "syscall", "address", "port", "command", "responseCode"] as const;

/**
 * The mailer's failure as reported: its message (`clean`) and stack without the mail's content,
 * and its facts. `code` is the system error's (ECONNREFUSED) where nodemailer replaced it by its
 * own (ESOCKET, kept in the message).
 */
function scrubbed(error: unknown, clean: string, mail: Mail): Error {
  const copy = new Error(clean) as Error & Record<string, unknown>;
  const source = (typeof error === "object" && error !== null ? error : {}) as Record<string, unknown>;
  const code = typeof source["originalCode"] === "string" ? source["originalCode"] : source["code"];
  if (typeof code === "string") {
    copy["code"] = code;
  }
  for (const fact of errorFacts) {
    if (typeof source[fact] === "string" || typeof source[fact] === "number") {
      copy[fact] = source[fact];
    }
  }
  if (error instanceof Error && error.stack !== undefined) {
    copy.stack = withoutMailContent(error.stack, mail);
  }
  return copy;
}

/** `controller`, its signal allowed any number of listeners (no `MaxListenersExceededWarning`). */
function unlimitedListeners(controller: AbortController): AbortController {
  setMaxListeners(0, controller.signal);
  return controller;
}

export class Outbox {
  #timer: ReturnType<typeof setInterval> | undefined;
  #draining: Promise<number> | null = null;
  /** Every delivery in progress (the poller's and the ones a response started). */
  readonly #delivering = new Set<Promise<void>>();
  #closing = false;
  /**
   * Aborts every delivery in flight when the outbox closes. Each send listens on its signal until
   * it ends, and any number may be in flight, so Node's warning past 10 listeners is turned off.
   */
  readonly #abort = unlimitedListeners(new AbortController());
  #lastSweep = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly runtime: AppRuntime,
    private readonly bus: SignalBus,
    private readonly options: OutboxOptions,
    private readonly report: (message: string, error: unknown) => void,
    private readonly context: OutboxContext,
  ) {}

  /** Writes the step's rendered mails, durable signals and webhooks into its transaction; returns the row ids. */
  async enqueue(step: Step, mails: ReadonlyArray<Mail>): Promise<ReadonlyArray<string>> {
    const signals = step.signals.filter((emitted) => this.bus.hasAfter(emitted.signal.type));
    const webhooks = step.signals.flatMap((emitted) =>
      this.context.webhooks.filter((endpoint) => endpoint.signals.includes(emitted.signal.type)).map((endpoint) => ({ emitted, endpoint })),
    );
    if (mails.length === 0 && signals.length === 0 && webhooks.length === 0) {
      return [];
    }
    const secret = this.context.secret;
    return step.write(
      Effect.gen(function* () {
        const tokens = yield* Tokens;
        const now = yield* Clock.currentTimeMillis;
        const ids: Array<string> = [];
        for (const mail of mails) {
          const id = tokens.id();
          yield* insertOutboxRow({ id, kind: "mail", topic: "mail", payload: sealSecret(secret, JSON.stringify(mail), mailLabel), now });
          ids.push(id);
        }
        for (const emitted of signals) {
          const id = tokens.id();
          const payload = JSON.stringify(durableCopy(emitted, step.request, now));
          yield* insertOutboxRow({ id, kind: "signal", topic: emitted.signal.type, payload, now });
          ids.push(id);
        }
        for (const { emitted, endpoint } of webhooks) {
          const id = tokens.id();
          const payload: WebhookPayload = { url: endpoint.url, signal: durableCopy(emitted, step.request, now) };
          yield* insertOutboxRow({ id, kind: "webhook", topic: emitted.signal.type, payload: JSON.stringify(payload), now });
          ids.push(id);
        }
        return ids;
      }),
    );
  }

  /** Claims and delivers due rows (only `ids`, when given); returns how many were delivered. */
  deliver(ids?: ReadonlyArray<string>): Promise<number> {
    const delivering = this.#deliver(ids);
    const settled = delivering.then(
      () => undefined,
      () => undefined,
    );
    this.#delivering.add(settled);
    void settled.then(() => this.#delivering.delete(settled));
    return delivering;
  }

  async #deliver(ids?: ReadonlyArray<string>): Promise<number> {
    if (this.#closing) {
      return 0;
    }
    const now = await this.runtime.runPromise(Clock.currentTimeMillis);
    const rows = await this.runtime.runPromise(
      claimOutboxRows({ now, leaseMs: this.options.leaseMs, limit: batchSize, ...(ids === undefined ? {} : { ids }) }),
    );
    let delivered = 0;
    for (const [index, row] of rows.entries()) {
      if (this.#closing) {
        await this.runtime.runPromise(releaseOutboxRows(rows.slice(index).map((left) => left.id)));
        break;
      }
      delivered += (await this.#deliverRow(row)) ? 1 : 0;
    }
    return delivered;
  }

  /** Resolves once no delivery is in progress (those a response started, and the poller's). */
  async settled(): Promise<void> {
    while (this.#delivering.size > 0) {
      await Promise.all(this.#delivering);
    }
  }

  /** Delivers every due row, batch after batch (one drain at a time per instance). */
  drain(): Promise<number> {
    this.#draining ??= (async () => {
      let total = 0;
      try {
        for (;;) {
          const delivered = await this.deliver();
          total += delivered;
          if (delivered === 0 || this.#closing) {
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
      this.sweep().catch((error: unknown) => this.report("sweep of expired rows failed", error));
    }, this.options.pollIntervalMs);
    this.#timer.unref();
  }

  /** Deletes expired rows, at most once a minute (by the runtime's clock); true when it ran. */
  async sweep(): Promise<boolean> {
    const now = await this.runtime.runPromise(Clock.currentTimeMillis);
    if (this.#closing || now - this.#lastSweep < sweepEveryMs) {
      return false;
    }
    this.#lastSweep = now;
    await this.runtime.runPromise(
      sweepExpired({ now, rateLimitRetentionMs: this.context.rateLimitRetentionMs, deliveredRetentionMs }),
    );
    return true;
  }

  /** Stops polling; the send in progress gets `closeTimeoutMs`, the rest is left to the next poller. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#closing = true;
    if (this.#delivering.size === 0) {
      return;
    }
    const draining = Promise.all(this.#delivering);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<"late">((resolve) => {
      timer = setTimeout(() => resolve("late"), this.options.closeTimeoutMs);
    });
    const outcome = await Promise.race([draining, late]);
    clearTimeout(timer);
    if (outcome === "late") {
      this.#abort.abort();
      await draining;
    }
  }

  /** The mail of a row: sealed, or plain JSON as written before mails were sealed. */
  #openMail(payload: string): Mail {
    const plain = payload.startsWith("{") ? payload : openSecret(this.context.secret, payload, mailLabel);
    if (plain === null) {
      throw new Error("the sealed mail cannot be opened (was the secret changed?)");
    }
    return JSON.parse(plain) as Mail;
  }

  /** Runs `send`, renewing the row's lease meanwhile. */
  async #leased(row: OutboxRow, send: () => Promise<void>): Promise<void> {
    const runtime = this.runtime;
    const leaseMs = this.options.leaseMs;
    const renew = setInterval(() => {
      runtime
        .runPromise(Effect.flatMap(Clock.currentTimeMillis, (now) => renewLease(row.id, now + leaseMs)))
        .catch((error: unknown) => this.report("outbox lease renewal failed", error));
    }, Math.max(leaseMs / 4, 10));
    try {
      await send();
    } finally {
      clearInterval(renew);
    }
  }

  /** Sends a mail under the row's lease; rejects with the mailer's own error. */
  #send(row: OutboxRow, mail: Mail): Promise<void> {
    return this.#leased(row, async () => {
      const exit = await this.runtime.runPromiseExit(
        Effect.flatMap(Mailer, (mailer) => mailer.send(mail, { idempotencyKey: row.id })),
        { signal: this.#abort.signal },
      );
      if (Exit.isFailure(exit)) {
        throw Cause.isInterruptedOnly(exit.cause) ? new Error("interrupted: the outbox was closed") : Cause.squash(exit.cause);
      }
    });
  }

  /** POSTs a webhook under the row's lease, to the endpoint the config still has for its URL. */
  #sendWebhook(row: OutboxRow): Promise<void> {
    const payload = JSON.parse(row.payload) as WebhookPayload;
    const endpoint = this.context.webhooks.find((candidate) => candidate.url === payload.url);
    if (endpoint === undefined) {
      return Promise.reject(new Error(`no webhook endpoint is configured for ${payload.url} any more`));
    }
    return this.#leased(row, async () => {
      const now = await this.runtime.runPromise(Clock.currentTimeMillis);
      await sendWebhook(endpoint, row.id, payload, { now, abort: this.#abort.signal });
    });
  }

  async #deliverRow(row: OutboxRow): Promise<boolean> {
    const runtime = this.runtime;
    let mail: Mail | null = null;
    try {
      let kept = row.payload;
      if (row.kind === "mail") {
        mail = this.#openMail(row.payload);
        await this.#send(row, mail);
        kept = JSON.stringify({ to: mail.to, subject: mail.subject });
      } else if (row.kind === "webhook") {
        await this.#sendWebhook(row);
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
      const message = withoutMailContent(describeError(error), mail);
      await runtime.runPromise(
        markFailed(row.id, {
          dead,
          nextAttemptAt: now + Math.min(1000 * 2 ** attempts, maxBackoffMs),
          error: message.slice(0, 500),
        }),
      );
      const what = dead ? `outbox row ${row.id} dead after ${attempts} attempts` : `outbox delivery failed (${row.id})`;
      // The mailer's error with its code and stack, but never the mail's content.
      this.report(what, mail === null ? error : scrubbed(error, message, mail));
      return false;
    }
  }
}
