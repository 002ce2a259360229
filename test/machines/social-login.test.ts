import { describe, expect } from "vitest";
import type { FlowSettings } from "../../machines/contracts.ts";
import type { LookupOutput, SocialSettings } from "../../machines/social-contracts.ts";
import { socialLoginMachine } from "../../machines/social-login.ts";
import type { SocialLoginInput, SocialProcess } from "../../machines/social-login.ts";
import type { SocialLoginRef, UserRef } from "../../machines/signals.ts";
import {
  address,
  confirmation,
  deferred,
  fail,
  scenarios,
  sent,
  settings,
  socialAccount,
  socialProfile,
  startFlow,
  suppressed,
  tagsOf,
  user,
} from "./support.ts";
import type { Fakes } from "./support.ts";

const s = scenarios();

const alice = user({ id: "u1", username: "alice", email: "alice@example.com" });
const bob = user({ id: "u2", username: "bob", email: "bob@example.com" });
const profile = socialProfile();
const account = socialAccount({ id: "sa1", userId: "u1" });
const bobsAccount = socialAccount({ id: "sa2", userId: "u2" });
const verifiedPrimary = address({ id: "e1", userId: "u1", email: "alice@example.com", verified: true });
const unverifiedPrimary = address({ id: "e1", userId: "u1", email: "alice@example.com", verified: false });

/** The social login as signals carry it: a new person, a known user, a just-signed-up user. */
const newcomer: SocialLoginRef = { provider: "dummy", uid: "100", userId: null, isExisting: false };
const existing: SocialLoginRef = { provider: "dummy", uid: "100", userId: "u1", isExisting: true };
const signedUp: SocialLoginRef = { provider: "dummy", uid: "100", userId: "u1", isExisting: true };

const nobody: LookupOutput = { account: null, user: null, byEmail: null, hasVerifiedEmail: false };
const connected: LookupOutput = { account, user: alice, byEmail: null, hasVerifiedEmail: true };
const connectedToBob: LookupOutput = { account: bobsAccount, user: bob, byEmail: null, hasVerifiedEmail: true };
const matchedByEmail: LookupOutput = { account: null, user: alice, byEmail: "alice@example.com", hasVerifiedEmail: true };

function socialSettings(overrides: Partial<SocialSettings> = {}): SocialSettings {
  return { autoSignup: true, emailRequired: false, emailAuthenticationAutoConnect: false, ...overrides };
}

/** Happy-path fakes for a new person: nothing found, receivers go on, an automatic signup. */
function fakes(overrides: Fakes = {}): Fakes {
  return {
    lookupSocialAccount: () => nobody,
    runPreSocialLogin: () => ({ kind: "continue" }),
    connectAccount: ({ userId }) => ({ account: socialAccount({ userId }), hasVerifiedEmail: true }),
    logOutFirst: () => undefined,
    acceptLogin: () => ({ user: alice, added: null }),
    assessSocialSignup: () => ({ decision: "auto", email: "alice@example.com" }),
    createSocialUser: () => ({ user: alice, account, emailAddress: verifiedPrimary }),
    sendAccountExistsMail: () => undefined,
    sendVerificationEmail: () => sent(confirmation(unverifiedPrimary)),
    startSession: () => ({ user: alice }),
    sendLoginCode: () => ({ verificationId: "lc-1" }),
    ...overrides,
  };
}

interface Options {
  readonly process?: SocialProcess;
  readonly settings?: FlowSettings;
  readonly social?: SocialSettings;
  readonly sessionUser?: UserRef | null;
  readonly openForSignup?: boolean;
  readonly needsReauthentication?: boolean;
}

/** A login (by default anonymous, signup open, allauth's defaults) or a connect. */
function inputOf(options: Options = {}): SocialLoginInput {
  return {
    settings: options.settings ?? settings(),
    sessionUser: options.sessionUser ?? null,
    process: options.process ?? "login",
    social: options.social ?? socialSettings(),
    openForSignup: options.openForSignup ?? true,
    needsReauthentication: options.needsReauthentication ?? false,
  };
}

async function complete(fakeActors: Fakes, options: Options = {}) {
  const flow = await startFlow(socialLoginMachine, { input: inputOf(options), fakes: fakeActors });
  expect(flow.snapshot().value).toBe("idle");
  const snapshot = await flow.send({ type: "COMPLETE", profile });
  return { flow, snapshot };
}

/** The login a known user's social login hands to the pipeline. */
const existingLogin = { userId: "u1", signup: false, emailAddressId: null, method: "socialaccount", socialLogin: existing };
/** The login a social signup hands to the pipeline. */
const signupLogin = {
  userId: "u1",
  signup: true,
  emailAddressId: "e1",
  method: "socialaccount",
  socialLogin: signedUp,
  email: "alice@example.com",
};

describe("social login of a new person (automatic signup)", () => {
  s.it("with a provider-verified email: pre_social_login → user_signed_up → user_logged_in, both with the social login", async () => {
    const { flow, snapshot } = await complete(fakes());
    expect(snapshot.value).toBe("loggedIn");
    expect(snapshot.status).toBe("done");
    expect(tagsOf(snapshot)).toEqual(["authenticated"]);
    expect(flow.signalTypes()).toEqual(["pre_social_login", "user_signed_up", "user_logged_in"]);
    expect(flow.signals).toEqual([
      { type: "pre_social_login", socialLogin: newcomer },
      { type: "user_signed_up", user: alice, socialLogin: signedUp },
      { type: "user_logged_in", user: alice, socialLogin: signedUp },
    ]);
    expect(flow.timeline).toEqual([
      "actor:lookupSocialAccount",
      "signal:pre_social_login",
      "actor:runPreSocialLogin",
      "actor:assessSocialSignup",
      "actor:createSocialUser",
      "signal:user_signed_up",
      "actor:startSession",
      "signal:user_logged_in",
    ]);
    expect(flow.calls("lookupSocialAccount")).toEqual([profile]);
    expect(flow.calls("runPreSocialLogin")).toEqual([newcomer]);
    expect(flow.calls("assessSocialSignup")).toEqual([profile]);
    expect(flow.calls("createSocialUser")).toEqual([{ email: "alice@example.com", username: "alice" }]);
    expect(flow.calls("startSession")).toEqual([{ userId: "u1", login: signupLogin }]);
    expect(flow.calls("sendVerificationEmail")).toEqual([]);
    expect(snapshot.context.sessionUser).toEqual(alice);
    expect(snapshot.context.account).toEqual(account);
    expect(snapshot.context.error).toBeNull();
  });

  s.it("never emits social_account_added and never calls connectAccount or logOutFirst on a signup", async () => {
    const { flow } = await complete(fakes());
    expect(flow.signalTypes()).not.toContain("social_account_added");
    expect(flow.signalTypes()).not.toContain("social_account_updated");
    expect(flow.calls("connectAccount")).toEqual([]);
    expect(flow.calls("logOutFirst")).toEqual([]);
    expect(flow.calls("acceptLogin")).toEqual([]);
  });

  s.it("with an unverified email under mandatory verification: pre_social_login → user_signed_up → email_confirmation_sent(signup) and parks", async () => {
    const { flow, snapshot } = await complete(
      fakes({
        createSocialUser: () => ({ user: alice, account, emailAddress: unverifiedPrimary }),
        sendVerificationEmail: () => sent(confirmation(unverifiedPrimary), "ver-3"),
      }),
      { settings: settings({ emailVerification: "mandatory" }) },
    );
    expect(snapshot.value).toBe("verificationPending");
    expect(tagsOf(snapshot)).toEqual(["pending:verify_email"]);
    expect(flow.signals).toEqual([
      { type: "pre_social_login", socialLogin: newcomer },
      { type: "user_signed_up", user: alice, socialLogin: signedUp },
      { type: "email_confirmation_sent", confirmation: confirmation(unverifiedPrimary), signup: true },
    ]);
    expect(flow.calls("sendVerificationEmail")).toEqual([{ userId: "u1", emailAddressId: "e1", signup: true }]);
    expect(flow.calls("startSession")).toEqual([]);
    expect(snapshot.context.verificationId).toBe("ver-3");
    expect(snapshot.context.login).toEqual(signupLogin);
  });

  s.it("with an unverified email under mandatory verification and the mail held back, emits no mail signal and still parks", async () => {
    const { flow, snapshot } = await complete(
      fakes({ createSocialUser: () => ({ user: alice, account, emailAddress: unverifiedPrimary }), sendVerificationEmail: () => suppressed }),
      { settings: settings({ emailVerification: "mandatory" }) },
    );
    expect(snapshot.value).toBe("verificationPending");
    expect(tagsOf(snapshot)).toEqual(["pending:verify_email"]);
    expect(flow.signalTypes()).toEqual(["pre_social_login", "user_signed_up"]);
    expect(flow.calls("sendVerificationEmail")).toHaveLength(1);
    expect(flow.calls("startSession")).toEqual([]);
  });

  s.it("with an unverified email under optional verification: the mail is offered, then user_logged_in", async () => {
    const { flow, snapshot } = await complete(
      fakes({ createSocialUser: () => ({ user: alice, account, emailAddress: unverifiedPrimary }) }),
      { settings: settings({ emailVerification: "optional" }) },
    );
    expect(snapshot.value).toBe("loggedIn");
    expect(tagsOf(snapshot)).toEqual(["authenticated"]);
    expect(flow.signals).toEqual([
      { type: "pre_social_login", socialLogin: newcomer },
      { type: "user_signed_up", user: alice, socialLogin: signedUp },
      { type: "email_confirmation_sent", confirmation: confirmation(unverifiedPrimary), signup: true },
      { type: "user_logged_in", user: alice, socialLogin: signedUp },
    ]);
  });

  s.it("without any email: the signup login carries no address and no email", async () => {
    const { flow, snapshot } = await complete(
      fakes({
        assessSocialSignup: () => ({ decision: "auto", email: null }),
        createSocialUser: () => ({ user: { ...alice, email: null }, account, emailAddress: null }),
      }),
      { settings: settings({ emailVerification: "none" }) },
    );
    expect(snapshot.value).toBe("loggedIn");
    expect(flow.signalTypes()).toEqual(["pre_social_login", "user_signed_up", "user_logged_in"]);
    expect(flow.calls("createSocialUser")).toEqual([{ email: null, username: "alice" }]);
    expect(flow.calls("startSession")).toEqual([
      { userId: "u1", login: { userId: "u1", signup: true, emailAddressId: null, method: "socialaccount", socialLogin: signedUp } },
    ]);
  });

  s.it("when the provider signup form is needed: only pre_social_login, pending:provider_signup, no user created", async () => {
    const { flow, snapshot } = await complete(fakes({ assessSocialSignup: () => ({ decision: "form", email: null }) }));
    expect(snapshot.value).toBe("signupPending");
    expect(snapshot.status).toBe("done");
    expect(tagsOf(snapshot)).toEqual(["pending:provider_signup"]);
    expect(flow.signals).toEqual([{ type: "pre_social_login", socialLogin: newcomer }]);
    expect(flow.calls("createSocialUser")).toEqual([]);
    expect(flow.calls("startSession")).toEqual([]);
  });

  s.it("with a taken address hidden by enumeration prevention: the account-exists mail and the fake verification stage, no user_signed_up", async () => {
    const { flow, snapshot } = await complete(
      fakes({ assessSocialSignup: () => ({ decision: "hidden", email: "alice@example.com" }) }),
      { settings: settings({ emailVerification: "mandatory" }) },
    );
    expect(snapshot.value).toBe("verificationPending");
    expect(tagsOf(snapshot)).toEqual(["pending:verify_email"]);
    expect(flow.signals).toEqual([{ type: "pre_social_login", socialLogin: newcomer }]);
    expect(flow.timeline).toEqual([
      "actor:lookupSocialAccount",
      "signal:pre_social_login",
      "actor:runPreSocialLogin",
      "actor:assessSocialSignup",
      "actor:sendAccountExistsMail",
    ]);
    expect(flow.calls("sendAccountExistsMail")).toEqual([{ email: "alice@example.com" }]);
    expect(flow.calls("createSocialUser")).toEqual([]);
    expect(flow.calls("sendVerificationEmail")).toEqual([]);
    expect(snapshot.context.user).toBeNull();
    expect(snapshot.context.sessionUser).toBeNull();
  });

  s.it("with signup closed: pre_social_login only, then signup_closed without assessing the signup", async () => {
    const { flow, snapshot } = await complete(fakes(), { openForSignup: false });
    expect(snapshot.value).toBe("signupClosed");
    expect(snapshot.status).toBe("done");
    expect(tagsOf(snapshot)).toEqual(["signup_closed"]);
    expect(flow.signals).toEqual([{ type: "pre_social_login", socialLogin: newcomer }]);
    expect(flow.calls("assessSocialSignup")).toEqual([]);
    expect(flow.calls("createSocialUser")).toEqual([]);
  });

  s.it("with signup closed while somebody is logged in: the session's user is logged out first, then signup_closed", async () => {
    const { flow, snapshot } = await complete(fakes(), { openForSignup: false, sessionUser: bob });
    expect(tagsOf(snapshot)).toEqual(["signup_closed"]);
    expect(flow.signals).toEqual([
      { type: "pre_social_login", socialLogin: newcomer },
      { type: "user_logged_out", user: bob },
    ]);
    expect(flow.calls("logOutFirst")).toEqual([bob]);
  });

  s.it("for a new user created inactive: pre_social_login → user_signed_up, then inactive", async () => {
    const { flow, snapshot } = await complete(
      fakes({ createSocialUser: () => ({ user: { ...alice, isActive: false }, account, emailAddress: verifiedPrimary }) }),
    );
    expect(snapshot.value).toBe("inactive");
    expect(tagsOf(snapshot)).toEqual(["inactive"]);
    expect(flow.signalTypes()).toEqual(["pre_social_login", "user_signed_up"]);
    expect(flow.calls("startSession")).toEqual([]);
  });
});

describe("social login of a known user", () => {
  s.it("with a connected account: social_account_updated → pre_social_login → user_logged_in(socialLogin)", async () => {
    const { flow, snapshot } = await complete(fakes({ lookupSocialAccount: () => connected }));
    expect(snapshot.value).toBe("loggedIn");
    expect(tagsOf(snapshot)).toEqual(["authenticated"]);
    expect(flow.signals).toEqual([
      { type: "social_account_updated", socialLogin: existing },
      { type: "pre_social_login", socialLogin: existing },
      { type: "user_logged_in", user: alice, socialLogin: existing },
    ]);
    expect(flow.timeline).toEqual([
      "actor:lookupSocialAccount",
      "signal:social_account_updated",
      "signal:pre_social_login",
      "actor:runPreSocialLogin",
      "actor:acceptLogin",
      "actor:startSession",
      "signal:user_logged_in",
    ]);
    expect(flow.calls("acceptLogin")).toEqual([{ userId: "u1", byEmail: null, connect: false }]);
    expect(flow.calls("startSession")).toEqual([{ userId: "u1", login: existingLogin }]);
    expect(flow.calls("logOutFirst")).toEqual([]);
    expect(flow.calls("assessSocialSignup")).toEqual([]);
  });

  s.it("while another user is logged in: social_account_updated → pre_social_login → user_logged_out(other) → user_logged_in", async () => {
    const { flow, snapshot } = await complete(fakes({ lookupSocialAccount: () => connected }), { sessionUser: bob });
    expect(snapshot.value).toBe("loggedIn");
    expect(tagsOf(snapshot)).toEqual(["authenticated"]);
    expect(flow.signals).toEqual([
      { type: "social_account_updated", socialLogin: existing },
      { type: "pre_social_login", socialLogin: existing },
      { type: "user_logged_out", user: bob },
      { type: "user_logged_in", user: alice, socialLogin: existing },
    ]);
    // The signal goes out while the session still holds bob; the logout follows.
    expect(flow.timeline).toEqual([
      "actor:lookupSocialAccount",
      "signal:social_account_updated",
      "signal:pre_social_login",
      "actor:runPreSocialLogin",
      "signal:user_logged_out",
      "actor:logOutFirst",
      "actor:acceptLogin",
      "actor:startSession",
      "signal:user_logged_in",
    ]);
    expect(flow.calls("logOutFirst")).toEqual([bob]);
    expect(snapshot.context.sessionUser).toEqual(alice);
  });

  s.it("while the same user is logged in: still logged out first, then logged in again", async () => {
    const { flow, snapshot } = await complete(fakes({ lookupSocialAccount: () => connected }), { sessionUser: alice });
    expect(tagsOf(snapshot)).toEqual(["authenticated"]);
    expect(flow.signalTypes()).toEqual(["social_account_updated", "pre_social_login", "user_logged_out", "user_logged_in"]);
    expect(flow.signals[2]).toEqual({ type: "user_logged_out", user: alice });
    expect(flow.calls("logOutFirst")).toEqual([alice]);
  });

  s.it("by email authentication without auto-connect: pre_social_login → user_logged_in, nothing added", async () => {
    const { flow, snapshot } = await complete(fakes({ lookupSocialAccount: () => matchedByEmail }));
    expect(snapshot.value).toBe("loggedIn");
    expect(tagsOf(snapshot)).toEqual(["authenticated"]);
    expect(flow.signalTypes()).toEqual(["pre_social_login", "user_logged_in"]);
    expect(flow.signals[0]).toMatchObject({ type: "pre_social_login", socialLogin: { provider: "dummy", uid: "100", userId: "u1" } });
    expect(flow.signals[1]).toMatchObject({ type: "user_logged_in", user: alice, socialLogin: { userId: "u1" } });
    expect(flow.calls("acceptLogin")).toEqual([{ userId: "u1", byEmail: "alice@example.com", connect: false }]);
    expect(flow.calls("connectAccount")).toEqual([]);
    expect(snapshot.context.account).toBeNull();
  });

  s.it("by email authentication: pre_social_login carries the matched user as an existing social login", async () => {
    const { flow } = await complete(fakes({ lookupSocialAccount: () => matchedByEmail }));
    expect(flow.signalTypes()).toEqual(["pre_social_login", "user_logged_in"]);
    expect(flow.signals[0]).toEqual({ type: "pre_social_login", socialLogin: existing });
    expect(flow.calls("runPreSocialLogin")).toEqual([existing]);
  });

  s.it("by email authentication with auto-connect: pre_social_login → social_account_added → user_logged_in", async () => {
    const { flow, snapshot } = await complete(
      fakes({ lookupSocialAccount: () => matchedByEmail, acceptLogin: () => ({ user: alice, added: account }) }),
      { social: socialSettings({ emailAuthenticationAutoConnect: true }) },
    );
    expect(snapshot.value).toBe("loggedIn");
    expect(tagsOf(snapshot)).toEqual(["authenticated"]);
    expect(flow.signalTypes()).toEqual(["pre_social_login", "social_account_added", "user_logged_in"]);
    expect(flow.signals[1]).toMatchObject({ type: "social_account_added", socialLogin: { provider: "dummy", uid: "100", userId: "u1" } });
    expect(flow.timeline).toEqual([
      "actor:lookupSocialAccount",
      "signal:pre_social_login",
      "actor:runPreSocialLogin",
      "actor:acceptLogin",
      "signal:social_account_added",
      "actor:startSession",
      "signal:user_logged_in",
    ]);
    expect(flow.calls("acceptLogin")).toEqual([{ userId: "u1", byEmail: "alice@example.com", connect: true }]);
    expect(snapshot.context.account).toEqual(account);
  });

  s.it("with a connected account and auto-connect on: no email authentication, nothing to connect", async () => {
    const { flow } = await complete(fakes({ lookupSocialAccount: () => connected }), {
      social: socialSettings({ emailAuthenticationAutoConnect: true }),
    });
    expect(flow.signalTypes()).toEqual(["social_account_updated", "pre_social_login", "user_logged_in"]);
    expect(flow.calls("acceptLogin")).toEqual([{ userId: "u1", byEmail: null, connect: false }]);
  });

  s.it("with signup closed: a connected account still logs in", async () => {
    const { flow, snapshot } = await complete(fakes({ lookupSocialAccount: () => connected }), { openForSignup: false });
    expect(tagsOf(snapshot)).toEqual(["authenticated"]);
    expect(flow.signalTypes()).toEqual(["social_account_updated", "pre_social_login", "user_logged_in"]);
  });

  s.it("for an inactive user: social_account_updated → pre_social_login, then inactive", async () => {
    const { flow, snapshot } = await complete(
      fakes({ lookupSocialAccount: () => connected, acceptLogin: () => ({ user: { ...alice, isActive: false }, added: null }) }),
    );
    expect(snapshot.value).toBe("inactive");
    expect(snapshot.status).toBe("done");
    expect(tagsOf(snapshot)).toEqual(["inactive"]);
    expect(flow.signalTypes()).toEqual(["social_account_updated", "pre_social_login"]);
    expect(flow.calls("startSession")).toEqual([]);
    expect(flow.calls("sendVerificationEmail")).toEqual([]);
  });

  s.it("under mandatory verification without a verified address: email_confirmation_sent(signup=false) and parks", async () => {
    const { flow, snapshot } = await complete(
      fakes({ lookupSocialAccount: () => ({ ...connected, hasVerifiedEmail: false }) }),
      { settings: settings({ emailVerification: "mandatory" }) },
    );
    expect(tagsOf(snapshot)).toEqual(["pending:verify_email"]);
    expect(flow.signals).toEqual([
      { type: "social_account_updated", socialLogin: existing },
      { type: "pre_social_login", socialLogin: existing },
      { type: "email_confirmation_sent", confirmation: confirmation(unverifiedPrimary), signup: false },
    ]);
    expect(flow.calls("sendVerificationEmail")).toEqual([{ userId: "u1", emailAddressId: null, signup: false }]);
  });

  s.it("with a login code required after a social login: mails the code and parks at codePending", async () => {
    const { flow, snapshot } = await complete(fakes({ lookupSocialAccount: () => connected, sendLoginCode: () => ({ verificationId: "lc-4" }) }), {
      settings: settings({ loginByCodeRequired: ["socialaccount"] }),
    });
    expect(snapshot.value).toBe("codePending");
    expect(tagsOf(snapshot)).toEqual(["pending:login_by_code"]);
    expect(flow.signalTypes()).toEqual(["social_account_updated", "pre_social_login"]);
    expect(flow.calls("sendLoginCode")).toEqual([{ userId: "u1", emailAddressId: null }]);
    expect(snapshot.context.verificationId).toBe("lc-4");
  });
});

describe("pre_social_login receivers", () => {
  s.it("aborting over a connected account: social_account_updated → pre_social_login, then aborted", async () => {
    const { flow, snapshot } = await complete(
      fakes({ lookupSocialAccount: () => connected, runPreSocialLogin: () => ({ kind: "abort" }) }),
      { sessionUser: bob },
    );
    expect(snapshot.value).toBe("aborted");
    expect(snapshot.status).toBe("done");
    expect(tagsOf(snapshot)).toEqual(["aborted"]);
    expect(flow.signals).toEqual([
      { type: "social_account_updated", socialLogin: existing },
      { type: "pre_social_login", socialLogin: existing },
    ]);
    expect(flow.calls("logOutFirst")).toEqual([]);
    expect(flow.calls("acceptLogin")).toEqual([]);
    expect(flow.calls("startSession")).toEqual([]);
    expect(snapshot.context.sessionUser).toEqual(bob);
  });

  s.it("connecting a new person to a user: pre_social_login → social_account_added → user_logged_in, no signup", async () => {
    const { flow, snapshot } = await complete(fakes({ runPreSocialLogin: () => ({ kind: "connect", user: alice }) }));
    expect(snapshot.value).toBe("loggedIn");
    expect(tagsOf(snapshot)).toEqual(["authenticated"]);
    expect(flow.signals).toEqual([
      { type: "pre_social_login", socialLogin: newcomer },
      { type: "social_account_added", socialLogin: existing },
      { type: "user_logged_in", user: alice, socialLogin: existing },
    ]);
    expect(flow.timeline).toEqual([
      "actor:lookupSocialAccount",
      "signal:pre_social_login",
      "actor:runPreSocialLogin",
      "actor:connectAccount",
      "signal:social_account_added",
      "actor:acceptLogin",
      "actor:startSession",
      "signal:user_logged_in",
    ]);
    expect(flow.calls("connectAccount")).toEqual([{ userId: "u1" }]);
    expect(flow.calls("assessSocialSignup")).toEqual([]);
    expect(flow.calls("createSocialUser")).toEqual([]);
    expect(snapshot.context.account).toEqual(account);
  });

  s.it("whose connect is refused: pre_social_login, then rejected with the error", async () => {
    const { flow, snapshot } = await complete(
      fakes({ runPreSocialLogin: () => ({ kind: "connect", user: alice }), connectAccount: fail("connected_other") }),
    );
    expect(snapshot.value).toBe("rejected");
    expect(tagsOf(snapshot)).toEqual(["rejected"]);
    expect(snapshot.context.error).toEqual({ code: "connected_other" });
    expect(flow.signalTypes()).toEqual(["pre_social_login"]);
    expect(flow.calls("startSession")).toEqual([]);
  });

  s.it("raising: the flow fails after pre_social_login and nothing else happens", async () => {
    const { flow, snapshot } = await complete(fakes({ runPreSocialLogin: fail("unexpected") }), { sessionUser: bob });
    expect(snapshot.value).toBe("failed");
    expect(tagsOf(snapshot)).toEqual(["failed"]);
    expect(snapshot.context.error).toEqual({ code: "unexpected" });
    expect(flow.signalTypes()).toEqual(["pre_social_login"]);
    expect(flow.calls("logOutFirst")).toEqual([]);
    expect(flow.calls("assessSocialSignup")).toEqual([]);
  });
});

describe("social connect", () => {
  s.it("of a new account: pre_social_login → social_account_added, done, no login", async () => {
    const { flow, snapshot } = await complete(fakes(), { process: "connect", sessionUser: alice });
    expect(snapshot.value).toBe("connected");
    expect(snapshot.status).toBe("done");
    expect(tagsOf(snapshot)).toEqual(["done"]);
    expect(flow.signalTypes()).toEqual(["pre_social_login", "social_account_added"]);
    expect(flow.signals[0]).toEqual({ type: "pre_social_login", socialLogin: newcomer });
    // `isExisting` left open: the machine keeps the lookup's false; allauth's connected login has an existing user.
    expect(flow.signals[1]).toMatchObject({ type: "social_account_added", socialLogin: { provider: "dummy", uid: "100", userId: "u1" } });
    expect(flow.timeline).toEqual([
      "actor:lookupSocialAccount",
      "signal:pre_social_login",
      "actor:runPreSocialLogin",
      "actor:connectAccount",
      "signal:social_account_added",
    ]);
    expect(flow.calls("connectAccount")).toEqual([{ userId: "u1" }]);
    expect(flow.calls("logOutFirst")).toEqual([]);
    expect(flow.calls("acceptLogin")).toEqual([]);
    expect(flow.calls("startSession")).toEqual([]);
    expect(snapshot.context.account).toEqual(account);
    expect(snapshot.context.sessionUser).toEqual(alice);
  });

  s.it("of an account already mine: social_account_updated → pre_social_login, done, connectAccount not called", async () => {
    const { flow, snapshot } = await complete(fakes({ lookupSocialAccount: () => connected }), { process: "connect", sessionUser: alice });
    expect(snapshot.value).toBe("connected");
    expect(tagsOf(snapshot)).toEqual(["done"]);
    expect(flow.signals).toEqual([
      { type: "social_account_updated", socialLogin: existing },
      { type: "pre_social_login", socialLogin: existing },
    ]);
    expect(flow.calls("connectAccount")).toEqual([]);
    expect(snapshot.context.error).toBeNull();
  });

  s.it("of an account owned by another user: social_account_updated → pre_social_login, rejected with connected_other", async () => {
    const { flow, snapshot } = await complete(fakes({ lookupSocialAccount: () => connectedToBob }), { process: "connect", sessionUser: alice });
    expect(snapshot.value).toBe("rejected");
    expect(tagsOf(snapshot)).toEqual(["rejected"]);
    expect(snapshot.context.error).toEqual({ code: "connected_other" });
    expect(flow.signals).toEqual([
      { type: "social_account_updated", socialLogin: { provider: "dummy", uid: "100", userId: "u2", isExisting: true } },
      { type: "pre_social_login", socialLogin: { provider: "dummy", uid: "100", userId: "u2", isExisting: true } },
    ]);
    expect(flow.calls("connectAccount")).toEqual([]);
  });

  s.it("matched by email to the same user: the account is connected (social_account_added)", async () => {
    const { flow, snapshot } = await complete(fakes({ lookupSocialAccount: () => matchedByEmail }), { process: "connect", sessionUser: alice });
    expect(tagsOf(snapshot)).toEqual(["done"]);
    expect(flow.signalTypes()).toEqual(["pre_social_login", "social_account_added"]);
    expect(flow.calls("connectAccount")).toEqual([{ userId: "u1" }]);
  });

  s.it("matched by email to another user: rejected with connected_other, nothing connected", async () => {
    const { flow, snapshot } = await complete(fakes({ lookupSocialAccount: () => matchedByEmail }), { process: "connect", sessionUser: bob });
    expect(tagsOf(snapshot)).toEqual(["rejected"]);
    expect(snapshot.context.error).toEqual({ code: "connected_other" });
    expect(flow.signalTypes()).toEqual(["pre_social_login"]);
    expect(flow.calls("connectAccount")).toEqual([]);
  });

  s.it("while anonymous: pre_social_login, then rejected with permission_denied", async () => {
    const { flow, snapshot } = await complete(fakes(), { process: "connect", sessionUser: null });
    expect(snapshot.value).toBe("rejected");
    expect(tagsOf(snapshot)).toEqual(["rejected"]);
    expect(snapshot.context.error).toEqual({ code: "permission_denied" });
    expect(flow.signals).toEqual([{ type: "pre_social_login", socialLogin: newcomer }]);
    expect(flow.calls("connectAccount")).toEqual([]);
    expect(flow.calls("assessSocialSignup")).toEqual([]);
  });

  s.it("needing reauthentication: pre_social_login, then reauthenticate with nothing added", async () => {
    const { flow, snapshot } = await complete(fakes(), { process: "connect", sessionUser: alice, needsReauthentication: true });
    expect(snapshot.value).toBe("reauthenticate");
    expect(snapshot.status).toBe("done");
    expect(tagsOf(snapshot)).toEqual(["reauthenticate"]);
    expect(flow.signals).toEqual([{ type: "pre_social_login", socialLogin: newcomer }]);
    expect(flow.calls("connectAccount")).toEqual([]);
    expect(snapshot.context.account).toBeNull();
  });

  s.it("when storing the account fails: pre_social_login, then rejected with the error and no social_account_added", async () => {
    const { flow, snapshot } = await complete(fakes({ connectAccount: fail("unexpected") }), { process: "connect", sessionUser: alice });
    expect(snapshot.value).toBe("rejected");
    expect(snapshot.context.error).toEqual({ code: "unexpected" });
    expect(flow.signalTypes()).toEqual(["pre_social_login"]);
  });

  s.it("emits nothing until the account is stored", async () => {
    const storing = deferred<{ account: typeof account; hasVerifiedEmail: boolean }>();
    const flow = await startFlow(socialLoginMachine, {
      input: inputOf({ process: "connect", sessionUser: alice }),
      fakes: fakes({ connectAccount: () => storing.promise }),
    });
    flow.actor.send({ type: "COMPLETE", profile });
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(flow.snapshot().value).toEqual({ connecting: "storing" });
    expect(flow.signalTypes()).toEqual(["pre_social_login"]);
    storing.resolve({ account, hasVerifiedEmail: true });
    const snapshot = await flow.settled();
    expect(tagsOf(snapshot)).toEqual(["done"]);
    expect(flow.signalTypes()).toEqual(["pre_social_login", "social_account_added"]);
  });
});

describe("social login failures", () => {
  s.it("when the lookup fails: failed, no signal at all", async () => {
    const { flow, snapshot } = await complete(fakes({ lookupSocialAccount: fail("unexpected") }));
    expect(snapshot.value).toBe("failed");
    expect(tagsOf(snapshot)).toEqual(["failed"]);
    expect(snapshot.context.error).toEqual({ code: "unexpected" });
    expect(flow.signalTypes()).toEqual([]);
    expect(flow.calls("runPreSocialLogin")).toEqual([]);
  });

  s.it("when logging out the session's user fails: failed after user_logged_out, no login", async () => {
    const { flow, snapshot } = await complete(fakes({ lookupSocialAccount: () => connected, logOutFirst: fail("unexpected") }), {
      sessionUser: bob,
    });
    expect(snapshot.value).toBe("failed");
    expect(tagsOf(snapshot)).toEqual(["failed"]);
    expect(flow.signalTypes()).toEqual(["social_account_updated", "pre_social_login", "user_logged_out"]);
    expect(flow.calls("acceptLogin")).toEqual([]);
    expect(snapshot.context.sessionUser).toEqual(bob);
  });

  s.it("when accepting the login fails: failed, no user_logged_in", async () => {
    const { flow, snapshot } = await complete(fakes({ lookupSocialAccount: () => connected, acceptLogin: fail("unexpected") }));
    expect(snapshot.value).toBe("failed");
    expect(flow.signalTypes()).toEqual(["social_account_updated", "pre_social_login"]);
    expect(flow.calls("startSession")).toEqual([]);
  });

  s.it("when assessing the signup fails: failed after pre_social_login", async () => {
    const { flow, snapshot } = await complete(fakes({ assessSocialSignup: fail("unexpected") }));
    expect(snapshot.value).toBe("failed");
    expect(flow.signalTypes()).toEqual(["pre_social_login"]);
    expect(flow.calls("createSocialUser")).toEqual([]);
  });

  s.it("when creating the user fails: failed, no user_signed_up", async () => {
    const { flow, snapshot } = await complete(fakes({ createSocialUser: fail("unexpected") }));
    expect(snapshot.value).toBe("failed");
    expect(snapshot.context.error).toEqual({ code: "unexpected" });
    expect(flow.signalTypes()).toEqual(["pre_social_login"]);
    expect(flow.calls("startSession")).toEqual([]);
  });

  s.it("when the account-exists mail fails: failed, no signal after pre_social_login", async () => {
    const { flow, snapshot } = await complete(
      fakes({ assessSocialSignup: () => ({ decision: "hidden", email: "alice@example.com" }), sendAccountExistsMail: fail("unexpected") }),
      { settings: settings({ emailVerification: "mandatory" }) },
    );
    expect(snapshot.value).toBe("failed");
    expect(tagsOf(snapshot)).toEqual(["failed"]);
    expect(flow.signalTypes()).toEqual(["pre_social_login"]);
  });

  s.it("when the login code cannot be mailed: failed, no user_logged_in", async () => {
    const { flow, snapshot } = await complete(fakes({ sendLoginCode: fail("rate_limited") }), {
      settings: settings({ loginByCodeRequired: true }),
    });
    expect(snapshot.value).toBe("failed");
    expect(snapshot.context.error).toEqual({ code: "rate_limited" });
    expect(flow.signalTypes()).toEqual(["pre_social_login", "user_signed_up"]);
  });

  s.it("when the verification mail fails: failed after user_signed_up", async () => {
    const { flow, snapshot } = await complete(
      fakes({ createSocialUser: () => ({ user: alice, account, emailAddress: unverifiedPrimary }), sendVerificationEmail: fail("unexpected") }),
      { settings: settings({ emailVerification: "mandatory" }) },
    );
    expect(snapshot.value).toBe("failed");
    expect(flow.signalTypes()).toEqual(["pre_social_login", "user_signed_up"]);
    expect(flow.calls("startSession")).toEqual([]);
  });

  s.it("when starting the session fails: failed, no user_logged_in", async () => {
    const { flow, snapshot } = await complete(fakes({ lookupSocialAccount: () => connected, startSession: fail("unexpected") }));
    expect(snapshot.value).toBe("failed");
    expect(flow.signalTypes()).toEqual(["social_account_updated", "pre_social_login"]);
    expect(snapshot.context.sessionUser).toBeNull();
  });

  s.it("with actors not provided: fails loudly with 'not provided: lookupSocialAccount'", async () => {
    const flow = await startFlow(socialLoginMachine, { input: inputOf() });
    const snapshot = await flow.send({ type: "COMPLETE", profile });
    expect(snapshot.value).toBe("failed");
    expect(snapshot.context.error).toEqual({ code: "unexpected" });
    expect((flow.actorErrors[0] as Error).message).toBe("not provided: lookupSocialAccount");
    expect(flow.signalTypes()).toEqual([]);
  });
});

s.itCoversEveryStateAndTransition(socialLoginMachine);
