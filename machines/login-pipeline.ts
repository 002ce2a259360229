/**
 * allauth's login pipeline (`perform_login` → stages → `post_login`), shared by every flow that
 * ends in a login: signup, password login, email verification, login by code and password
 * reset. A flow enters `checkingActive` once it knows the user; the pipeline then
 *  - stops at `inactive` for an inactive user (no `user_logged_in`);
 *  - with `loginByCodeRequired`, mails a login code and stops at `codePending` until the
 *    `login-by-code` flow confirms it;
 *  - runs the email verification stage: with `mandatory`, an unverified login mails a
 *    verification and stops at `verificationPending`; with `optional`, a signup without a
 *    verified address mails one and goes on;
 *  - starts the session and emits `user_logged_in` once the session holds the user.
 *
 * The states are spread into each flow's own chart, so the inspector shows one statechart per
 * flow with its whole signal order. Flows must provide the actors `sendLoginCode`,
 * `sendVerificationEmail` and `startSession` (see `contracts.ts`).
 */
import { assign, emit } from "xstate";
import type {
  FlowSettings,
  SendLoginCodeInput,
  SendLoginCodeOutput,
  SendVerificationEmailInput,
  StartSessionInput,
  PendingLogin,
  SendVerificationEmailOutput,
  StartSessionOutput,
} from "./contracts.ts";
import type { FlowError } from "./errors.ts";
import { toFlowError } from "./errors.ts";
import { notProvided } from "./not-provided.ts";
import type { AuthSignal, UserRef } from "./signals.ts";

/** The pipeline's named actors, to spread into a flow's `setup({ actors })`. */
export const loginPipelineActors = {
  sendLoginCode: notProvided<SendLoginCodeInput, SendLoginCodeOutput>("sendLoginCode"),
  sendVerificationEmail: notProvided<SendVerificationEmailInput, SendVerificationEmailOutput>("sendVerificationEmail"),
  startSession: notProvided<StartSessionInput, StartSessionOutput>("startSession"),
};

/** The part of a flow's context the pipeline reads and writes. */
export interface LoginPipelineContext {
  readonly settings: FlowSettings;
  readonly sessionUser: UserRef | null;
  readonly user: UserRef | null;
  readonly login: PendingLogin | null;
  /** Whether the login's address (or, without one, any of the user's addresses) is verified. */
  readonly emailVerified: boolean;
  readonly verificationId: string | null;
  /** The login-code stage is done (or the login itself was by code). */
  readonly codeVerified: boolean;
  readonly error: FlowError | null;
}

/** Initial values of the pipeline's part of a flow's context. */
export function initialPipelineContext(
  settings: FlowSettings,
  sessionUser: UserRef | null,
): LoginPipelineContext {
  return {
    settings,
    sessionUser,
    user: null,
    login: null,
    emailVerified: false,
    verificationId: null,
    codeVerified: false,
    error: null,
  };
}

interface Args {
  readonly context: LoginPipelineContext;
}
interface EventArgs extends Args {
  readonly event: { readonly type: string };
}

/** The output of the `xstate.done.actor.*` event being handled, checked to be `T`'s shape. */
function outputOf<T>(event: { readonly type: string }, is: (output: unknown) => output is T): T {
  const output = "output" in event ? event.output : undefined;
  if (!is(output)) {
    throw new Error(`${event.type} carries no expected output`);
  }
  return output;
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null;
const isLoginCodeSent = (v: unknown): v is SendLoginCodeOutput => isRecord(v) && "verificationId" in v;
const isVerificationSent = (v: unknown): v is SendVerificationEmailOutput => isRecord(v) && typeof v["sent"] === "boolean";
const isSessionStarted = (v: unknown): v is StartSessionOutput => isRecord(v) && isRecord(v["user"]);

function isInactive({ context }: Args): boolean {
  return context.user?.isActive !== true;
}

/** The verification mail went out (`sent: false` when it was throttled). */
function wasMailed({ event }: EventArgs): boolean {
  return outputOf(event, isVerificationSent).sent;
}

function mustVerify({ context }: Args): boolean {
  return context.settings.emailVerification === "mandatory" && !context.emailVerified;
}

/** allauth's `LoginByCodeStage`: required always, or after the listed methods (a signup too). */
function requiresCode({ context }: Args): boolean {
  const required = context.settings.loginByCodeRequired ?? false;
  if (context.codeVerified || required === false) {
    return false;
  }
  if (required === true) {
    return true;
  }
  return required.length > 0 && (context.login?.signup === true || required.includes(context.login?.method ?? ""));
}

function shouldOfferVerification({ context }: Args): boolean {
  return (
    context.settings.emailVerification === "optional" &&
    context.login?.signup === true &&
    !context.emailVerified
  );
}

const pipelineStates = {
  checkingActive: {
    always: [
      { guard: isInactive, target: "inactive" },
      { target: "codeStage" },
    ],
  },
  codeStage: {
    always: [{ guard: requiresCode, target: "sendingLoginCode" }, { target: "verificationStage" }],
  },
  sendingLoginCode: {
    invoke: {
      src: "sendLoginCode",
      input: ({ context }: Args) => ({ userId: context.login!.userId, emailAddressId: context.login!.emailAddressId }),
      onDone: {
        target: "codePending",
        actions: assign({
          verificationId: ({ event }: EventArgs) => outputOf(event, isLoginCodeSent).verificationId,
        }),
      },
      onError: { target: "failed", actions: assign({ error: ({ event }: { event: { error: unknown } }) => toFlowError(event.error) }) },
    },
  },
  verificationStage: {
    always: [
      { guard: mustVerify, target: "sendingVerification" },
      { guard: shouldOfferVerification, target: "sendingVerification" },
      { target: "loggingIn" },
    ],
  },
  sendingVerification: {
    invoke: {
      src: "sendVerificationEmail",
      input: ({ context }: Args) => ({
        userId: context.login!.userId,
        emailAddressId: context.login!.emailAddressId,
        signup: context.login!.signup,
      }),
      onDone: [
        {
          guard: wasMailed,
          target: "verificationMailed",
          actions: [
            assign({
              verificationId: ({ event }: EventArgs) =>
                outputOf(event, isVerificationSent).verificationId,
            }),
            emit(({ context, event }: EventArgs): AuthSignal => ({
              type: "email_confirmation_sent",
              confirmation: outputOf(event, isVerificationSent).confirmation!,
              signup: outputOf(event, isVerificationSent).signup ?? context.login!.signup,
            })),
          ],
        },
        { target: "verificationMailed" },
      ],
      onError: { target: "failed", actions: assign({ error: ({ event }: { event: { error: unknown } }) => toFlowError(event.error) }) },
    },
  },
  verificationMailed: {
    always: [{ guard: mustVerify, target: "verificationPending" }, { target: "loggingIn" }],
  },
  loggingIn: {
    invoke: {
      src: "startSession",
      input: ({ context }: Args) => ({
        userId: context.login!.userId,
        login: context.login!,
      }),
      onDone: {
        target: "loggedIn",
        actions: [
          assign({
            user: ({ event }: EventArgs) => outputOf(event, isSessionStarted).user,
            sessionUser: ({ event }: EventArgs) => outputOf(event, isSessionStarted).user,
          }),
          emit(({ context, event }: EventArgs): AuthSignal => ({
            type: "user_logged_in",
            user: outputOf(event, isSessionStarted).user,
            ...(context.login?.socialLogin === undefined ? {} : { socialLogin: context.login.socialLogin }),
          })),
        ],
      },
      onError: { target: "failed", actions: assign({ error: ({ event }: { event: { error: unknown } }) => toFlowError(event.error) }) },
    },
  },
  /** The session holds the user. */
  loggedIn: { type: "final", tags: ["authenticated"] },
  /** The user is inactive: nothing more happens. */
  inactive: { type: "final", tags: ["inactive"] },
  /** A login code is required as a second step; the login is parked until it is confirmed. */
  codePending: { type: "final", tags: ["pending:login_by_code"] },
  /** Mandatory verification stopped the login; it is parked until the address is verified. */
  verificationPending: { type: "final", tags: ["pending:verify_email"] },
  /** An actor failed; `error` says why. */
  failed: { type: "final", tags: ["failed"] },
} as const;

/**
 * The pipeline's states, to spread into a flow machine's `states`. Typed loosely on purpose:
 * each flow's `setup()` declares the two actors, and the flow tests drive every state.
 */
export const loginPipelineStates = pipelineStates as unknown as Record<keyof typeof pipelineStates, never>;

/** The tags a flow's final state may carry, read by the HTTP edge. */
export type FlowTag =
  | "authenticated"
  | "inactive"
  | "pending:verify_email"
  | "pending:login_by_code"
  | "code:pending"
  | "code:gone"
  | "code:ended"
  | "failed"
  | "rejected"
  | "conflict"
  | "done";
