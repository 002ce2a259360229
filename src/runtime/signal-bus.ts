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
 * `after` receivers are durable: each signal that has one is written to the outbox in the step's
 * transaction and delivered after commit, at least once (retried with backoff, dead-lettered
 * after `outbox.maxAttempts`). They get a JSON copy — no `Request`, no secrets — and an
 * `idempotencyKey` that is the same on every redelivery.
 */
import type { SqlClient } from "@effect/sql";
import type { Effect } from "effect";
import type { AuthSignal, AuthSignalName, AuthSignalOf, UserRef } from "../../machines/signals.ts";
import type { EmittedSignal, RequestInfo, Step } from "./step.ts";

/** `request` as in-step receivers see it. */
export interface SignalRequest extends RequestInfo {
  /** The session's user when the signal was emitted, or null. */
  readonly user: UserRef | null;
  readonly sessionId: string | null;
}

/**
 * Thrown by a `pre_social_login` receiver to stop the social flow and answer with `response`
 * (allauth's `ImmediateHttpResponse`). What the lookup saved before stays saved.
 */
export class ImmediateResponse extends Error {
  constructor(readonly response: Response) {
    super("a pre_social_login receiver answered the request itself");
    this.name = "ImmediateResponse";
  }
}

export type SignalPayload<N extends AuthSignalName> = AuthSignalOf<N> &
  (N extends "pre_social_login"
    ? {
        /** Connects the social login to this user (allauth's `sociallogin.connect`): `social_account_added`, then that user's login. */
        readonly connect: (userId: string) => void;
      }
    : unknown) & {
  readonly request: SignalRequest;
  readonly response?: Response;
  /**
   * Runs an effect against the auth database inside the step's transaction. Use it to read or
   * write the auth tables from a receiver: the transaction holds the SQLite connection, so a
   * query through any other route would wait for the step to end.
   */
  readonly run: <A, E>(effect: Effect.Effect<A, E, SqlClient.SqlClient>) => Promise<A>;
};

/** The durable copy an `after` receiver gets: plain JSON, no secrets. */
export type DurableSignal<N extends AuthSignalName> = AuthSignalOf<N> & {
  readonly request: {
    readonly client: RequestInfo["client"];
    readonly ip: string;
    readonly userAgent: string;
    readonly userId: string | null;
  };
  /** The same on every redelivery of this signal: deduplicate on it. */
  readonly idempotencyKey: string;
  /** Epoch milliseconds of the step that emitted it. */
  readonly emittedAt: number;
};

export type Receiver<N extends AuthSignalName> = (payload: SignalPayload<N>) => void | Promise<void>;
export type AfterReceiver<N extends AuthSignalName> = (payload: DurableSignal<N>) => void | Promise<void>;

type AnyReceiver = (payload: SignalPayload<AuthSignalName>) => void | Promise<void>;
type AnyAfterReceiver = (payload: DurableSignal<AuthSignalName>) => void | Promise<void>;

export class SignalBus {
  readonly #on = new Map<AuthSignalName, Array<AnyReceiver>>();
  readonly #after = new Map<AuthSignalName, Array<AnyAfterReceiver>>();

  /** Connects an in-step receiver; returns a function that disconnects it. */
  on<N extends AuthSignalName>(name: N, receiver: Receiver<N>): () => void {
    return add(this.#on, name, receiver as unknown as AnyReceiver);
  }

  /** Connects a durable receiver, run after the step commits (at least once). */
  after<N extends AuthSignalName>(name: N, receiver: AfterReceiver<N>): () => void {
    return add(this.#after, name, receiver as unknown as AnyAfterReceiver);
  }

  /** Whether any `after` receiver listens to `name` (only those signals are written out). */
  hasAfter(name: AuthSignalName): boolean {
    return (this.#after.get(name)?.length ?? 0) > 0;
  }

  /** Runs the in-step receivers; the first throw propagates. */
  async deliver(step: Step, response: Response): Promise<void> {
    const run = <A, E>(effect: Effect.Effect<A, E, SqlClient.SqlClient>): Promise<A> => step.run(effect);
    for (const emitted of step.signals) {
      if (step.deliveredEarly.has(emitted)) {
        continue;
      }
      for (const receiver of [...(this.#on.get(emitted.signal.type) ?? [])]) {
        await receiver(payloadOf(emitted, step.request, response, run));
      }
    }
  }

  /**
   * Runs the in-step receivers of the last `pre_social_login` now, while the flow waits for
   * them (allauth calls them before it goes on): each may `connect(userId)` the social login to
   * a user, or throw an `ImmediateResponse` to stop the flow and answer it. Any other throw
   * aborts the step, as for every in-step receiver.
   */
  async deliverPreSocialLogin(step: Step): Promise<{ readonly response: Response | null; readonly connectTo: string | null }> {
    const emitted = [...step.signals].reverse().find((e) => e.signal.type === "pre_social_login" && !step.deliveredEarly.has(e));
    if (emitted === undefined) {
      return { response: null, connectTo: null };
    }
    const run = <A, E>(effect: Effect.Effect<A, E, SqlClient.SqlClient>): Promise<A> => step.run(effect);
    // Receivers hear the signals in emission order: those before it (`social_account_updated`) first.
    for (const earlier of step.signals.slice(0, step.signals.indexOf(emitted))) {
      if (!step.deliveredEarly.has(earlier)) {
        step.deliveredEarly.add(earlier);
        for (const receiver of [...(this.#on.get(earlier.signal.type) ?? [])]) {
          await receiver(payloadOf(earlier, step.request, undefined, run));
        }
      }
    }
    step.deliveredEarly.add(emitted);
    let connectTo: string | null = null;
    const connect = (userId: string): void => {
      connectTo = userId;
    };
    for (const receiver of [...(this.#on.get("pre_social_login") ?? [])]) {
      try {
        const payload: SignalPayload<AuthSignalName> & { readonly connect: (userId: string) => void } = {
          ...payloadOf(emitted, step.request, undefined, run),
          connect,
        };
        await receiver(payload);
      } catch (error) {
        if (error instanceof ImmediateResponse) {
          return { response: error.response, connectTo: null };
        }
        throw error;
      }
    }
    return { response: null, connectTo };
  }

  /** Runs the `after` receivers of one durable signal; the first throw propagates (retry). */
  async deliverDurable(signal: DurableSignal<AuthSignalName>): Promise<void> {
    for (const receiver of [...(this.#after.get(signal.type) ?? [])]) {
      await receiver(signal);
    }
  }
}

function add<R>(map: Map<AuthSignalName, Array<R>>, name: AuthSignalName, receiver: R): () => void {
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

/** The durable copy of an emitted signal (without its idempotency key, added per row). */
export function durableCopy(
  emitted: EmittedSignal,
  request: RequestInfo,
  emittedAt: number,
): Omit<DurableSignal<AuthSignalName>, "idempotencyKey"> {
  const signal: AuthSignal = emitted.signal;
  return {
    ...signal,
    request: {
      client: request.client,
      ip: request.ip,
      userAgent: request.userAgent,
      userId: emitted.sessionUser?.id ?? null,
    },
    emittedAt,
  } as Omit<DurableSignal<AuthSignalName>, "idempotencyKey">;
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
