/**
 * Group commit (SQLite, `sqliteGroupCommit`): steps ready to write at the same moment share one
 * transaction, so one COMMIT — one fsync at `synchronous=FULL` — holds them all.
 *
 * A group is one outer write transaction (taking the write lock first, retried while another
 * process holds it, as a step's own transaction is). Its members' write phases run one after
 * another inside it, each behind its own SAVEPOINT (`withTransaction` nested in an open
 * transaction): a member that rolls back returns to its savepoint and the others stay. A member
 * that keeps its writes learns its outcome only from the outer COMMIT: if that fails, every kept
 * member fails and nothing of them stays. The group commits as soon as no step waits for the write
 * slot, or once it holds `maxMembers` steps or has been open `maxMs` (so it cannot starve).
 *
 * A member whose savepoint cannot be taken or rolled back leaves the transaction unusable: the
 * whole group rolls back (its kept members fail) and the waiting steps start a new one.
 */
import { SqlClient } from "@effect/sql";
import { Cause, Clock, Deferred, Effect, Exit, FiberId, Option } from "effect";
import type { Runtime } from "effect";
import { withWriteTransaction } from "../storage/write-transaction.ts";
import type { AppRuntime, AppServices } from "./step.ts";

/** A step's place in a group: the runtime its writes run on, and how it ends. */
export interface GroupMember {
  readonly runtime: Runtime.Runtime<AppServices>;
  /**
   * Ends the member's write phase. `keep`: its savepoint stays, and the exit is the group's COMMIT
   * (awaited); else it rolls back to its savepoint, and the exit is that rollback's.
   */
  readonly end: (keep: boolean) => Promise<Exit.Exit<void, unknown>>;
}

export interface GroupLimits {
  /** Steps in one group at most. */
  readonly maxMembers: number;
  /** After this long (from the outer BEGIN), no further step joins the group. */
  readonly maxMs: number;
}

export const defaultGroupLimits: GroupLimits = { maxMembers: 32, maxMs: 25 };

class Rollback {
  readonly _tag = "Rollback";
}

interface Waiter {
  readonly resolve: (member: GroupMember) => void;
  readonly reject: (error: unknown) => void;
}

const isRollback = (cause: Cause.Cause<unknown>): boolean =>
  !Cause.isDie(cause) && Option.exists(Cause.failureOption(cause), (error) => error instanceof Rollback);

export class GroupCommitter {
  readonly #waiting: Array<Waiter> = [];
  #open = false;

  constructor(
    readonly runtime: AppRuntime,
    readonly limits: GroupLimits = defaultGroupLimits,
  ) {}

  /** Waits for the write slot: resolves once the step may write, inside a group. */
  join(): Promise<GroupMember> {
    return new Promise<GroupMember>((resolve, reject) => {
      this.#waiting.push({ resolve, reject });
      if (!this.#open) {
        this.#start();
      }
    });
  }

  /** The next waiting step, while the group may still grow. */
  #next(served: number, elapsed: number): Waiter | undefined {
    if (served > 0 && (served >= this.limits.maxMembers || elapsed >= this.limits.maxMs)) {
      return undefined;
    }
    return this.#waiting.shift();
  }

  #start(): void {
    this.#open = true;
    const settles: Array<(exit: Exit.Exit<void, unknown>) => void> = [];
    let handedOut = false;
    const next = (served: number, since: number) =>
      Effect.map(Clock.currentTimeMillis, (now) => this.#next(served, now - since));
    const program = Effect.flatMap(SqlClient.SqlClient, (sql) => {
      const serve = (waiter: Waiter) =>
        Effect.gen(function* () {
          const done = Deferred.unsafeMake<void, Rollback>(FiberId.none);
          let settle!: (exit: Exit.Exit<void, unknown>) => void;
          let member = false;
          const outcome = new Promise<Exit.Exit<void, unknown>>((resolve) => {
            settle = resolve;
          });
          const exit = yield* Effect.exit(
            sql.withTransaction(
              Effect.gen(function* () {
                const runtime = yield* Effect.runtime<AppServices>();
                member = true;
                waiter.resolve({
                  runtime,
                  end: (keep) => {
                    Deferred.unsafeDone(done, keep ? Exit.void : Exit.fail(new Rollback()));
                    return outcome;
                  },
                });
                yield* Deferred.await(done);
              }),
            ),
          );
          if (Exit.isSuccess(exit)) {
            // Kept: its outcome is the group's COMMIT.
            settles.push(settle);
          } else if (isRollback(exit.cause)) {
            settle(exit);
          } else {
            // The savepoint could not be taken or undone: the transaction is not to be trusted.
            if (member) {
              settle(exit);
            } else {
              waiter.reject(Cause.squash(exit.cause));
            }
            return yield* Effect.failCause(exit.cause);
          }
        });
      // `BEGIN IMMEDIATE`, and a COMMIT that fails is rolled back (SQLite leaves a transaction
      // whose COMMIT failed open): nothing of a failed group stays on the connection.
      return withWriteTransaction(
        Effect.gen(function* () {
          handedOut = true;
          const since = yield* Clock.currentTimeMillis;
          for (let served = 0; ; served += 1) {
            const waiter = yield* next(served, since);
            if (waiter === undefined) {
              break;
            }
            yield* serve(waiter);
          }
        }),
        () => !handedOut,
      );
    });
    void this.runtime.runPromiseExit(program).then((exit) => {
      for (const settle of settles) {
        settle(exit);
      }
      if (!handedOut && Exit.isFailure(exit)) {
        // The outer transaction never opened (busy past the timeout, or the database is gone):
        // every step waiting for it fails as its own transaction would have.
        const error = Cause.squash(exit.cause);
        for (const waiter of this.#waiting.splice(0)) {
          waiter.reject(error);
        }
      }
      this.#open = false;
      if (this.#waiting.length > 0) {
        this.#start();
      }
    });
  }
}
