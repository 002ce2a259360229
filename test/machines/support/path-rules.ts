/**
 * The signal rules every generated path of every flow must keep, stated once, from
 * ../shared/SIGNALS.md (§1–§4, §6's pitfalls): each rule reads a path (its input, its steps,
 * the states and tags after each step, the signals in order) and says what is wrong with it, or
 * nothing. `successSignals` is the flow → success signal table.
 */
import { authSignalNames } from "../../../machines/signals.ts";
import type { AuthSignal, AuthSignalName, UserRef } from "../../../machines/signals.ts";
import type { GeneratedPath, PathStep } from "./paths.ts";

export interface Rule {
  readonly id: string;
  /** The rule in words (SIGNALS.md's wording where it has one). */
  readonly text: string;
  /** What is wrong with the path, or null. */
  readonly check: (path: GeneratedPath) => string | null;
}

/** One success outcome of a flow: the signals it emits exactly once. */
export interface SuccessCase {
  /** The path ends in one of these states… */
  readonly ends?: ReadonlyArray<string>;
  /** …and/or passes through all of these. */
  readonly via?: ReadonlyArray<string>;
  /** …and/or its last request is this client event. */
  readonly request?: string;
  /** Each emitted exactly once. */
  readonly once: ReadonlyArray<AuthSignalName>;
  /** And no other signal at all. */
  readonly only?: boolean;
}

/**
 * The flow → success signal table (SIGNALS.md §3, §4). A flow missing here has no success
 * signal of its own.
 */
export const successSignals: Readonly<Record<string, ReadonlyArray<SuccessCase>>> = {
  signup: [
    { via: ["signup.checkingActive"], once: ["user_signed_up"] },
    { ends: ["signup.loggedIn"], once: ["user_signed_up", "user_logged_in"] },
  ],
  login: [{ ends: ["login.loggedIn"], once: ["user_logged_in"], only: true }],
  logout: [{ ends: ["logout.done"], once: ["user_logged_out"], only: true }],
  "email-verification": [
    { ends: ["email-verification.verified", "email-verification.loggedIn"], once: ["email_confirmed"] },
    { ends: ["email-verification.loggedIn"], once: ["email_confirmed", "user_logged_in"] },
  ],
  "password-change": [{ ends: ["password-change.done"], once: ["password_changed"] }],
  "password-set": [{ ends: ["password-set.done"], once: ["password_set"] }],
  "manage-email": [
    { request: "REMOVE", ends: ["manage-email.done"], once: ["email_removed"], only: true },
    { request: "MARK_PRIMARY", ends: ["manage-email.done"], once: ["email_changed"], only: true },
    { request: "RESEND", ends: ["manage-email.done"], once: ["email_confirmation_sent"], only: true },
  ],
  reauthenticate: [{ ends: ["reauthenticate.done"], once: [], only: true }],
  "user-sessions": [
    { ends: ["user-sessions.loggedOut"], once: ["user_logged_out"], only: true },
    { ends: ["user-sessions.done"], once: [], only: true },
  ],
  "password-reset": [
    { via: ["password-reset.resetting"], ends: ["password-reset.reset", "password-reset.loggedIn", "password-reset.verificationPending", "password-reset.codePending", "password-reset.inactive"], once: ["password_reset"] },
    { ends: ["password-reset.loggedIn"], once: ["password_reset", "user_logged_in"] },
    { ends: ["password-reset.requested"], once: [], only: true },
  ],
  "login-by-code": [{ ends: ["login-by-code.loggedIn"], once: ["user_logged_in"] }],
  "social-login": [
    { ends: ["social-login.loggedIn"], once: ["pre_social_login", "user_logged_in"] },
    { ends: ["social-login.connected"], once: ["pre_social_login"] },
  ],
  "provider-signup": [
    { via: ["provider-signup.checkingActive"], once: ["user_signed_up"] },
    { ends: ["provider-signup.loggedIn"], once: ["user_signed_up", "user_logged_in"] },
  ],
  "social-disconnect": [{ ends: ["social-disconnect.removed"], once: ["social_account_removed"], only: true }],
};

/** Flows whose every user is a new one: a login there is a signup's login. */
const signupFlows = new Set(["signup", "provider-signup"]);

/** Tags of a state that waits for something before the login may happen. */
const isPendingTag = (tag: string): boolean => tag.startsWith("pending:") || tag === "code:pending" || tag === "reauthenticate";

/** Tags of a state that refuses the request (4xx) or stops it before its write. */
const refusalTags = ["rejected", "conflict", "unauthenticated", "signup_closed", "code:gone", "throttled", "aborted", "reauthenticate"];

/** Signals allauth emits during a provider handshake, before any decision (§3.12, §3.14, §6.2). */
const handshakeSignals: ReadonlyArray<AuthSignalName> = ["social_account_updated", "pre_social_login"];

/**
 * What a flow announces before it decides the request, for writes already done: a social login's
 * handshake, a `pre_social_login` receiver's own connect (§3.12) and the logout of the user the
 * session held (allauth logs them out first, §2, §3.14); a reset code's `email_confirmed` (§3.6).
 */
function beforeDecision(path: GeneratedPath, step: PathStep, signal: AuthSignal): boolean {
  if (handshakeSignals.includes(signal.type)) {
    return true;
  }
  if (path.slug === "password-reset") {
    // The code verifies its address when it is confirmed, before the new password is set (§3.6);
    // a key that checks out logs the session's other user out first, and `resetPassword` ends that
    // session before anything can refuse the reset.
    return (
      (signal.type === "email_confirmed" && step.from.includes("password-reset.confirmingCode")) ||
      (signal.type === "user_logged_out" && signal.user?.id === sessionUserOf(path)?.id)
    );
  }
  if (path.slug !== "social-login") {
    return false;
  }
  return (
    (signal.type === "user_logged_out" && signal.user?.id === sessionUserOf(path)?.id) ||
    (signal.type === "social_account_added" && step.from.includes("social-login.connectingForReceiver"))
  );
}

/** The signals of `steps` that are not announced before a decision. */
function decided(path: GeneratedPath, steps: ReadonlyArray<PathStep>): Array<AuthSignalName> {
  return steps.flatMap((step) => step.signals.filter((signal) => !beforeDecision(path, step, signal)).map((signal) => signal.type));
}

/** Signals that announce one write of one request (all but the resendable confirmation mail): at most one of each per path. */
const oncePerPath: ReadonlyArray<AuthSignalName> = authSignalNames.filter((name) => name !== "email_confirmation_sent");

const types = (path: GeneratedPath): Array<AuthSignalName> => path.signals.map((signal) => signal.type);
const indexOf = (path: GeneratedPath, name: AuthSignalName): number => types(path).indexOf(name);
const has = (path: GeneratedPath, name: AuthSignalName): boolean => indexOf(path, name) !== -1;
const lastStep = (path: GeneratedPath): PathStep => path.steps[path.steps.length - 1]!;
const endsIn = (path: GeneratedPath, ids: ReadonlyArray<string>): boolean => lastStep(path).after.states.some((id) => ids.includes(id));
const visits = (path: GeneratedPath, id: string): boolean => [path.start, ...path.steps].some((step) => step.visited.includes(id));
const sessionUserOf = (path: GeneratedPath): UserRef | null =>
  (path.input as { sessionUser?: UserRef | null } | null)?.sessionUser ?? null;
const isSignupPath = (path: GeneratedPath): boolean => signupFlows.has(path.slug) || has(path, "user_signed_up");

/** The steps of the path's last request (from the client's last event). */
function lastRequest(path: GeneratedPath): Array<PathStep> {
  let from = 0;
  path.steps.forEach((step, index) => {
    if (step.isUserEvent) {
      from = index;
    }
  });
  return path.steps.slice(from);
}

/** "`a` comes before `b`" for every pair present; null when kept. */
function before(path: GeneratedPath, a: AuthSignalName, b: AuthSignalName): string | null {
  const ia = indexOf(path, a);
  const ib = indexOf(path, b);
  return ia !== -1 && ib !== -1 && ia > ib ? `${a} comes after ${b}` : null;
}

const firstProblem = (...problems: Array<string | null>): string | null => problems.find((p) => p !== null) ?? null;

export const rules: ReadonlyArray<Rule> = [
  {
    id: "signup-before-login",
    text: "On a signup path, user_logged_in is never before user_signed_up (the user row exists first; §3.3, §2).",
    check: (path) => {
      if (!isSignupPath(path) || !has(path, "user_logged_in")) {
        return null;
      }
      const signedUp = indexOf(path, "user_signed_up");
      return signedUp === -1 || signedUp > indexOf(path, "user_logged_in") ? "user_logged_in without a user_signed_up before it" : null;
    },
  },
  {
    id: "no-login-while-pending",
    text:
      "user_logged_in is never emitted while email verification, a login code, a provider signup or reauthentication " +
      "is pending: from the step that emits it on, no state of the path carries a pending tag (§2, §6.7).",
    check: (path) => {
      const from = path.steps.findIndex((step) => step.signals.some((signal) => signal.type === "user_logged_in"));
      if (from === -1) {
        return null;
      }
      const pending = path.steps.slice(from).find((step) => step.after.tags.some(isPendingTag));
      return pending === undefined ? null : `user_logged_in, then pending (${pending.after.tags.join(",")}) after ${pending.label}`;
    },
  },
  {
    id: "no-social-account-added-on-signup",
    text: "social_account_added is never on a signup path: a social signup announces user_signed_up with the social login (§3.13, §6.1).",
    check: (path) => (isSignupPath(path) && has(path, "social_account_added") ? "social_account_added on a signup path" : null),
  },
  {
    id: "success-signal-once",
    text: "Every success path of a flow emits its success signals exactly once (the table `successSignals`), and nothing else where it says so.",
    check: (path) => {
      const last = lastStep(path);
      const lastRequest = [...path.steps].reverse().find((step) => step.isUserEvent);
      for (const success of successSignals[path.slug] ?? []) {
        if (success.ends !== undefined && !endsIn(path, success.ends)) {
          continue;
        }
        if (success.via !== undefined && !success.via.every((id) => visits(path, id))) {
          continue;
        }
        if (success.request !== undefined && lastRequest?.event.type !== success.request) {
          continue;
        }
        for (const name of success.once) {
          const count = types(path).filter((type) => type === name).length;
          if (count !== 1) {
            return `${name} ${count} times on a success path ending in ${last.after.states.join(",")}`;
          }
        }
        const extra = types(path).filter((type) => !success.once.includes(type));
        if (success.only === true && extra.length > 0) {
          return `${extra.join(", ")} besides ${success.once.join(", ") || "nothing"}`;
        }
      }
      return null;
    },
  },
  {
    id: "refusal-emits-nothing",
    text:
      "A refused or stopped request (rejected, conflict, unauthenticated, signup closed, code gone, throttled, aborted, " +
      "reauthentication required) emits nothing, but what it announced of writes done before deciding: a social login's " +
      "handshake, a pre_social_login receiver's connect and the logout of the session's previous user (§2, §3.12, §3.14, §6.2); " +
      "a reset code's email_confirmed, and a reset key's logout of the session's other user (§3.6).",
    check: (path) => {
      if (!lastStep(path).after.tags.some((tag) => refusalTags.includes(tag))) {
        return null;
      }
      const emitted = decided(path, lastRequest(path));
      return emitted.length === 0 ? null : `a refused request emits ${emitted.join(", ")}`;
    },
  },
  {
    id: "enumeration-fake-flow-silent",
    text:
      "The enumeration-prevention fake flow (an 'account already exists' mail, no user) emits nothing but what a social login " +
      "announces before deciding (§3.3, §4).",
    check: (path) => {
      if (!path.steps.some((step) => step.visited.some((id) => id.endsWith(".mailingAccountExists")))) {
        return null;
      }
      const emitted = decided(path, [path.start, ...path.steps]);
      return emitted.length === 0 ? null : `the fake flow emits ${emitted.join(", ")}`;
    },
  },
  {
    id: "logout-before-replacing-login",
    text: "When a login replaces another user's session, user_logged_out for that user comes first (§3.14, §3.6).",
    check: (path) => {
      const sessionUser = sessionUserOf(path);
      const login = path.signals.find((signal) => signal.type === "user_logged_in");
      if (sessionUser === null || login === undefined || login.user.id === sessionUser.id) {
        return null;
      }
      const logout = path.signals.findIndex((signal) => signal.type === "user_logged_out" && signal.user?.id === sessionUser.id);
      return logout !== -1 && logout < path.signals.indexOf(login) ? null : `user_logged_in for ${login.user.id} replaces ${sessionUser.id} without user_logged_out first`;
    },
  },
  {
    id: "no-login-for-inactive",
    text: "An inactive user is never logged in: a path ending at `inactive` has no user_logged_in (§2).",
    check: (path) => (lastStep(path).after.tags.includes("inactive") && has(path, "user_logged_in") ? "user_logged_in for an inactive user" : null),
  },
  {
    id: "login-ends-pipeline",
    text: "user_logged_in is the last signal of its path: the login pipeline ends the flow (§2).",
    check: (path) => {
      const index = indexOf(path, "user_logged_in");
      return index !== -1 && index !== path.signals.length - 1 ? `${types(path).slice(index + 1).join(", ")} after user_logged_in` : null;
    },
  },
  {
    id: "once-per-path",
    text: "A signal that announces one write (all but email_confirmation_sent, which resends repeat) is emitted at most once per path.",
    check: (path) => {
      const repeated = oncePerPath.filter((name) => types(path).filter((type) => type === name).length > 1);
      return repeated.length === 0 ? null : `${repeated.join(", ")} more than once`;
    },
  },
  {
    id: "password-signal-last",
    text:
      "password_changed and password_set come last, after the optional user_logged_out (§3.4, §3.5, §6.11); password_reset follows " +
      "the code's email_confirmed and the other user's user_logged_out, and only the login pipeline follows it (§3.6).",
    check: (path) => {
      const all = types(path);
      for (const name of ["password_changed", "password_set"] as const) {
        const index = all.indexOf(name);
        if (index !== -1 && index !== all.length - 1) {
          return `${all.slice(index + 1).join(", ")} after ${name}`;
        }
      }
      const reset = all.indexOf("password_reset");
      if (reset === -1) {
        return null;
      }
      const after = all.slice(reset + 1).filter((type) => type !== "email_confirmation_sent" && type !== "user_logged_in");
      return firstProblem(
        after.length > 0 ? `${after.join(", ")} after password_reset` : null,
        before(path, "email_confirmed", "password_reset"),
        before(path, "user_logged_out", "password_reset"),
      );
    },
  },
  {
    id: "confirmation-signup-flag",
    text:
      "email_confirmation_sent's `signup` flag: after user_signed_up it is true; a link mailed by a login pipeline " +
      "outside a signup says false (§3.8; code mode recomputes it as 'never logged in').",
    check: (path) => {
      let signedUp = false;
      for (const signal of path.signals) {
        if (signal.type === "user_signed_up") {
          signedUp = true;
        }
        if (signal.type !== "email_confirmation_sent") {
          continue;
        }
        if (signedUp && !signal.signup) {
          return "email_confirmation_sent(signup=false) after user_signed_up";
        }
        const pipeline = ["login", "password-reset", "social-login"].includes(path.slug);
        if (pipeline && !signedUp && signal.confirmation.kind === "link" && signal.signup) {
          return "email_confirmation_sent(signup=true) by a login that is no signup";
        }
      }
      return null;
    },
  },
  {
    id: "verification-order",
    text:
      "A verification announces email_added → email_confirmed → email_changed (the last only with account.changeEmail) and " +
      "comes before the login it resumes (§3.7, §3.10, §4); adding by link mails first: email_confirmation_sent → email_added (§3.10).",
    check: (path) => {
      const changeEmail = (path.input as { settings?: { changeEmail?: boolean } }).settings?.changeEmail === true;
      const confirmedChange =
        path.slug === "email-verification" && has(path, "email_confirmed") && has(path, "email_changed") !== changeEmail
          ? `email_changed ${changeEmail ? "missing" : "emitted"} with changeEmail ${changeEmail ? "on" : "off"}`
          : null;
      return firstProblem(
        path.slug === "manage-email" ? null : before(path, "email_added", "email_confirmed"),
        before(path, "email_confirmed", "email_changed"),
        before(path, "email_confirmed", "user_logged_in"),
        path.slug === "manage-email" ? before(path, "email_confirmation_sent", "email_added") : null,
        confirmedChange,
      );
    },
  },
  {
    id: "social-order",
    text:
      "A social login announces social_account_updated (at lookup) → pre_social_login → then social_account_added, " +
      "user_logged_out, user_signed_up or user_logged_in; never anything before the handshake (§3.12–§3.14).",
    check: (path) => {
      if (path.slug !== "social-login") {
        return null;
      }
      const all = types(path);
      const pre = all.indexOf("pre_social_login");
      const rest = all.filter((type) => !handshakeSignals.includes(type));
      if (rest.length > 0 && pre === -1) {
        return `${rest.join(", ")} without pre_social_login`;
      }
      const early = all.slice(0, Math.max(pre, 0)).filter((type) => type !== "social_account_updated");
      return firstProblem(early.length > 0 ? `${early.join(", ")} before pre_social_login` : null, before(path, "social_account_updated", "pre_social_login"));
    },
  },
];

/** The failures of `paths` under `rules`, one line each: `[rule] path: problem`. */
export function violations(paths: ReadonlyArray<GeneratedPath>, checked: ReadonlyArray<Rule> = rules): Array<string> {
  return paths.flatMap((path) =>
    checked.flatMap((rule) => {
      const problem = rule.check(path);
      return problem === null ? [] : [`[${rule.id}] ${path.name}: ${problem} (signals: ${types(path).join(" → ") || "none"})`];
    }),
  );
}
