/**
 * One flow step: the unit of atomicity. A step reads outside any transaction, opens its
 * transaction at its first write (after every hash), runs the machine until it rests, lets the
 * in-step receivers run, then commits — or rolls everything back, mails included.
 *
 * The transaction is held by the step, not by a waiting fiber (`holdWriteTransaction`): effects of
 * the step run in a runtime whose context names its connection, so every actor's writes share it
 * (DESIGN §3). With `sqliteGroupCommit` it is a savepoint in a group's transaction instead, and
 * its commit resolves with the group's COMMIT (`group-commit.ts`).
 */
import type { AuthEvent } from "./auth-events.ts";
import type { SqlClient } from "@effect/sql";
import { Cause, Clock, Effect, Exit, Option, Runtime } from "effect";
import type { ManagedRuntime } from "effect";
import type { InspectionEvent, Observer } from "xstate";
import type { AuthenticationRecord, PendingLogin } from "../../machines/contracts.ts";
import { isFlowError } from "../../machines/errors.ts";
import type { FlowError } from "../../machines/errors.ts";
import type { AuthSignal, UserRef } from "../../machines/signals.ts";
import { AuthFailure } from "../errors.ts";
import type { QueuedMail } from "../mails.ts";
import type { Mailer } from "../services/mailer.ts";
import { PasswordHasher } from "../services/password-hasher.ts";
import type { HitCheck, TakenHit } from "../storage/rate-limits.ts";
import { hitsInTransaction, releaseHits, releaseHitsInTransaction } from "../storage/rate-limits.ts";
import type { SessionRow } from "../storage/sessions.ts";
import type { HeldTransaction } from "../storage/write-transaction.ts";
import { holdWriteTransaction, withWriteTransaction } from "../storage/write-transaction.ts";
import type { GroupCommitter } from "./group-commit.ts";
import type { Settings } from "../services/settings.ts";
import type { Tokens } from "../services/tokens.ts";

export type AppServices = SqlClient.SqlClient | PasswordHasher | Mailer | Tokens | Settings;
export type AppRuntime = ManagedRuntime.ManagedRuntime<AppServices, never>;

const clocks = new WeakMap<AppRuntime, Clock.Clock>();
const hashers = new WeakMap<AppRuntime, PasswordHasher["Type"]>();

/**
 * The time by `runtime`'s clock (a `TestClock` in tests), read without running a fiber: the clock
 * is looked up once per runtime, which must be built (`createAuth` builds it before any request).
 */
export function currentTime(runtime: AppRuntime): number {
  let clock = clocks.get(runtime);
  if (clock === undefined) {
    clock = runtime.runSync(Effect.clock);
    clocks.set(runtime, clock);
  }
  return clock.unsafeCurrentTimeMillis();
}

/** What receivers get as `request`: the caller's request and the session at emission time. */
export interface RequestInfo {
  readonly request: Request;
  readonly client: "browser" | "app";
  readonly ip: string;
  readonly userAgent: string;
  /**
   * `scheme://host[:port]` the client addressed (an allowed host; forwarded headers only behind
   * trusted proxies): relative `frontendUrls` in mails are made absolute on it.
   */
  readonly origin: string;
}

/** A login parked in the session by a stage (allauth's `account_login`). */
export interface PendingStage {
  readonly flow: "verify_email" | "password_reset_by_code" | "login_by_code";
  /** Null for an enumeration-prevention fake flow: it looks pending but holds nobody. */
  readonly login: PendingLogin | null;
  /** Code mode: the persisted email-verification flow. */
  readonly flowId: string | null;
  readonly expiresAt: number;
  /** Code mode: how often the signup changed its address while waiting for the code. */
  readonly changes?: number;
}

/** An action stopped for reauthentication, replayed once it succeeds (no secrets in it). */
export interface SuspendedAction {
  readonly flow: "manage-email";
  readonly event: { readonly type: "ADD" | "REMOVE" | "MARK_PRIMARY"; readonly email: string };
}

/** A social login waiting for the provider signup form: what the provider said, tokens sealed. */
export interface PendingSocialSignup {
  readonly provider: string;
  readonly uid: string;
  readonly extraData: Readonly<Record<string, unknown>>;
  readonly emailAddresses: ReadonlyArray<{ readonly email: string; readonly verified: boolean; readonly primary: boolean }>;
  readonly username: string | null;
  readonly firstName: string | null;
  readonly lastName: string | null;
  /** `storeTokens`: the provider's tokens, sealed with the auth secret; else null. */
  readonly sealedTokens: string | null;
  readonly expiresAt: number;
}

/** What a session row holds besides its user. */
export interface SessionData {
  /** The login's pending stage (allauth's `account_login`): `verify_email` or `login_by_code`. */
  readonly pending?: PendingStage;
  /**
   * A password reset by code (allauth keeps its process under a session key of its own), so it
   * may pend beside a login stage.
   */
  readonly reset?: PendingStage;
  readonly methods?: ReadonlyArray<AuthenticationRecord>;
  readonly suspended?: SuspendedAction;
  /** A social login waiting for the provider signup form (allauth's `socialaccount_sociallogin`). */
  readonly socialSignup?: PendingSocialSignup;
}

/** The session as the step sees it; actors replace it (login rotates, logout ends it). */
export interface SessionState {
  /** Digest of the token: the row id, or null when no row exists yet. */
  readonly id: string | null;
  /** The id the API shows for the session (`auth/sessions`), or null without a row. */
  readonly publicId: number | null;
  /** The raw token of a session created in this step (to hand to the client), else null. */
  readonly newToken: string | null;
  readonly user: UserRef | null;
  readonly data: SessionData;
  readonly createdAt: number;
  /** True when the client sent a token that matches no live session (app client: 410). */
  readonly gone: boolean;
}

export interface EmittedSignal {
  readonly signal: AuthSignal;
  /** The user the session held when the signal was emitted. */
  readonly sessionUser: UserRef | null;
  readonly sessionId: string | null;
}

type Transaction = HeldTransaction<AppServices>;

/** A failure from `Step.run`: a plain `{ code, param }` for expected failures. */
function rejection(cause: Cause.Cause<unknown>): unknown {
  const failure = Cause.failureOption(cause);
  if (Option.isSome(failure) && failure.value instanceof AuthFailure) {
    // The flow error as data: its details fill the message, `also` carries the form's other errors.
    const { code, param, details, also } = failure.value;
    return {
      code,
      ...(param === undefined ? {} : { param }),
      ...(details === undefined ? {} : { details }),
      ...(also === undefined ? {} : { also }),
    };
  }
  return Cause.squash(cause);
}

/** An XState inspector (`@statelyai/inspect`'s `inspect`, or any observer/function). */
export type Inspect = Observer<InspectionEvent> | ((event: InspectionEvent) => void);

export class Step {
  /** The mails the step queued, rendered before it commits (`render-mails.ts`). */
  readonly mails: Array<QueuedMail> = [];
  /** Passed to every actor this step creates. */
  inspect: Inspect | undefined = undefined;
  readonly signals: Array<EmittedSignal> = [];
  /** Authentication events of this step, logged after it (`auth-events.ts`); `at` is added then. */
  readonly authEvents: Array<Omit<AuthEvent, "event" | "ip" | "at">> = [];
  /** Signals whose in-step receivers already ran mid-step (`pre_social_login`). */
  readonly deliveredEarly = new Set<EmittedSignal>();
  /** The session's data changed in memory (an authentication record) and is not written yet. */
  sessionUnsaved = false;
  /**
   * The row of a session this step started, inserted with the session's final data when the step
   * saves it (`saveSessionData`), not before: a login stores its session in one statement.
   */
  sessionRowPending: SessionRow | null = null;
  /**
   * The stored password hash a login of this step checked (outside the transaction), and the
   * error to answer if it is no longer stored when the session starts (CC-08).
   */
  checkedPassword: {
    readonly userId: string;
    readonly hash: string;
    readonly error: FlowError;
    /** The same password hashed with today's parameters, when the stored hash used older ones. */
    readonly rehashed: string | null;
  } | null = null;
  /**
   * The request's edge rate-limit hits (the endpoint's own limit: `login`, `signup`,
   * `change_password`, …) not taken yet: a password check takes them with its attempt in its own
   * transaction (one commit for both), else the exchange takes them in the step's (`takeOwedHits`).
   */
  owedHits: ReadonlyArray<HitCheck> = [];
  /** An owed hit found its bucket full: the request answers 429 and nothing of the step stays. */
  edgeLimited = false;
  /**
   * The step found its premise gone mid-way (the password a login checked was changed meanwhile):
   * it answers its error, but keeps nothing it wrote, as a step answering 429 keeps nothing.
   */
  discardWrites = false;
  /**
   * Rate-limit hits to give back (a correct password returns the attempt it took): deleted in
   * the step's transaction as it commits, or in one of their own when the step rolls back.
   */
  readonly hitsToGiveBack: Array<TakenHit> = [];
  /**
   * The last failure of this step's effects that is not a flow error (a database error, a bug):
   * the machine that met it sees only `unexpected`, so the step's failure carries it as its cause
   * (reported with its stack; a database that cannot be reached answers 503).
   */
  defect: unknown = undefined;
  /** Owed hits taken in the step's transaction: a rollback loses them, so it records them anew. */
  #edgeHitsInTransaction: ReadonlyArray<HitCheck> = [];
  #transaction: Transaction | null = null;
  #opening: Promise<void> | null = null;
  #finished = false;

  constructor(
    readonly runtime: AppRuntime,
    readonly request: RequestInfo,
    public session: SessionState,
    /** `sqliteGroupCommit`: the step writes as a member of a group (`group-commit.ts`). */
    readonly committer: GroupCommitter | null = null,
  ) {}

  get inTransaction(): boolean {
    return this.#transaction !== null;
  }

  /** Runs an effect: inside the step's transaction once it is open, else on its own. */
  async run<A, E>(effect: Effect.Effect<A, E, AppServices>): Promise<A> {
    const exit =
      this.#transaction === null
        ? await this.runtime.runPromiseExit(effect)
        : await Runtime.runPromiseExit(this.#transaction.runtime)(effect);
    if (Exit.isSuccess(exit)) {
      return exit.value;
    }
    throw this.#noted(rejection(exit.cause));
  }

  /** Runs an effect that writes: opens the step's transaction first (once, however many ask). */
  async write<A, E>(effect: Effect.Effect<A, E, AppServices>): Promise<A> {
    this.#opening ??= this.#open();
    await this.#opening.catch((error: unknown) => {
      throw this.#noted(error);
    });
    return this.run(effect);
  }

  /** `error`, kept as the step's `defect` unless it is a flow error. */
  #noted(error: unknown): unknown {
    if (!isFlowError(error)) {
      this.defect = error;
    }
    return error;
  }

  /** Hashes outside any transaction (DESIGN §3 rule 2); a violation is a bug, so it throws. */
  async hash(password: string): Promise<string> {
    this.#assertNoTransaction("hash");
    return this.run(Effect.flatMap(PasswordHasher, (h) => h.hash(password)));
  }

  /** Whether `stored` was made with other parameters than today's (synchronous: no fiber to wait on). */
  needsRehash(stored: string): boolean {
    let hasher = hashers.get(this.runtime);
    if (hasher === undefined) {
      hasher = this.runtime.runSync(PasswordHasher);
      hashers.set(this.runtime, hasher);
    }
    return hasher.needsRehash(stored);
  }

  /**
   * Checks `password` against `stored` (null: no account, a dummy check of the same cost). A
   * wrong password against a hash made with other (cheaper) parameters also pays a check at
   * today's, so it never answers faster than an unknown account (SECURITY.md EN-03).
   */
  async verifyPassword(stored: string | null, password: string): Promise<boolean> {
    this.#assertNoTransaction("verify");
    return this.run(
      Effect.flatMap(PasswordHasher, (h) =>
        stored === null
          ? Effect.as(h.dummyVerify(password), false)
          : Effect.tap(h.verify(stored, password), (ok) => (ok || !h.needsRehash(stored) ? Effect.void : h.dummyVerify(password))),
      ),
    );
  }

  /** Queues a mail: rendered and written to the outbox with the step, delivered only after it commits. */
  mail(mail: QueuedMail): void {
    this.mails.push(mail);
  }

  /**
   * Takes the owed edge hits in the step's transaction, so they cost no commit of their own; false
   * (and `edgeLimited`) when one of their buckets is full: the request answers 429, keeping nothing.
   */
  async takeOwedHits(): Promise<boolean> {
    const owed = this.owedHits;
    if (owed.length === 0) {
      return !this.edgeLimited;
    }
    this.owedHits = [];
    const allowed = await this.write(Effect.flatMap(Clock.currentTimeMillis, (now) => hitsInTransaction(owed, now)));
    if (allowed) {
      this.#edgeHitsInTransaction = owed;
    } else {
      this.edgeLimited = true;
    }
    return allowed;
  }

  async commit(): Promise<void> {
    if (this.hitsToGiveBack.length > 0) {
      await this.write(releaseHitsInTransaction([...this.hitsToGiveBack]));
      this.hitsToGiveBack.length = 0;
    }
    this.#finish();
    const tx = this.#transaction;
    if (tx === null) {
      return;
    }
    // In a group, this resolves only once the group's COMMIT holding the step has ended.
    const exit = await tx.end(true);
    if (Exit.isFailure(exit)) {
      throw Cause.squash(exit.cause);
    }
  }

  async rollback(): Promise<void> {
    this.#finish();
    this.mails.length = 0;
    const tx = this.#transaction;
    if (tx !== null) {
      await tx.end(false);
    }
    if (this.hitsToGiveBack.length > 0) {
      // Given back even so, as when each was given back at once (no write lock held here).
      await this.runtime.runPromise(releaseHits(this.hitsToGiveBack.splice(0)));
    }
    const uncounted = this.edgeLimited ? [] : [...this.#edgeHitsInTransaction, ...this.owedHits];
    this.#edgeHitsInTransaction = [];
    this.owedHits = [];
    if (uncounted.length > 0) {
      // A step that keeps nothing (a client gone, a defect, a limit met mid-way) still counts
      // against its endpoint's limit, as a hit taken before it would: aborting a request during
      // its hash must not make its attempts free.
      await this.runtime.runPromise(
        withWriteTransaction(Effect.flatMap(Clock.currentTimeMillis, (now) => hitsInTransaction(uncounted, now))).pipe(Effect.orDie),
      );
    }
  }

  #finish(): void {
    if (this.#finished) {
      throw new Error("step already finished");
    }
    this.#finished = true;
  }

  #assertNoTransaction(what: string): void {
    if (this.#transaction !== null) {
      throw new Error(`password ${what} inside a transaction`);
    }
  }

  async #open(): Promise<void> {
    if (this.#transaction !== null) {
      return;
    }
    if (this.#finished) {
      throw new Error("step already finished");
    }
    if (this.committer !== null) {
      // The group's transaction already holds the write lock; this step's writes start at its savepoint.
      this.#transaction = await this.committer.join();
      return;
    }
    // The write lock is taken (a busy database retried, asynchronously) before any of the step's
    // writes run — and never after.
    const opened = await this.runtime.runPromiseExit(holdWriteTransaction<AppServices>());
    if (Exit.isFailure(opened)) {
      throw Cause.squash(opened.cause);
    }
    this.#transaction = opened.value;
  }
}

/** The options of an error that ends `step`: the defect it met as the cause, if there was one. */
export function causedBy(step: Step): ErrorOptions | undefined {
  return step.defect === undefined ? undefined : { cause: step.defect };
}
