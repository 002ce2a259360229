import { describe, expect } from "vitest";
import type { FlowSettings } from "../../machines/contracts.ts";
import { providerSignupMachine } from "../../machines/provider-signup.ts";
import type { ProviderSignupEvent } from "../../machines/provider-signup.ts";
import type { ValidateProviderSignupOutput } from "../../machines/social-contracts.ts";
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
/** A provider that gave no address: the form asks for one. */
const profile = socialProfile({ emailAddresses: [], username: null });
const account = socialAccount({ id: "sa1", userId: "u1" });
const verifiedPrimary = address({ id: "e1", userId: "u1", email: "alice@example.com", verified: true });
const unverifiedPrimary = address({ id: "e1", userId: "u1", email: "alice@example.com", verified: false });

/** The social login as signals carry it once the user exists. */
const signedUp: SocialLoginRef = { provider: "dummy", uid: "100", userId: "u1", isExisting: true };
const signupLogin = {
  userId: "u1",
  signup: true,
  emailAddressId: "e1",
  method: "socialaccount",
  socialLogin: signedUp,
  email: "alice@example.com",
};

function cleaned(form: { email: string | null; username: string | null }, hidden = false): ValidateProviderSignupOutput {
  return { email: form.email === null ? null : form.email.toLowerCase(), username: form.username, hidden };
}

/** Happy-path fakes: a fresh address, a verified one once created, a session that starts. */
function fakes(overrides: Fakes = {}): Fakes {
  return {
    validateProviderSignup: (form) => cleaned(form),
    createSocialUser: () => ({ user: alice, account, emailAddress: verifiedPrimary }),
    sendAccountExistsMail: () => undefined,
    sendVerificationEmail: () => sent(confirmation(unverifiedPrimary)),
    startSession: () => ({ user: alice }),
    sendLoginCode: () => ({ verificationId: "lc-1" }),
    ...overrides,
  };
}

const submit = (email: string | null = "Alice@Example.COM", username: string | null = "alice"): ProviderSignupEvent => ({
  type: "SUBMIT",
  email,
  username,
});

async function signup(flowSettings: FlowSettings, fakeActors: Fakes, event = submit(), sessionUser: UserRef | null = null) {
  const flow = await startFlow(providerSignupMachine, { input: { settings: flowSettings, sessionUser, profile }, fakes: fakeActors });
  expect(flow.snapshot().value).toBe("idle");
  const snapshot = await flow.send(event);
  return { flow, snapshot };
}

describe("provider signup form submitted", () => {
  s.it("valid: user_signed_up(socialLogin) → user_logged_in(socialLogin), both with the new user's id", async () => {
    const { flow, snapshot } = await signup(settings(), fakes());
    expect(snapshot.value).toBe("loggedIn");
    expect(snapshot.status).toBe("done");
    expect(tagsOf(snapshot)).toEqual(["authenticated"]);
    expect(flow.signals).toEqual([
      { type: "user_signed_up", user: alice, socialLogin: signedUp },
      { type: "user_logged_in", user: alice, socialLogin: signedUp },
    ]);
    expect(flow.timeline).toEqual([
      "actor:validateProviderSignup",
      "actor:createSocialUser",
      "signal:user_signed_up",
      "actor:startSession",
      "signal:user_logged_in",
    ]);
    expect(flow.calls("validateProviderSignup")).toEqual([{ email: "Alice@Example.COM", username: "alice" }]);
    expect(flow.calls("createSocialUser")).toEqual([{ email: "alice@example.com", username: "alice" }]);
    expect(flow.calls("startSession")).toEqual([{ userId: "u1", login: signupLogin }]);
    expect(flow.calls("sendVerificationEmail")).toEqual([]);
    expect(flow.calls("sendAccountExistsMail")).toEqual([]);
    expect(snapshot.context.sessionUser).toEqual(alice);
    expect(snapshot.context.error).toBeNull();
  });

  s.it("never emits pre_social_login again, nor social_account_added", async () => {
    const { flow } = await signup(settings(), fakes());
    expect(flow.signalTypes()).not.toContain("pre_social_login");
    expect(flow.signalTypes()).not.toContain("social_account_added");
    expect(flow.signalTypes()).not.toContain("social_account_updated");
  });

  s.it("without an email: the signup login carries no address", async () => {
    const { flow, snapshot } = await signup(
      settings({ emailVerification: "none" }),
      fakes({ createSocialUser: () => ({ user: { ...alice, email: null }, account, emailAddress: null }) }),
      submit(null, "alice"),
    );
    expect(tagsOf(snapshot)).toEqual(["authenticated"]);
    expect(flow.signalTypes()).toEqual(["user_signed_up", "user_logged_in"]);
    expect(flow.calls("createSocialUser")).toEqual([{ email: null, username: "alice" }]);
    expect(flow.calls("startSession")).toEqual([
      { userId: "u1", login: { userId: "u1", signup: true, emailAddressId: null, method: "socialaccount", socialLogin: signedUp } },
    ]);
  });

  s.it("with a validation error: rejected with the error, no signal, nothing created", async () => {
    const { flow, snapshot } = await signup(settings(), fakes({ validateProviderSignup: fail("email_taken", "email") }));
    expect(snapshot.value).toBe("rejected");
    expect(snapshot.status).toBe("done");
    expect(tagsOf(snapshot)).toEqual(["rejected"]);
    expect(snapshot.context.error).toEqual({ code: "email_taken", param: "email" });
    expect(flow.signals).toEqual([]);
    expect(flow.timeline).toEqual(["actor:validateProviderSignup"]);
    expect(flow.calls("createSocialUser")).toEqual([]);
    expect(snapshot.context.user).toBeNull();
  });

  s.it("with a taken address hidden by enumeration prevention: the account-exists mail, pending:verify_email, no signal", async () => {
    const { flow, snapshot } = await signup(
      settings({ emailVerification: "mandatory" }),
      fakes({ validateProviderSignup: (form) => cleaned(form, true) }),
    );
    expect(snapshot.value).toBe("verificationPending");
    expect(tagsOf(snapshot)).toEqual(["pending:verify_email"]);
    expect(flow.signals).toEqual([]);
    expect(flow.timeline).toEqual(["actor:validateProviderSignup", "actor:sendAccountExistsMail"]);
    expect(flow.calls("sendAccountExistsMail")).toEqual([{ email: "alice@example.com" }]);
    expect(flow.calls("createSocialUser")).toEqual([]);
    expect(snapshot.context.user).toBeNull();
    expect(snapshot.context.sessionUser).toBeNull();
  });

  s.it("under mandatory verification with an unverified address: user_signed_up → email_confirmation_sent(signup) and parks", async () => {
    const { flow, snapshot } = await signup(
      settings({ emailVerification: "mandatory" }),
      fakes({
        createSocialUser: () => ({ user: alice, account, emailAddress: unverifiedPrimary }),
        sendVerificationEmail: () => sent(confirmation(unverifiedPrimary), "ver-5"),
      }),
    );
    expect(snapshot.value).toBe("verificationPending");
    expect(tagsOf(snapshot)).toEqual(["pending:verify_email"]);
    expect(flow.signals).toEqual([
      { type: "user_signed_up", user: alice, socialLogin: signedUp },
      { type: "email_confirmation_sent", confirmation: confirmation(unverifiedPrimary), signup: true },
    ]);
    expect(flow.calls("sendVerificationEmail")).toEqual([{ userId: "u1", emailAddressId: "e1", signup: true }]);
    expect(flow.calls("startSession")).toEqual([]);
    expect(snapshot.context.verificationId).toBe("ver-5");
    expect(snapshot.context.login).toEqual(signupLogin);
  });

  s.it("under mandatory verification with the mail held back: user_signed_up only, still parks", async () => {
    const { flow, snapshot } = await signup(
      settings({ emailVerification: "mandatory" }),
      fakes({ createSocialUser: () => ({ user: alice, account, emailAddress: unverifiedPrimary }), sendVerificationEmail: () => suppressed }),
    );
    expect(tagsOf(snapshot)).toEqual(["pending:verify_email"]);
    expect(flow.signalTypes()).toEqual(["user_signed_up"]);
    expect(flow.calls("startSession")).toEqual([]);
  });

  s.it("under optional verification with an unverified address: user_signed_up → email_confirmation_sent → user_logged_in", async () => {
    const { flow, snapshot } = await signup(
      settings({ emailVerification: "optional" }),
      fakes({ createSocialUser: () => ({ user: alice, account, emailAddress: unverifiedPrimary }) }),
    );
    expect(tagsOf(snapshot)).toEqual(["authenticated"]);
    expect(flow.signals).toEqual([
      { type: "user_signed_up", user: alice, socialLogin: signedUp },
      { type: "email_confirmation_sent", confirmation: confirmation(unverifiedPrimary), signup: true },
      { type: "user_logged_in", user: alice, socialLogin: signedUp },
    ]);
  });

  s.it("for a user created inactive: user_signed_up, then inactive", async () => {
    const { flow, snapshot } = await signup(
      settings(),
      fakes({ createSocialUser: () => ({ user: { ...alice, isActive: false }, account, emailAddress: verifiedPrimary }) }),
    );
    expect(snapshot.value).toBe("inactive");
    expect(tagsOf(snapshot)).toEqual(["inactive"]);
    expect(flow.signalTypes()).toEqual(["user_signed_up"]);
    expect(flow.calls("startSession")).toEqual([]);
  });

  s.it("with a login code required: user_signed_up, then the code is mailed and the login parks", async () => {
    const { flow, snapshot } = await signup(settings({ loginByCodeRequired: ["socialaccount"] }), fakes({ sendLoginCode: () => ({ verificationId: "lc-8" }) }));
    expect(snapshot.value).toBe("codePending");
    expect(tagsOf(snapshot)).toEqual(["pending:login_by_code"]);
    expect(flow.signalTypes()).toEqual(["user_signed_up"]);
    expect(flow.calls("sendLoginCode")).toEqual([{ userId: "u1", emailAddressId: "e1" }]);
    expect(snapshot.context.verificationId).toBe("lc-8");
  });

  s.it("emits user_signed_up only once the user is created", async () => {
    const creating = deferred<{ user: UserRef; account: typeof account; emailAddress: typeof verifiedPrimary }>();
    const flow = await startFlow(providerSignupMachine, {
      input: { settings: settings(), sessionUser: null, profile },
      fakes: fakes({ createSocialUser: () => creating.promise }),
    });
    flow.actor.send(submit());
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(flow.snapshot().value).toBe("creatingUser");
    expect(flow.signals).toEqual([]);
    creating.resolve({ user: alice, account, emailAddress: verifiedPrimary });
    const snapshot = await flow.settled();
    expect(tagsOf(snapshot)).toEqual(["authenticated"]);
    expect(flow.signalTypes()).toEqual(["user_signed_up", "user_logged_in"]);
  });
});

describe("provider signup failures", () => {
  s.it("when creating the user fails (the address was taken meanwhile): rejected, no signal", async () => {
    const { flow, snapshot } = await signup(settings(), fakes({ createSocialUser: fail("email_taken", "email") }));
    expect(snapshot.value).toBe("rejected");
    expect(tagsOf(snapshot)).toEqual(["rejected"]);
    expect(snapshot.context.error).toEqual({ code: "email_taken", param: "email" });
    expect(flow.signals).toEqual([]);
    expect(flow.calls("startSession")).toEqual([]);
  });

  s.it("when the account-exists mail fails: failed, no signal", async () => {
    const { flow, snapshot } = await signup(
      settings({ emailVerification: "mandatory" }),
      fakes({ validateProviderSignup: (form) => cleaned(form, true), sendAccountExistsMail: fail("unexpected") }),
    );
    expect(snapshot.value).toBe("failed");
    expect(tagsOf(snapshot)).toEqual(["failed"]);
    expect(flow.signals).toEqual([]);
  });

  s.it("when the login code cannot be mailed: failed after user_signed_up", async () => {
    const { flow, snapshot } = await signup(settings({ loginByCodeRequired: true }), fakes({ sendLoginCode: fail("rate_limited") }));
    expect(snapshot.value).toBe("failed");
    expect(snapshot.context.error).toEqual({ code: "rate_limited" });
    expect(flow.signalTypes()).toEqual(["user_signed_up"]);
  });

  s.it("when the verification mail fails: failed after user_signed_up", async () => {
    const { flow, snapshot } = await signup(
      settings({ emailVerification: "mandatory" }),
      fakes({ createSocialUser: () => ({ user: alice, account, emailAddress: unverifiedPrimary }), sendVerificationEmail: fail("unexpected") }),
    );
    expect(snapshot.value).toBe("failed");
    expect(flow.signalTypes()).toEqual(["user_signed_up"]);
  });

  s.it("when starting the session fails: failed after user_signed_up, no user_logged_in", async () => {
    const { flow, snapshot } = await signup(settings(), fakes({ startSession: fail("unexpected") }));
    expect(snapshot.value).toBe("failed");
    expect(tagsOf(snapshot)).toEqual(["failed"]);
    expect(flow.signalTypes()).toEqual(["user_signed_up"]);
    expect(snapshot.context.sessionUser).toBeNull();
  });

  s.it("with actors not provided: fails loudly with 'not provided: validateProviderSignup' and ends rejected", async () => {
    const flow = await startFlow(providerSignupMachine, { input: { settings: settings(), sessionUser: null, profile } });
    const snapshot = await flow.send(submit());
    expect(snapshot.value).toBe("rejected");
    expect(snapshot.context.error).toEqual({ code: "unexpected" });
    expect((flow.actorErrors[0] as Error).message).toBe("not provided: validateProviderSignup");
    expect(flow.signals).toEqual([]);
  });
});

s.itCoversEveryStateAndTransition(providerSignupMachine);
