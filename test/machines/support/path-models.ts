/**
 * How each flow of the catalogue is walked by the generated path tests: its labelled inputs
 * (settings and session variants that decide its guards), the events a client can send, and every
 * outcome of every named actor it invokes — each variant of the actor's output in
 * `machines/contracts.ts` / `machines/social-contracts.ts` that a guard or an action tells
 * apart, and its failure.
 */
import type { AnyStateMachine } from "xstate";
import { machines } from "../../../machines/index.ts";
import type { SocialLoginContext } from "../../../machines/index.ts";
import type { FlowSettings, PendingLogin, SendVerificationEmailOutput } from "../../../machines/contracts.ts";
import { Secret } from "../../../machines/secret.ts";
import type { UserRef } from "../../../machines/signals.ts";
import { address, confirmation, pendingLogin, settings, socialAccount, socialProfile, user } from "../support.ts";
import type { Outcome, PathModel, UserEvent } from "./paths.ts";

export type Slug = keyof typeof machines;

// ---- fixtures ----

const alice = user({ id: "u1", username: "alice", email: "alice@example.com" });
const aliceNoPassword = user({ id: "u1", hasUsablePassword: false });
const inactiveAlice = user({ id: "u1", isActive: false });
const bob = user({ id: "u2", username: "bob", email: "bob@example.com" });
const verifiedAddress = address({ id: "e1", userId: "u1", verified: true });
const unverifiedAddress = address({ id: "e1", userId: "u1", verified: false });
const otherAddress = address({ id: "e2", userId: "u1", email: "alice2@example.com", verified: true, primary: false });
const linkSent = confirmation(unverifiedAddress, "link");
const codeSent = confirmation(unverifiedAddress, "code");
const account = socialAccount({ id: "sa1", userId: "u1" });
const bobsAccount = socialAccount({ id: "sa2", userId: "u2" });
const failure = (code: string) => ({ label: code, error: { code } }) as const;
const done = (label: string, output: unknown): Outcome => ({ label, output });

// ---- inputs ----

type Dims = Record<string, ReadonlyArray<readonly [string, unknown]>>;

/** Every combination of the given dimensions, labelled `name=value, …`. */
function cartesian<T>(dims: Dims, build: (values: Record<string, unknown>) => T): Array<{ label: string; input: T }> {
  let combos: Array<{ labels: Array<string>; values: Record<string, unknown> }> = [{ labels: [], values: {} }];
  for (const [name, options] of Object.entries(dims)) {
    combos = combos.flatMap((combo) =>
      options.map(([label, value]) => ({ labels: [...combo.labels, `${name}=${label}`], values: { ...combo.values, [name]: value } })),
    );
  }
  return combos.map(({ labels, values }) => ({ label: labels.join(", "), input: build(values) }));
}

const verification = [["none", "none"], ["optional", "optional"], ["mandatory", "mandatory"]] as const;
const codeRequired = [["no", false], ["always", true], ["after-password", ["password"]]] as const;
const anonOrAlice = [["anonymous", null], ["alice", alice]] as const;

function flowSettings(values: Record<string, unknown>): FlowSettings {
  return settings({
    emailVerification: (values["verification"] as FlowSettings["emailVerification"] | undefined) ?? "optional",
    loginByCodeRequired: (values["codeRequired"] as FlowSettings["loginByCodeRequired"] | undefined) ?? false,
    preventEnumeration: (values["preventEnumeration"] as FlowSettings["preventEnumeration"] | undefined) ?? true,
    changeEmail: (values["changeEmail"] as boolean | undefined) ?? false,
    loginOnEmailConfirmation: (values["loginOnConfirmation"] as boolean | undefined) ?? false,
  });
}

const session = (values: Record<string, unknown>): UserRef | null => (values["session"] as UserRef | null | undefined) ?? null;

// ---- shared actor outcomes ----

const codeSentFirstLogin: SendVerificationEmailOutput = { sent: true, confirmation: codeSent, verificationId: "ev1", signup: true };

/** The login pipeline's actors (`login-pipeline.ts`). */
const pipeline = {
  sendLoginCode: [done("sent", { verificationId: "lc1" }), failure("unexpected")],
  sendVerificationEmail: [
    done("link-sent", { sent: true, confirmation: linkSent, verificationId: null }),
    done("code-sent", { sent: true, confirmation: codeSent, verificationId: "ev1" }),
    done("code-sent-first-login", codeSentFirstLogin),
    done("suppressed", { sent: false, confirmation: null, verificationId: null }),
    failure("unexpected"),
  ],
  startSession: [done("started", { user: alice }), failure("unexpected")],
} satisfies Record<string, ReadonlyArray<Outcome>>;

/** The pipeline after a code or a verification: its login-code stage is done (`codeVerified`). */
const { sendLoginCode: _codeStage, ...pipelineAfterCode } = pipeline;
void _codeStage;

/** The code-verification process's actors (`code-verification.ts`). */
const codeProcess = {
  checkCode: [
    done("right", { result: "right", verificationId: "ev1" }),
    done("incorrect", { result: "wrong", error: "incorrect_code", last: false }),
    done("required", { result: "wrong", error: "required", last: false }),
    done("incorrect-last", { result: "wrong", error: "incorrect_code", last: true }),
    done("gone", { result: "gone" }),
    failure("unexpected"),
  ],
  resendCode: [
    done("sent", { result: "sent", confirmation: codeSent, signup: false }),
    done("sent-no-mail", { result: "sent", confirmation: null, signup: false }),
    done("exhausted", { result: "exhausted" }),
    done("rate-limited", { result: "rate_limited" }),
    failure("unexpected"),
  ],
} satisfies Record<string, ReadonlyArray<Outcome>>;

const codeEvents: Array<UserEvent> = [
  { label: "CODE", event: { type: "CODE", code: new Secret("ABCD-EFGH") } },
  { label: "CODE(none)", event: { type: "CODE", code: null } },
  { label: "RESEND", event: { type: "RESEND" } },
];

const createdUser = [
  done("verified", { user: alice, emailAddress: verifiedAddress }),
  done("unverified", { user: alice, emailAddress: unverifiedAddress }),
  done("no-address", { user: alice, emailAddress: null }),
  done("inactive", { user: inactiveAlice, emailAddress: unverifiedAddress }),
];

const parkedLogin: PendingLogin = pendingLogin({ userId: "u1", signup: false, emailAddressId: "e1", method: "password" });
const parkedSignup: PendingLogin = pendingLogin({ userId: "u1", signup: true, emailAddressId: "e1", method: "password" });

// ---- the models ----

export const pathModels: Record<Slug, PathModel> = {
  signup: {
    machine: machines.signup,
    inputs: cartesian(
      {
        verification,
        codeRequired,
        preventEnumeration: [["on", true], ["off", false], ["strict", "strict"]],
        session: anonOrAlice,
      },
      (v) => ({ settings: flowSettings(v), sessionUser: session(v) }),
    ),
    userEvents: [{ label: "SUBMIT", event: { type: "SUBMIT", email: "alice@example.com", username: "alice", password: new Secret("pw-signup-1") } }],
    outcomes: {
      validateSignup: [
        done("fresh", { email: "alice@example.com", username: "alice", emailTaken: false }),
        done("taken", { email: "alice@example.com", username: "alice", emailTaken: true }),
        failure("username_taken"),
      ],
      createUser: [...createdUser, failure("email_taken"), failure("username_taken")],
      sendAccountExistsMail: [done("sent", undefined), failure("unexpected")],
      ...pipeline,
    },
  },

  login: {
    machine: machines.login,
    inputs: cartesian({ verification, codeRequired, session: anonOrAlice }, (v) => ({ settings: flowSettings(v), sessionUser: session(v) })),
    userEvents: [{ label: "SUBMIT", event: { type: "SUBMIT", email: "alice@example.com", username: null, password: new Secret("pw-login-1") } }],
    outcomes: {
      authenticatePassword: [
        done("by-email-verified", { user: alice, emailAddress: verifiedAddress, hasVerifiedEmail: true }),
        done("by-email-unverified", { user: alice, emailAddress: unverifiedAddress, hasVerifiedEmail: false }),
        done("by-username-verified", { user: alice, emailAddress: null, hasVerifiedEmail: true }),
        done("by-username-unverified", { user: alice, emailAddress: null, hasVerifiedEmail: false }),
        done("inactive", { user: inactiveAlice, emailAddress: verifiedAddress, hasVerifiedEmail: true }),
        failure("invalid_login"),
      ],
      ...pipeline,
    },
  },

  logout: {
    machine: machines.logout,
    inputs: cartesian({ session: anonOrAlice }, (v) => ({ settings: settings(), sessionUser: session(v) })),
    userEvents: [{ label: "LOGOUT", event: { type: "LOGOUT" } }],
    outcomes: { endSession: [done("ended", undefined), failure("unexpected")] },
  },

  "email-verification": {
    machine: machines["email-verification"],
    answerOnly: ["error"],
    unreachable: {
      "email-verification.sendingLoginCode": "a parked login reaches verification only after its login-code stage: codeVerified is set on confirmation",
      "email-verification.codePending": "as sendingLoginCode: the login-code stage never runs again after a verification",
    },
    inputs: [
      ...cartesian(
        {
          mode: [["link", "link"]],
          parked: [["none", null], ["login", parkedLogin], ["signup", parkedSignup], ["bobs", pendingLogin({ userId: "u2" })]],
          session: anonOrAlice,
          loginOnConfirmation: [["yes", true], ["no", false]],
          changeEmail: [["yes", true], ["no", false]],
          verification: [["optional", "optional"], ["mandatory", "mandatory"]],
        },
        emailVerificationInput,
      ),
      // Code mode always resumes a parked login: `loginOnEmailConfirmation` plays no part.
      ...cartesian(
        {
          mode: [["code", "code"]],
          parked: [["none", null], ["login", parkedLogin], ["signup", parkedSignup], ["bobs", pendingLogin({ userId: "u2" })]],
          session: anonOrAlice,
          changeEmail: [["yes", true], ["no", false]],
          verification: [["optional", "optional"], ["mandatory", "mandatory"]],
        },
        emailVerificationInput,
      ),
    ],
    userEvents: [{ label: "VERIFY", event: { type: "VERIFY", key: new Secret("key-1") } }, ...codeEvents],
    outcomes: {
      confirmEmailKey: [
        done("confirmed", { user: alice, emailAddress: verifiedAddress, fromEmailAddress: null, added: false }),
        done("other-address", { user: alice, emailAddress: otherAddress, fromEmailAddress: verifiedAddress, added: false }),
        done("inactive-user", { user: inactiveAlice, emailAddress: verifiedAddress, fromEmailAddress: null, added: false }),
        failure("invalid_or_expired_key"),
      ],
      confirmEmailCode: [
        done("confirmed", { user: alice, emailAddress: verifiedAddress, fromEmailAddress: null, added: false }),
        done("added", { user: alice, emailAddress: otherAddress, fromEmailAddress: verifiedAddress, added: true }),
        done("inactive-user", { user: inactiveAlice, emailAddress: verifiedAddress, fromEmailAddress: null, added: false }),
        failure("email_taken"),
      ],
      ...codeProcess,
      ...pipelineAfterCode,
    },
  },

  "password-change": passwordFlowModel(machines["password-change"]),
  "password-set": passwordFlowModel(machines["password-set"]),

  "manage-email": {
    machine: machines["manage-email"],
    inputs: cartesian({ session: anonOrAlice, reauth: [["due", true], ["recent", false]] }, (v) => ({
      settings: settings(),
      sessionUser: session(v),
      needsReauthentication: v["reauth"],
    })),
    userEvents: [
      { label: "ADD", event: { type: "ADD", email: "alice2@example.com" } },
      { label: "REMOVE", event: { type: "REMOVE", email: "alice2@example.com" } },
      { label: "MARK_PRIMARY", event: { type: "MARK_PRIMARY", email: "alice2@example.com" } },
      { label: "RESEND", event: { type: "RESEND", email: "alice2@example.com" } },
      { label: "CHANGE", event: { type: "CHANGE", email: "alice3@example.com", userId: "u1", current: "alice@example.com" } },
    ],
    outcomes: {
      checkEmail: [done("ok", undefined), failure("duplicate_email")],
      addEmail: [
        done("link", { emailAddress: otherAddress, confirmation: linkSent, verificationId: null }),
        done("link-no-mail", { emailAddress: otherAddress, confirmation: null, verificationId: null }),
        done("code", { emailAddress: null, confirmation: codeSent, verificationId: "ev2" }),
        failure("max_email_addresses"),
      ],
      removeEmail: [done("removed", { user: alice, emailAddress: otherAddress }), failure("cannot_remove_primary_email")],
      markPrimary: [
        done("swapped", { user: alice, fromEmailAddress: verifiedAddress, toEmailAddress: otherAddress }),
        done("first-primary", { user: alice, fromEmailAddress: null, toEmailAddress: otherAddress }),
        failure("unverified_primary_email"),
      ],
      resendVerification: [
        done("sent", { sent: true, confirmation: linkSent, verificationId: null }),
        done("cooldown", { sent: false, confirmation: null, verificationId: null }),
        failure("unknown_email_address"),
      ],
      changePendingEmail: [
        done("sent", { emailAddress: otherAddress, confirmation: codeSent, verificationId: "ev3", signup: true }),
        done("hidden", { emailAddress: null, confirmation: null, verificationId: null, signup: true }),
        failure("email_taken"),
      ],
    },
  },

  reauthenticate: {
    machine: machines.reauthenticate,
    inputs: cartesian({ session: anonOrAlice }, (v) => ({ settings: settings(), sessionUser: session(v) })),
    userEvents: [{ label: "SUBMIT", event: { type: "SUBMIT", password: new Secret("pw-reauth-1") } }],
    outcomes: { reauthenticate: [done("ok", undefined), failure("incorrect_password")] },
  },

  "user-sessions": {
    machine: machines["user-sessions"],
    inputs: cartesian({ session: anonOrAlice, current: [["7", 7], ["unknown", null]] }, (v) => ({
      settings: settings(),
      sessionUser: session(v),
      currentSessionId: v["current"],
    })),
    userEvents: [
      { label: "END(others)", event: { type: "END", sessionIds: [1, 2] } },
      { label: "END(current)", event: { type: "END", sessionIds: [1, 7] } },
    ],
    outcomes: { endSessions: [done("ended", undefined), failure("unexpected")] },
  },

  "password-reset": {
    machine: machines["password-reset"],
    answerOnly: ["error", "passwordError"],
    inputs: [
      ...cartesian(
        {
          mode: [["link", "link"], ["code", "code"]],
          loginOnReset: [["yes", true]],
          session: [["anonymous", null], ["alice", alice], ["bob", bob]],
          verification,
          codeRequired: [["no", false], ["always", true]],
        },
        passwordResetInput,
      ),
      // Without a login after the reset, the login settings play no part.
      ...cartesian(
        { mode: [["link", "link"], ["code", "code"]], loginOnReset: [["no", false]], session: [["anonymous", null], ["alice", alice], ["bob", bob]] },
        passwordResetInput,
      ),
    ],
    userEvents: [
      { label: "REQUEST", event: { type: "REQUEST", email: "alice@example.com" } },
      { label: "RESET", event: { type: "RESET", key: new Secret("reset-key"), password: new Secret("pw-new-1") } },
      { label: "RESET(no password)", event: { type: "RESET", key: new Secret("reset-key"), password: null } },
      ...codeEvents,
    ],
    outcomes: {
      requestPasswordReset: [done("known", { verificationId: "pr1" }), done("unknown", { verificationId: null }), failure("invalid")],
      checkResetKey: [
        done("verified", { user: alice, verificationId: "pr1", emailAddress: verifiedAddress }),
        done("unverified", { user: alice, verificationId: "pr1", emailAddress: unverifiedAddress }),
        done("no-address", { user: alice, verificationId: "pr1", emailAddress: null }),
        failure("invalid_password_reset"),
      ],
      // A code checked before (GET) verified the address already: it cannot be verified now again.
      confirmResetCode: (snapshot) => [
        ...(snapshot.context.emailAddress === null ? [done("verified-now", { user: alice, emailAddress: verifiedAddress, verifiedNow: true })] : []),
        done("was-verified", { user: alice, emailAddress: verifiedAddress, verifiedNow: false }),
        failure("unexpected"),
      ],
      hashNewPassword: [done("hashed", { passwordHash: new Secret("hash") }), failure("password_too_short")],
      resetPassword: [done("reset", { user: alice }), done("reset-inactive", { user: inactiveAlice }), failure("unexpected")],
      ...codeProcess,
      ...pipeline,
    },
  },

  "login-by-code": {
    machine: machines["login-by-code"],
    answerOnly: ["error"],
    unreachable: {
      "login-by-code.sendingLoginCode": "the code is the login-code stage: codeVerified is set before the pipeline, which never mails another code",
      "login-by-code.codePending": "as sendingLoginCode: a confirmed code never waits for another code",
    },
    inputs: [
      ...cartesian({ stage: [["none", null]], session: anonOrAlice, verification }, (v) => ({
        settings: flowSettings(v),
        sessionUser: session(v),
        stage: null,
      })),
      // A parked login only exists in an anonymous session.
      ...cartesian({ stage: [["login", parkedLogin], ["signup", parkedSignup]], session: [["anonymous", null]], verification }, (v) => ({
        settings: flowSettings({ ...v, codeRequired: true }),
        sessionUser: null,
        stage: { login: v["stage"], verificationId: "lc1" },
      })),
    ],
    userEvents: [{ label: "REQUEST", event: { type: "REQUEST", email: "alice@example.com" } }, ...codeEvents],
    outcomes: {
      requestLoginCode: [done("sent", { verificationId: "lc1" }), failure("invalid")],
      confirmLoginCode: [
        done("verified-now", { user: alice, emailAddress: verifiedAddress, verifiedNow: true }),
        done("was-verified", { user: alice, emailAddress: verifiedAddress, verifiedNow: false }),
        // Verified elsewhere meanwhile (unique email): the code could not verify it.
        done("still-unverified", { user: alice, emailAddress: unverifiedAddress, verifiedNow: false }),
        done("inactive", { user: inactiveAlice, emailAddress: verifiedAddress, verifiedNow: false }),
        failure("unexpected"),
      ],
      ...codeProcess,
      ...pipelineAfterCode,
    },
  },

  "social-login": {
    machine: machines["social-login"],
    inputs: [
      ...cartesian(
        {
          process: [["login", "login"]],
          session: [["anonymous", null], ["alice", alice], ["bob", bob]],
          open: [["open", true], ["closed", false]],
          autoConnect: [["yes", true], ["no", false]],
          verification,
          codeRequired: [["no", false], ["always", true]],
        },
        (v) => socialInput(v),
      ),
      ...cartesian(
        { process: [["connect", "connect"]], session: [["anonymous", null], ["alice", alice], ["bob", bob]], reauth: [["due", true], ["recent", false]] },
        (v) => socialInput(v),
      ),
    ],
    userEvents: [{ label: "COMPLETE", event: { type: "COMPLETE", profile: socialProfile() } }],
    outcomes: {
      lookupSocialAccount: [
        done("alices-account", { account, user: alice, byEmail: null, hasVerifiedEmail: true }),
        done("bobs-account", { account: bobsAccount, user: bob, byEmail: null, hasVerifiedEmail: true }),
        done("email-match", { account: null, user: alice, byEmail: "alice@example.com", hasVerifiedEmail: false }),
        done("new-person", { account: null, user: null, byEmail: null, hasVerifiedEmail: false }),
        failure("unexpected"),
      ],
      runPreSocialLogin: [done("continue", { kind: "continue" }), done("abort", { kind: "abort" }), done("connect", { kind: "connect", user: alice }), failure("unexpected")],
      connectAccount: [done("stored", { account, hasVerifiedEmail: true }), failure("connected_other")],
      logOutFirst: [done("ended", undefined), failure("unexpected")],
      // The account is stored (and announced) exactly when the flow asks for auto-connect.
      acceptLogin: (snapshot) => {
        const { account: stored, byEmail, social } = snapshot.context as SocialLoginContext;
        const connect = stored === null && byEmail !== null && social.emailAuthenticationAutoConnect;
        return [connect ? done("auto-connected", { user: alice, added: account }) : done("accepted", { user: alice, added: null }), failure("unexpected")];
      },
      assessSocialSignup: [
        done("auto", { decision: "auto", email: "alice@example.com" }),
        done("form", { decision: "form", email: null }),
        done("hidden", { decision: "hidden", email: "alice@example.com" }),
        failure("unexpected"),
      ],
      createSocialUser: [
        done("verified", { user: alice, account, emailAddress: verifiedAddress }),
        done("unverified", { user: alice, account, emailAddress: unverifiedAddress }),
        done("no-address", { user: alice, account, emailAddress: null }),
        done("inactive", { user: inactiveAlice, account, emailAddress: verifiedAddress }),
        failure("unexpected"),
      ],
      sendAccountExistsMail: [done("sent", undefined), failure("unexpected")],
      ...pipeline,
    },
  },

  "provider-signup": {
    machine: machines["provider-signup"],
    inputs: cartesian({ verification, codeRequired }, (v) => ({ settings: flowSettings(v), sessionUser: null, profile: socialProfile() })),
    userEvents: [{ label: "SUBMIT", event: { type: "SUBMIT", email: "alice@example.com", username: "alice" } }],
    outcomes: {
      validateProviderSignup: [
        done("valid", { email: "alice@example.com", username: "alice", hidden: false }),
        done("hidden", { email: "alice@example.com", username: "alice", hidden: true }),
        failure("email_taken"),
      ],
      createSocialUser: [
        done("verified", { user: alice, account, emailAddress: verifiedAddress }),
        done("unverified", { user: alice, account, emailAddress: unverifiedAddress }),
        done("no-address", { user: alice, account, emailAddress: null }),
        done("inactive", { user: inactiveAlice, account, emailAddress: verifiedAddress }),
        failure("username_taken"),
      ],
      sendAccountExistsMail: [done("sent", undefined), failure("unexpected")],
      ...pipeline,
    },
  },

  "social-disconnect": {
    machine: machines["social-disconnect"],
    inputs: cartesian({ session: anonOrAlice, reauth: [["due", true], ["recent", false]] }, (v) => ({
      settings: settings(),
      sessionUser: session(v),
      needsReauthentication: v["reauth"],
    })),
    userEvents: [{ label: "DISCONNECT", event: { type: "DISCONNECT", provider: "dummy", uid: "100" } }],
    outcomes: {
      checkDisconnect: [done("allowed", undefined), failure("no_password")],
      removeSocialAccount: [done("removed", { account }), failure("account_not_found")],
    },
  },
};

function passwordFlowModel(machine: AnyStateMachine): PathModel {
  return {
    machine,
    inputs: cartesian(
      {
        session: [["anonymous", null], ["with-password", alice], ["without-password", aliceNoPassword]],
        logout: [["yes", true], ["no", false]],
      },
      (v) => ({ settings: settings(), sessionUser: session(v), logoutOnPasswordChange: v["logout"] }),
    ),
    userEvents: [{ label: "SUBMIT", event: { type: "SUBMIT", currentPassword: new Secret("pw-old-1"), newPassword: new Secret("pw-new-1") } }],
    outcomes: {
      savePassword: [done("saved", { user: alice }), failure("incorrect_password")],
      endSession: [done("ended", undefined), failure("unexpected")],
    },
  };
}

function passwordResetInput(v: Record<string, unknown>) {
  return { settings: flowSettings(v), sessionUser: session(v), mode: v["mode"], loginOnPasswordReset: v["loginOnReset"] };
}

function emailVerificationInput(v: Record<string, unknown>) {
  return {
    settings: flowSettings(v),
    sessionUser: session(v),
    mode: v["mode"],
    pendingLogin: v["parked"],
    verificationId: v["mode"] === "code" ? "ev1" : null,
  };
}

function socialInput(v: Record<string, unknown>) {
  return {
    settings: flowSettings(v),
    sessionUser: session(v),
    process: v["process"],
    social: { autoSignup: true, emailRequired: false, emailAuthenticationAutoConnect: (v["autoConnect"] as boolean | undefined) ?? false },
    openForSignup: (v["open"] as boolean | undefined) ?? true,
    needsReauthentication: (v["reauth"] as boolean | undefined) ?? false,
  };
}
