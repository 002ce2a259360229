/**
 * Pure machine-test support: settings and fixture builders, fake named actors that record their
 * inputs, a flow runner that collects emitted signals in order, and a transition-coverage
 * recorder that proves every state and transition of a machine was driven by the tests. Each
 * time a flow rests, every event the machine knows but its current states do not accept is
 * checked to be ignored: no state change, no context change, no action, emit or actor
 * (SECURITY.md IV-06, exhaustively over the states the scenarios reach).
 */
import { createActor, fromPromise, transition, waitFor } from "xstate";
import type {
  Actor,
  AnyActorLogic,
  AnyStateMachine,
  AnyStateNode,
  AnyTransitionDefinition,
  EventFromLogic,
  InputFrom,
  InspectionEvent,
  SnapshotFrom,
} from "xstate";
import { expect, it } from "vitest";
import type {
  AddEmailOutput,
  AuthenticateOutput,
  CheckCodeInput,
  CheckCodeOutput,
  CheckResetKeyInput,
  CheckResetKeyOutput,
  ConfirmEmailCodeInput,
  ConfirmEmailKeyInput,
  ConfirmEmailOutput,
  ConfirmLoginCodeInput,
  ConfirmLoginCodeOutput,
  ConfirmResetCodeInput,
  ConfirmResetCodeOutput,
  CreateUserInput,
  CreateUserOutput,
  FlowSettings,
  HashNewPasswordInput,
  HashNewPasswordOutput,
  LoginForm,
  ManageEmailCheck,
  ManageEmailTarget,
  MarkPrimaryOutput,
  PendingLogin,
  ReauthenticateInput,
  RemoveEmailOutput,
  RequestLoginCodeInput,
  RequestPasswordResetInput,
  RequestPasswordResetOutput,
  ResendCodeOutput,
  ResendVerificationOutput,
  ResetPasswordInput,
  ResetPasswordOutput,
  SendAccountExistsMailInput,
  SendLoginCodeInput,
  SendLoginCodeOutput,
  SendVerificationEmailInput,
  SendVerificationEmailOutput,
  SignupForm,
  StartSessionInput,
  StartSessionOutput,
  ValidateSignupOutput,
  ChangePendingEmailInput,
  ChangePendingEmailOutput,
} from "../../machines/contracts.ts";
import type { FlowError } from "../../machines/errors.ts";
import type {
  AcceptLoginInput,
  AcceptLoginOutput,
  AssessSignupOutput,
  ConnectAccountInput,
  ConnectAccountOutput,
  CreateSocialUserInput,
  CreateSocialUserOutput,
  DisconnectInput,
  DisconnectOutput,
  LookupOutput,
  PreSocialLoginOutput,
  ProviderSignupForm,
  SocialProfileData,
  ValidateProviderSignupOutput,
} from "../../machines/social-contracts.ts";
import type {
  AuthSignal,
  ConfirmationRef,
  EmailAddressRef,
  SocialAccountRef,
  SocialLoginRef,
  UserRef,
} from "../../machines/signals.ts";

// ---- fixtures ----

/** allauth's defaults, as the machines read them; override what a scenario needs. */
export function settings(overrides: Partial<FlowSettings> = {}): FlowSettings {
  return {
    emailVerification: "optional",
    emailVerificationByCodeEnabled: false,
    loginOnEmailConfirmation: false,
    preventEnumeration: true,
    changeEmail: false,
    loginMethods: ["username"],
    ...overrides,
  };
}

export function user(overrides: Partial<UserRef> = {}): UserRef {
  return {
    id: "u1",
    username: "alice",
    email: "alice@example.com",
    isActive: true,
    hasUsablePassword: true,
    ...overrides,
  };
}

export function address(overrides: Partial<EmailAddressRef> = {}): EmailAddressRef {
  return {
    id: "e1",
    userId: "u1",
    email: "alice@example.com",
    verified: false,
    primary: true,
    ...overrides,
  };
}

export function confirmation(emailAddress: EmailAddressRef, kind: ConfirmationRef["kind"] = "link"): ConfirmationRef {
  return { kind, emailAddress, sentAt: 1_700_000_000_000 };
}

export function pendingLogin(overrides: Partial<PendingLogin> = {}): PendingLogin {
  return {
    userId: "u1",
    signup: true,
    emailAddressId: "e1",
    method: "password",
    email: "alice@example.com",
    ...overrides,
  };
}

/** What the `dummy` provider says about alice: one verified primary address. */
export function socialProfile(overrides: Partial<SocialProfileData> = {}): SocialProfileData {
  return {
    provider: "dummy",
    uid: "100",
    emailAddresses: [{ email: "alice@example.com", verified: true, primary: true }],
    username: "alice",
    firstName: null,
    lastName: null,
    ...overrides,
  };
}

export function socialAccount(overrides: Partial<SocialAccountRef> = {}): SocialAccountRef {
  return { id: "sa1", provider: "dummy", uid: "100", userId: "u1", ...overrides };
}

/** A mail that went out. */
export function sent(conf: ConfirmationRef, verificationId: string | null = null): SendVerificationEmailOutput {
  return { sent: true, confirmation: conf, verificationId };
}

/** A mail suppressed by a cooldown. */
export const suppressed: SendVerificationEmailOutput = { sent: false, confirmation: null, verificationId: null };

/** An actor implementation that rejects with a flow error, as the real actors do. */
export function fail(code: FlowError["code"], param?: string): () => never {
  return () => {
    throw param === undefined ? { code } : { code, param };
  };
}

// ---- fake actors ----

type Awaitable<T> = T | Promise<T>;

/** Every named actor of the flow machines, by its contract. */
export interface ActorContracts {
  validateSignup: [SignupForm, ValidateSignupOutput];
  createUser: [CreateUserInput, CreateUserOutput];
  sendAccountExistsMail: [SendAccountExistsMailInput, void];
  authenticatePassword: [LoginForm, AuthenticateOutput];
  sendVerificationEmail: [SendVerificationEmailInput, SendVerificationEmailOutput];
  startSession: [StartSessionInput, StartSessionOutput];
  confirmEmailKey: [ConfirmEmailKeyInput, ConfirmEmailOutput];
  confirmEmailCode: [ConfirmEmailCodeInput, ConfirmEmailOutput];
  endSession: [void, void];
  addEmail: [ManageEmailTarget, AddEmailOutput];
  removeEmail: [ManageEmailTarget, RemoveEmailOutput];
  markPrimary: [ManageEmailTarget, MarkPrimaryOutput];
  resendVerification: [ManageEmailTarget, ResendVerificationOutput];
  checkEmail: [ManageEmailCheck, void];
  changePendingEmail: [ChangePendingEmailInput, ChangePendingEmailOutput];
  reauthenticate: [ReauthenticateInput, void];
  requestPasswordReset: [RequestPasswordResetInput, RequestPasswordResetOutput];
  checkResetKey: [CheckResetKeyInput, CheckResetKeyOutput];
  confirmResetCode: [ConfirmResetCodeInput, ConfirmResetCodeOutput];
  hashNewPassword: [HashNewPasswordInput, HashNewPasswordOutput];
  resetPassword: [ResetPasswordInput, ResetPasswordOutput];
  sendLoginCode: [SendLoginCodeInput, SendLoginCodeOutput];
  requestLoginCode: [RequestLoginCodeInput, SendLoginCodeOutput];
  confirmLoginCode: [ConfirmLoginCodeInput, ConfirmLoginCodeOutput];
  checkCode: [CheckCodeInput, CheckCodeOutput];
  resendCode: [undefined, ResendCodeOutput];
  lookupSocialAccount: [SocialProfileData, LookupOutput];
  runPreSocialLogin: [SocialLoginRef, PreSocialLoginOutput];
  connectAccount: [ConnectAccountInput, ConnectAccountOutput];
  logOutFirst: [UserRef, void];
  acceptLogin: [AcceptLoginInput, AcceptLoginOutput];
  assessSocialSignup: [SocialProfileData, AssessSignupOutput];
  createSocialUser: [CreateSocialUserInput, CreateSocialUserOutput];
  validateProviderSignup: [ProviderSignupForm, ValidateProviderSignupOutput];
  checkDisconnect: [DisconnectInput, void];
  removeSocialAccount: [DisconnectInput, DisconnectOutput];
}
export type ActorName = keyof ActorContracts;

/** Fake implementations: `call` counts from 0 per actor. Throwing rejects the actor. */
export type Fakes = {
  [K in ActorName]?: (input: ActorContracts[K][0], call: number) => Awaitable<ActorContracts[K][1]>;
};

/** A promise settled from the test, for observing a flow while an actor is in flight. */
export interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
}
export function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

// ---- coverage ----

/** A state's name: its key at the top level, its dotted path below (`connecting.storing`). */
function nodeName(node: { readonly path: ReadonlyArray<string> }): string {
  return node.path.join(".");
}

/** Every state node of a machine, nested ones included. */
function chartNodes(machine: AnyStateMachine): Array<AnyStateNode> {
  const nodes: Array<AnyStateNode> = [];
  const walk = (node: AnyStateNode): void => {
    for (const child of Object.values(node.states)) {
      nodes.push(child);
      walk(child);
    }
  };
  walk(machine.root);
  return nodes;
}

/** A readable, stable name for one transition of a machine's states. */
function transitionKey(t: AnyTransitionDefinition): string | null {
  const source = t.source;
  if (source.parent === undefined) {
    return null; // the machine's initial transition
  }
  let label: string;
  let index: number;
  if (t.eventType === "") {
    label = "always";
    index = (source.always ?? []).indexOf(t);
  } else {
    label = t.eventType.startsWith("xstate.done.actor.")
      ? "onDone"
      : t.eventType.startsWith("xstate.error.actor.")
        ? "onError"
        : t.eventType;
    index = (source.transitions.get(t.eventType) ?? []).indexOf(t);
  }
  const targets = (t.target ?? []).map(nodeName).join(",") || nodeName(source);
  return `${nodeName(source)} --${label}#${index}--> ${targets}`;
}

/** Every transition a machine declares on its states. */
export function declaredTransitions(machine: AnyStateMachine): Array<string> {
  const keys: Array<string> = [];
  for (const node of chartNodes(machine)) {
    for (const t of node.always ?? []) {
      keys.push(transitionKey(t)!);
    }
    for (const list of node.transitions.values()) {
      for (const t of list) {
        keys.push(transitionKey(t)!);
      }
    }
  }
  return keys.sort();
}

interface Coverage {
  readonly states: Set<string>;
  readonly transitions: Set<string>;
}
const coverageByMachine = new Map<string, Coverage>();
function coverageOf(machineId: string): Coverage {
  let coverage = coverageByMachine.get(machineId);
  if (coverage === undefined) {
    coverage = { states: new Set(), transitions: new Set() };
    coverageByMachine.set(machineId, coverage);
  }
  return coverage;
}

/**
 * `it`, remembering the scenario so that the coverage check can replay the ones a `-t` filter
 * skipped: the check then depends on what the file declares, not on what was selected.
 */
export function scenarios() {
  const declared: Array<{ title: string; fn: () => Promise<void>; ran: boolean }> = [];
  return {
    it(title: string, fn: () => Promise<void>): void {
      const entry = { title, fn, ran: false };
      declared.push(entry);
      it(title, async () => {
        await fn();
        entry.ran = true;
      });
    },
    /**
     * The coverage test: replays skipped scenarios, then compares what ran with the declared
     * chart. `unreachable` lists, with the reason, the states and transitions no input can
     * reach in this machine (the shared pipeline has branches some flows never take); each
     * must exist in the chart and must indeed never have been taken.
     */
    itCoversEveryStateAndTransition(
      machine: AnyStateMachine,
      unreachable: { readonly states?: Record<string, string>; readonly transitions?: Record<string, string> } = {},
    ): void {
      it(`drives every state and every transition of the ${machine.id} machine`, async () => {
        for (const entry of declared) {
          if (!entry.ran) {
            await entry.fn();
          }
        }
        const coverage = coverageOf(machine.id);
        const deadStates = Object.keys(unreachable.states ?? {});
        const deadTransitions = Object.keys(unreachable.transitions ?? {});
        const allStates = chartNodes(machine).map(nodeName).sort();
        const allTransitions = declaredTransitions(machine);
        expect(allStates).toEqual(expect.arrayContaining(deadStates));
        expect(allTransitions).toEqual(expect.arrayContaining(deadTransitions));
        expect([...coverage.states].sort()).toEqual(allStates.filter((state) => !deadStates.includes(state)));
        expect([...coverage.transitions].sort()).toEqual(allTransitions.filter((t) => !deadTransitions.includes(t)));
      });
    },
  };
}

// ---- flow runner ----

export interface Flow<M extends AnyStateMachine> {
  readonly actor: Actor<M>;
  /** Signals in emission order. */
  readonly signals: Array<AuthSignal>;
  /** Signals and actor calls interleaved: `signal:<type>` and `actor:<name>`. */
  readonly timeline: Array<string>;
  /** Errors the machine received from its invoked actors. */
  readonly actorErrors: Array<unknown>;
  /** Inputs each named actor received, in call order. */
  calls<K extends ActorName>(name: K): Array<ActorContracts[K][0]>;
  /** The signal types in emission order. */
  signalTypes(): Array<AuthSignal["type"]>;
  /** Sends an event and waits until the machine rests again (final, or nothing in flight). */
  send(event: EventFromLogic<M>): Promise<SnapshotFrom<M>>;
  /** Waits until the machine rests (final, or no invoked actor in flight). */
  settled(): Promise<SnapshotFrom<M>>;
  snapshot(): SnapshotFrom<M>;
  /** `JSON.stringify(actor.getPersistedSnapshot())`. */
  persisted(): string;
}

/** The event types a machine's states accept, its own (`xstate.*` events excluded). */
function eventTypesOf(machine: AnyStateMachine): Array<string> {
  const types = new Set<string>();
  for (const node of [machine.root, ...chartNodes(machine)]) {
    for (const type of node.transitions.keys()) {
      if (!type.startsWith("xstate.")) types.add(type);
    }
  }
  return [...types].sort();
}

/**
 * IV-06: every event type of `machine` that no active state accepts leaves `snapshot` as it is,
 * with no action (so no actor, emit or assignment) — the machine ignores it.
 */
export function expectForeignEventsIgnored(machine: AnyStateMachine, snapshot: unknown): void {
  const current = snapshot as { readonly status: string; readonly value: unknown; readonly context: unknown; readonly _nodes: ReadonlyArray<AnyStateNode> };
  if (current.status !== "active") return;
  const accepted = new Set(current._nodes.flatMap((node) => [...node.transitions.keys()]));
  if (accepted.has("*")) throw new Error(`${machine.id}: a wildcard transition accepts every event`);
  for (const type of eventTypesOf(machine).filter((t) => !accepted.has(t))) {
    const [next, actions] = transition(machine, current as never, { type } as never);
    expect({ type, value: next.value, actions: actions.length }).toEqual({ type, value: current.value, actions: 0 });
    expect(next.context, type).toBe(current.context);
  }
}

interface RestingSnapshot {
  readonly status: string;
  readonly children: Record<string, unknown>;
}
function atRest(snapshot: RestingSnapshot): boolean {
  return snapshot.status !== "active" || Object.keys(snapshot.children).length === 0;
}

/**
 * Starts `machine` (or resumes it from a persisted snapshot) with the given fakes (actors left
 * out keep the machine's `notProvided` placeholder) and waits until it rests.
 */
export async function startFlow<M extends AnyStateMachine>(
  machine: M,
  options: {
    readonly input: InputFrom<M>;
    readonly fakes?: Fakes;
    /** A persisted snapshot (as parsed JSON) to resume from instead of starting fresh. */
    readonly snapshot?: unknown;
  },
): Promise<Flow<M>> {
  const signals: Array<AuthSignal> = [];
  const timeline: Array<string> = [];
  const actorErrors: Array<unknown> = [];
  const calls = new Map<string, Array<unknown>>();
  const coverage = coverageOf(machine.id);

  const actors: Record<string, AnyActorLogic> = {};
  for (const [name, impl] of Object.entries(options.fakes ?? {})) {
    const recorded: Array<unknown> = [];
    calls.set(name, recorded);
    actors[name] = fromPromise(async ({ input }: { input: unknown }) => {
      recorded.push(input);
      timeline.push(`actor:${name}`);
      return (impl as (input: unknown, call: number) => unknown)(input, recorded.length - 1);
    });
  }
  const provided = machine.provide({ actors } as never) as M;

  const inspect = (event: InspectionEvent): void => {
    if (event.type === "@xstate.microstep") {
      for (const t of event._transitions) {
        if (t.source.machine !== provided) {
          continue;
        }
        const key = transitionKey(t);
        if (key === null) {
          for (const target of t.target ?? []) {
            coverage.states.add(nodeName(target));
          }
          continue;
        }
        coverage.transitions.add(key);
        coverage.states.add(nodeName(t.source));
        for (const target of t.target ?? []) {
          coverage.states.add(nodeName(target));
        }
      }
    } else if (event.type === "@xstate.event" && event.event.type.startsWith("xstate.error.actor.")) {
      if ((event.actorRef as { logic?: unknown }).logic === provided) {
        actorErrors.push((event.event as { error?: unknown }).error);
      }
    }
  };

  const actor = createActor(provided, {
    input: options.input,
    inspect,
    ...(options.snapshot === undefined ? {} : { snapshot: options.snapshot }),
  } as never) as Actor<M>;
  actor.on("*", (signal: unknown) => {
    const emitted = signal as AuthSignal;
    signals.push(emitted);
    timeline.push(`signal:${emitted.type}`);
  });
  actor.start();

  const settled = async () => {
    const rested = (await waitFor(actor, (snapshot) => atRest(snapshot as unknown as RestingSnapshot), { timeout: 2_000 })) as SnapshotFrom<M>;
    expectForeignEventsIgnored(provided, rested);
    return rested;
  };

  const flow: Flow<M> = {
    actor,
    signals,
    timeline,
    actorErrors,
    calls<K extends ActorName>(name: K) {
      return (calls.get(name) ?? []) as Array<ActorContracts[K][0]>;
    },
    signalTypes: () => signals.map((signal) => signal.type),
    async send(event) {
      actor.send(event);
      return settled();
    },
    settled,
    snapshot: () => actor.getSnapshot() as SnapshotFrom<M>,
    persisted: () => JSON.stringify(actor.getPersistedSnapshot()),
  };
  await settled();
  return flow;
}

/** The tags of a snapshot, sorted. */
export function tagsOf(snapshot: { readonly tags: Set<string> }): Array<string> {
  return [...snapshot.tags].sort();
}

/** Asserts that none of `secrets` appears in the persisted snapshot of `flow`. */
export function expectNoSecretsPersisted(flow: { persisted(): string }, ...secrets: Array<string>): void {
  const json = flow.persisted();
  for (const secret of secrets) {
    expect(json).not.toContain(secret);
  }
}
