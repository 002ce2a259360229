/**
 * `auth.signals`: receivers by signal name.
 *
 * `on` receivers are in-step: they run when the step's machine has come to rest, in emission
 * order then subscription order, each awaited, inside the step's transaction. A receiver that
 * throws aborts the step: everything it wrote is rolled back and no mail goes out. Each payload
 * carries `request` as it was when the signal was emitted (`request.user` is the session's user
 * at that moment: null for `user_signed_up`, the new user for `user_logged_in`), and
 * `user_logged_in` also carries the `response` the client will get.
 *
 * `after` receivers run after the step commits, once per signal; their failures are logged and
 * do not affect the response (durable, retried delivery arrives with the outbox).
 */
import type { SqlClient } from "@effect/sql";
import type { Effect } from "effect";
import type { AuthSignal, AuthSignalName, AuthSignalOf, UserRef } from "../../machines/signals.ts";
import type { EmittedSignal, RequestInfo, Step } from "./step.ts";

/** `request` as receivers see it. */
export interface SignalRequest extends RequestInfo {
  /** The session's user when the signal was emitted, or null. */
  readonly user: UserRef | null;
  readonly sessionId: string | null;
}

export type SignalPayload<N extends AuthSignalName> = AuthSignalOf<N> & {
  readonly request: SignalRequest;
  readonly response?: Response;
  /**
   * Runs an effect against the auth database inside the step's transaction (in-step receivers
   * only). Use it to read or write the auth tables from a receiver: the transaction holds the
   * SQLite connection, so a query through any other route would wait for the step to end.
   */
  readonly run: <A, E>(effect: Effect.Effect<A, E, SqlClient.SqlClient>) => Promise<A>;
};

export type Receiver<N extends AuthSignalName> = (payload: SignalPayload<N>) => void | Promise<void>;

type AnyReceiver = (payload: SignalPayload<AuthSignalName>) => void | Promise<void>;

export class SignalBus {
  readonly #on = new Map<AuthSignalName, Array<AnyReceiver>>();
  readonly #after = new Map<AuthSignalName, Array<AnyReceiver>>();

  /** Connects an in-step receiver; returns a function that disconnects it. */
  on<N extends AuthSignalName>(name: N, receiver: Receiver<N>): () => void {
    return add(this.#on, name, receiver as unknown as AnyReceiver);
  }

  /** Connects a receiver that runs after the step commits. */
  after<N extends AuthSignalName>(name: N, receiver: Receiver<N>): () => void {
    return add(this.#after, name, receiver as unknown as AnyReceiver);
  }

  /** Runs the in-step receivers; the first throw propagates. */
  async deliver(step: Step, response: Response): Promise<void> {
    const run = <A, E>(effect: Effect.Effect<A, E, SqlClient.SqlClient>): Promise<A> => step.run(effect);
    for (const emitted of step.signals) {
      for (const receiver of [...(this.#on.get(emitted.signal.type) ?? [])]) {
        await receiver(payloadOf(emitted, step.request, response, run));
      }
    }
  }

  /** Runs the after-commit receivers; failures are reported, not thrown. */
  async deliverAfter(
    signals: ReadonlyArray<EmittedSignal>,
    request: RequestInfo,
    onError: (error: unknown, signal: AuthSignal) => void,
  ): Promise<void> {
    for (const emitted of signals) {
      for (const receiver of [...(this.#after.get(emitted.signal.type) ?? [])]) {
        try {
          await receiver(payloadOf(emitted, request, undefined, afterCommit));
        } catch (error) {
          onError(error, emitted.signal);
        }
      }
    }
  }
}

function add(map: Map<AuthSignalName, Array<AnyReceiver>>, name: AuthSignalName, receiver: AnyReceiver): () => void {
  const list = map.get(name) ?? [];
  list.push(receiver);
  map.set(name, list);
  return () => {
    const index = list.indexOf(receiver);
    if (index >= 0) {
      list.splice(index, 1);
    }
  };
}

function afterCommit(): Promise<never> {
  return Promise.reject(new Error("run() is only available to in-step receivers (auth.signals.on)"));
}

function payloadOf(
  emitted: EmittedSignal,
  request: RequestInfo,
  response: Response | undefined,
  run: SignalPayload<AuthSignalName>["run"],
): SignalPayload<AuthSignalName> {
  const withRequest = {
    ...emitted.signal,
    request: { ...request, user: emitted.sessionUser, sessionId: emitted.sessionId },
    run,
  };
  return emitted.signal.type === "user_logged_in" && response !== undefined
    ? { ...withRequest, response }
    : withRequest;
}
