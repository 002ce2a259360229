import { describe, expect } from "vitest";
import type { AddEmailOutput, MarkPrimaryOutput, RemoveEmailOutput } from "../../machines/contracts.ts";
import { manageEmailMachine } from "../../machines/manage-email.ts";
import type { ManageEmailEvent, ManageEmailInput } from "../../machines/manage-email.ts";
import type { UserRef } from "../../machines/signals.ts";
import { address, confirmation, deferred, fail, scenarios, settings, startFlow, tagsOf, user } from "./support.ts";
import type { Fakes } from "./support.ts";

const s = scenarios();

const alice = user({ id: "u1", username: "alice", email: "alice@example.com" });
const primary = address({ id: "e1", userId: "u1", email: "alice@example.com", verified: true, primary: true });
const second = address({ id: "e2", userId: "u1", email: "second@example.com", verified: true, primary: false });
const added = address({ id: "e3", userId: "u1", email: "new@example.com", verified: false, primary: false });

const add: ManageEmailEvent = { type: "ADD", email: "new@example.com" };
const remove: ManageEmailEvent = { type: "REMOVE", email: "second@example.com" };
const markPrimary: ManageEmailEvent = { type: "MARK_PRIMARY", email: "second@example.com" };
const resend: ManageEmailEvent = { type: "RESEND", email: "new@example.com" };

function input(overrides: { sessionUser?: UserRef | null; needsReauthentication?: boolean } = {}): ManageEmailInput {
  return {
    settings: settings(),
    sessionUser: overrides.sessionUser === undefined ? alice : overrides.sessionUser,
    needsReauthentication: overrides.needsReauthentication ?? false,
  };
}

function fakes(overrides: Fakes = {}): Fakes {
  return {
    checkEmail: () => undefined,
    addEmail: () => ({ emailAddress: added, confirmation: confirmation(added), verificationId: null }),
    removeEmail: () => ({ user: alice, emailAddress: second }),
    markPrimary: () => ({ user: alice, fromEmailAddress: primary, toEmailAddress: { ...second, primary: true } }),
    resendVerification: () => ({ sent: true, confirmation: confirmation(added), verificationId: null }),
    ...overrides,
  };
}

async function flowFor(fakeActors: Fakes, overrides: Parameters<typeof input>[0] = {}) {
  const flow = await startFlow(manageEmailMachine, { input: input(overrides), fakes: fakeActors });
  expect(flow.snapshot().value).toBe("idle");
  return flow;
}

/** How many times any of the four actors was called. */
function actorCalls(flow: Awaited<ReturnType<typeof flowFor>>): number {
  return (
    flow.calls("addEmail").length +
    flow.calls("removeEmail").length +
    flow.calls("markPrimary").length +
    flow.calls("resendVerification").length
  );
}

describe("manage email: before any action", () => {
  s.it("rests in idle, untagged, with an empty context and no signal", async () => {
    const flow = await flowFor(fakes());
    const snapshot = flow.snapshot();
    expect(snapshot.status).toBe("active");
    expect(tagsOf(snapshot)).toEqual([]);
    expect(snapshot.context).toEqual({
      sessionUser: alice,
      needsReauthentication: false,
      email: null,
      action: null,
      verificationId: null,
      change: null,
      error: null,
    });
    expect(actorCalls(flow)).toBe(0);
    expect(flow.signalTypes()).toEqual([]);
  });
});

describe("manage email: ADD", () => {
  s.it("in link mode emits email_confirmation_sent(signup=false) and then email_added with the new row", async () => {
    const flow = await flowFor(fakes());
    const snapshot = await flow.send(add);
    expect(snapshot.value).toBe("done");
    expect(snapshot.status).toBe("done");
    expect(tagsOf(snapshot)).toEqual(["done"]);
    expect(flow.calls("addEmail")).toEqual([{ userId: "u1", email: "new@example.com" }]);
    expect(flow.signals).toEqual([
      { type: "email_confirmation_sent", confirmation: confirmation(added), signup: false },
      { type: "email_added", user: alice, emailAddress: added },
    ]);
    expect(flow.timeline).toEqual(["actor:addEmail", "signal:email_confirmation_sent", "signal:email_added"]);
    expect(snapshot.context.email).toBe("new@example.com");
    expect(snapshot.context.verificationId).toBeNull();
    expect(snapshot.context.error).toBeNull();
  });

  s.it("in link mode with the mail held back by the cooldown emits only email_added", async () => {
    const flow = await flowFor(fakes({ addEmail: () => ({ emailAddress: added, confirmation: null, verificationId: null }) }));
    const snapshot = await flow.send(add);
    expect(snapshot.value).toBe("done");
    expect(flow.signals).toEqual([{ type: "email_added", user: alice, emailAddress: added }]);
  });

  s.it("in code mode emits only email_confirmation_sent(signup=false) and keeps the verification id", async () => {
    const codeConfirmation = confirmation(added, "code");
    const flow = await flowFor(
      fakes({ addEmail: () => ({ emailAddress: null, confirmation: codeConfirmation, verificationId: "v7" }) }),
    );
    const snapshot = await flow.send(add);
    expect(snapshot.value).toBe("done");
    expect(tagsOf(snapshot)).toEqual(["done"]);
    expect(flow.signals).toEqual([{ type: "email_confirmation_sent", confirmation: codeConfirmation, signup: false }]);
    expect(flow.signalTypes()).not.toContain("email_added");
    expect(snapshot.context.verificationId).toBe("v7");
    expect(flow.calls("addEmail")).toEqual([{ userId: "u1", email: "new@example.com" }]);
  });

  s.it("in code mode with the mail held back emits nothing", async () => {
    const flow = await flowFor(fakes({ addEmail: () => ({ emailAddress: null, confirmation: null, verificationId: null }) }));
    const snapshot = await flow.send(add);
    expect(snapshot.value).toBe("done");
    expect(flow.signalTypes()).toEqual([]);
  });

  s.it("emits nothing while addEmail is still in flight", async () => {
    const pending = deferred<AddEmailOutput>();
    const flow = await flowFor(fakes({ addEmail: () => pending.promise }));
    flow.actor.send(add);
    expect(flow.snapshot().value).toBe("adding");
    expect(flow.snapshot().context.email).toBe("new@example.com");
    expect(flow.signalTypes()).toEqual([]);
    pending.resolve({ emailAddress: added, confirmation: confirmation(added), verificationId: null });
    expect((await flow.settled()).value).toBe("done");
    expect(flow.signalTypes()).toEqual(["email_confirmation_sent", "email_added"]);
  });

  s.it("when addEmail rejects, ends rejected with the error's code and param and emits nothing", async () => {
    const flow = await flowFor(fakes({ addEmail: fail("duplicate_email", "email") }));
    const snapshot = await flow.send(add);
    expect(snapshot.value).toBe("rejected");
    expect(snapshot.status).toBe("done");
    expect(tagsOf(snapshot)).toEqual(["rejected"]);
    expect(snapshot.context.error).toEqual({ code: "duplicate_email", param: "email" });
    expect(snapshot.context.verificationId).toBeNull();
    expect(flow.calls("addEmail")).toEqual([{ userId: "u1", email: "new@example.com" }]);
    expect(flow.signalTypes()).toEqual([]);
  });

  s.it("fails loudly with 'not provided: addEmail' and ends rejected with unexpected", async () => {
    const flow = await startFlow(manageEmailMachine, { input: input() });
    const snapshot = await flow.send(add);
    expect(snapshot.value).toBe("rejected");
    expect(snapshot.context.error).toEqual({ code: "unexpected" });
    expect((flow.actorErrors[0] as Error).message).toBe("not provided: addEmail");
    expect(flow.signalTypes()).toEqual([]);
  });
});

describe("manage email: REMOVE", () => {
  s.it("emits email_removed with the user and the deleted address", async () => {
    const flow = await flowFor(fakes());
    const snapshot = await flow.send(remove);
    expect(snapshot.value).toBe("done");
    expect(tagsOf(snapshot)).toEqual(["done"]);
    expect(flow.calls("removeEmail")).toEqual([{ userId: "u1", email: "second@example.com" }]);
    expect(flow.signals).toEqual([{ type: "email_removed", user: alice, emailAddress: second }]);
    expect(flow.timeline).toEqual(["actor:removeEmail", "signal:email_removed"]);
    expect(snapshot.context.email).toBe("second@example.com");
  });

  s.it("carries the user as removeEmail returns it, with user.email re-pointed", async () => {
    const repointed = user({ id: "u1", email: "second@example.com" });
    const flow = await flowFor(fakes({ removeEmail: () => ({ user: repointed, emailAddress: primary }) }));
    await flow.send({ type: "REMOVE", email: "alice@example.com" });
    expect(flow.signals).toEqual([{ type: "email_removed", user: repointed, emailAddress: primary }]);
  });

  s.it("emits nothing while removeEmail is still in flight", async () => {
    const pending = deferred<RemoveEmailOutput>();
    const flow = await flowFor(fakes({ removeEmail: () => pending.promise }));
    flow.actor.send(remove);
    expect(flow.snapshot().value).toBe("removing");
    expect(flow.signalTypes()).toEqual([]);
    pending.resolve({ user: alice, emailAddress: second });
    expect((await flow.settled()).value).toBe("done");
    expect(flow.signalTypes()).toEqual(["email_removed"]);
  });

  s.it("when removeEmail refuses the primary, ends rejected with cannot_remove_primary_email and emits nothing", async () => {
    const flow = await flowFor(fakes({ removeEmail: fail("cannot_remove_primary_email", "email") }));
    const snapshot = await flow.send({ type: "REMOVE", email: "alice@example.com" });
    expect(snapshot.value).toBe("rejected");
    expect(tagsOf(snapshot)).toEqual(["rejected"]);
    expect(snapshot.context.error).toEqual({ code: "cannot_remove_primary_email", param: "email" });
    expect(flow.calls("removeEmail")).toEqual([{ userId: "u1", email: "alice@example.com" }]);
    expect(flow.signalTypes()).toEqual([]);
  });
});

describe("manage email: MARK_PRIMARY", () => {
  s.it("emits email_changed from the old primary to the chosen address", async () => {
    const promoted = { ...second, primary: true };
    const flow = await flowFor(fakes());
    const snapshot = await flow.send(markPrimary);
    expect(snapshot.value).toBe("done");
    expect(tagsOf(snapshot)).toEqual(["done"]);
    expect(flow.calls("markPrimary")).toEqual([{ userId: "u1", email: "second@example.com" }]);
    expect(flow.signals).toEqual([
      { type: "email_changed", user: alice, fromEmailAddress: primary, toEmailAddress: promoted },
    ]);
    expect(flow.timeline).toEqual(["actor:markPrimary", "signal:email_changed"]);
  });

  s.it("re-selecting the current primary still emits email_changed with from equal to to", async () => {
    const flow = await flowFor(fakes({ markPrimary: () => ({ user: alice, fromEmailAddress: primary, toEmailAddress: primary }) }));
    const snapshot = await flow.send({ type: "MARK_PRIMARY", email: "alice@example.com" });
    expect(snapshot.value).toBe("done");
    expect(flow.signals).toEqual([
      { type: "email_changed", user: alice, fromEmailAddress: primary, toEmailAddress: primary },
    ]);
    expect(flow.calls("markPrimary")).toEqual([{ userId: "u1", email: "alice@example.com" }]);
  });

  s.it("for a user with no primary yet emits email_changed with from null", async () => {
    const promoted = { ...second, primary: true };
    const flow = await flowFor(fakes({ markPrimary: () => ({ user: alice, fromEmailAddress: null, toEmailAddress: promoted }) }));
    await flow.send(markPrimary);
    expect(flow.signals).toEqual([{ type: "email_changed", user: alice, fromEmailAddress: null, toEmailAddress: promoted }]);
  });

  s.it("emits nothing while markPrimary is still in flight", async () => {
    const pending = deferred<MarkPrimaryOutput>();
    const flow = await flowFor(fakes({ markPrimary: () => pending.promise }));
    flow.actor.send(markPrimary);
    expect(flow.snapshot().value).toBe("markingPrimary");
    expect(flow.signalTypes()).toEqual([]);
    pending.resolve({ user: alice, fromEmailAddress: primary, toEmailAddress: second });
    expect((await flow.settled()).value).toBe("done");
    expect(flow.signalTypes()).toEqual(["email_changed"]);
  });

  s.it("when markPrimary refuses an unverified address, ends rejected with unverified_primary_email and emits nothing", async () => {
    const flow = await flowFor(fakes({ markPrimary: fail("unverified_primary_email", "email") }));
    const snapshot = await flow.send({ type: "MARK_PRIMARY", email: "new@example.com" });
    expect(snapshot.value).toBe("rejected");
    expect(tagsOf(snapshot)).toEqual(["rejected"]);
    expect(snapshot.context.error).toEqual({ code: "unverified_primary_email", param: "email" });
    expect(flow.calls("markPrimary")).toEqual([{ userId: "u1", email: "new@example.com" }]);
    expect(flow.signalTypes()).toEqual([]);
  });
});

describe("manage email: RESEND", () => {
  s.it("when the mail goes out emits email_confirmation_sent(signup=false) and keeps the verification id", async () => {
    const codeConfirmation = confirmation(added, "code");
    const flow = await flowFor(
      fakes({ resendVerification: () => ({ sent: true, confirmation: codeConfirmation, verificationId: "v9" }) }),
    );
    const snapshot = await flow.send(resend);
    expect(snapshot.value).toBe("done");
    expect(tagsOf(snapshot)).toEqual(["done"]);
    expect(flow.calls("resendVerification")).toEqual([{ userId: "u1", email: "new@example.com" }]);
    expect(flow.signals).toEqual([{ type: "email_confirmation_sent", confirmation: codeConfirmation, signup: false }]);
    expect(snapshot.context.verificationId).toBe("v9");
  });

  s.it("in link mode emits email_confirmation_sent(signup=false) with no verification id", async () => {
    const flow = await flowFor(fakes());
    const snapshot = await flow.send(resend);
    expect(snapshot.value).toBe("done");
    expect(flow.signals).toEqual([{ type: "email_confirmation_sent", confirmation: confirmation(added), signup: false }]);
    expect(snapshot.context.verificationId).toBeNull();
  });

  s.it("when the cooldown holds the mail back, ends throttled and emits nothing", async () => {
    const flow = await flowFor(fakes({ resendVerification: () => ({ sent: false, confirmation: null, verificationId: null }) }));
    const snapshot = await flow.send(resend);
    expect(snapshot.value).toBe("throttled");
    expect(snapshot.status).toBe("done");
    expect(tagsOf(snapshot)).toEqual(["throttled"]);
    expect(snapshot.context.error).toBeNull();
    expect(snapshot.context.verificationId).toBeNull();
    expect(flow.calls("resendVerification")).toEqual([{ userId: "u1", email: "new@example.com" }]);
    expect(flow.signalTypes()).toEqual([]);
  });

  s.it("when resendVerification rejects, ends rejected with the error and emits nothing", async () => {
    const flow = await flowFor(fakes({ resendVerification: fail("invalid", "email") }));
    const snapshot = await flow.send(resend);
    expect(snapshot.value).toBe("rejected");
    expect(tagsOf(snapshot)).toEqual(["rejected"]);
    expect(snapshot.context.error).toEqual({ code: "invalid", param: "email" });
    expect(flow.signalTypes()).toEqual([]);
  });

  s.it("is not gated by reauthentication: it mails even when the session needs to reauthenticate", async () => {
    const flow = await flowFor(fakes(), { needsReauthentication: true });
    const snapshot = await flow.send(resend);
    expect(snapshot.value).toBe("done");
    expect(tagsOf(snapshot)).toEqual(["done"]);
    expect(flow.calls("resendVerification")).toEqual([{ userId: "u1", email: "new@example.com" }]);
    expect(flow.signalTypes()).toEqual(["email_confirmation_sent"]);
  });
});

describe("manage email: errors the actors reject with", () => {
  const cases = [
    { event: add, actor: "addEmail" as const, code: "max_email_addresses" as const },
    { event: remove, actor: "removeEmail" as const, code: "cannot_remove_primary_email" as const },
    { event: markPrimary, actor: "markPrimary" as const, code: "invalid" as const },
    { event: resend, actor: "resendVerification" as const, code: "rate_limited" as const },
  ];
  for (const { event, actor, code } of cases) {
    s.it(`${event.type} ends rejected with { code: ${code}, param: email } when ${actor} rejects, emitting nothing`, async () => {
      const flow = await flowFor(fakes({ [actor]: fail(code, "email") }));
      const snapshot = await flow.send(event);
      expect(snapshot.value).toBe("rejected");
      expect(snapshot.context.error).toEqual({ code, param: "email" });
      expect(snapshot.context.email).toBe(event.email);
      expect(flow.calls(actor)).toEqual([{ userId: "u1", email: event.email }]);
      expect(flow.actorErrors).toEqual([{ code, param: "email" }]);
      expect(flow.signalTypes()).toEqual([]);
    });
  }

  s.it("keeps only code and param from a rejection, and maps a non-flow error to unexpected", async () => {
    const flow = await flowFor(
      fakes({
        removeEmail: () => {
          throw new Error("database is locked");
        },
      }),
    );
    const snapshot = await flow.send(remove);
    expect(snapshot.value).toBe("rejected");
    expect(snapshot.context.error).toEqual({ code: "unexpected" });
    expect(flow.signalTypes()).toEqual([]);
  });
});

describe("manage email: anonymous session", () => {
  for (const event of [add, remove, markPrimary, resend]) {
    s.it(`answers ${event.type} with unauthenticated, calling no actor and emitting nothing`, async () => {
      const flow = await flowFor(fakes(), { sessionUser: null });
      const snapshot = await flow.send(event);
      expect(snapshot.value).toBe("unauthenticated");
      expect(snapshot.status).toBe("done");
      expect(tagsOf(snapshot)).toEqual(["unauthenticated"]);
      expect(snapshot.context.email).toBeNull();
      expect(actorCalls(flow)).toBe(0);
      expect(flow.signalTypes()).toEqual([]);
    });
  }

  s.it("answers unauthenticated rather than reauthenticating when nobody is logged in", async () => {
    const flow = await flowFor(fakes(), { sessionUser: null, needsReauthentication: true });
    const snapshot = await flow.send(add);
    expect(snapshot.value).toBe("unauthenticated");
    expect(tagsOf(snapshot)).toEqual(["unauthenticated"]);
    expect(actorCalls(flow)).toBe(0);
  });
});

describe("manage email: reauthentication required", () => {
  for (const event of [add, remove, markPrimary]) {
    s.it(`suspends ${event.type} at reauthenticating after its input checks, keeping the email and acting not`, async () => {
      const flow = await flowFor(fakes(), { needsReauthentication: true });
      const snapshot = await flow.send(event);
      expect(snapshot.value).toBe("reauthenticating");
      expect(snapshot.status).toBe("done");
      expect(tagsOf(snapshot)).toEqual(["reauthenticate"]);
      expect(snapshot.context.email).toBe(event.email);
      expect(snapshot.context.action).toBe(event.type);
      expect(snapshot.context.error).toBeNull();
      expect(flow.calls("checkEmail")).toEqual([{ userId: "u1", email: event.email, action: event.type }]);
      expect(actorCalls(flow)).toBe(0);
      expect(flow.signalTypes()).toEqual([]);
    });

    s.it(`ends ${event.type} rejected when its input checks fail, before reauthentication is asked`, async () => {
      const flow = await flowFor(fakes({ checkEmail: fail("unknown_email_address", "email") }), { needsReauthentication: true });
      const snapshot = await flow.send(event);
      expect(snapshot.value).toBe("rejected");
      expect(tagsOf(snapshot)).toEqual(["rejected"]);
      expect(snapshot.context.error).toEqual({ code: "unknown_email_address", param: "email" });
      expect(actorCalls(flow)).toBe(0);
      expect(flow.signalTypes()).toEqual([]);
    });
  }

  s.it("runs no input check when no reauthentication is due (the action checks itself)", async () => {
    const flow = await flowFor(fakes());
    await flow.send(add);
    expect(flow.calls("checkEmail")).toEqual([]);
    expect(flow.calls("addEmail")).toHaveLength(1);
  });

  s.it("keeps the suspended email in the persisted snapshot, for the replay after reauthentication", async () => {
    const flow = await flowFor(fakes(), { needsReauthentication: true });
    await flow.send(add);
    const persisted = JSON.parse(flow.persisted()) as { value: string; context: { email: string | null } };
    expect(persisted.value).toBe("reauthenticating");
    expect(persisted.context.email).toBe("new@example.com");
  });
});

describe("manage email: a signup changes its pending address (CHANGE)", () => {
  const change: ManageEmailEvent = { type: "CHANGE", email: "new@example.com", userId: "u1", current: "alice@example.com" };
  const moved = { emailAddress: added, confirmation: confirmation(added), verificationId: "v2", signup: true };

  s.it("hands the signup's user and both addresses to changePendingEmail, then emits email_confirmation_sent", async () => {
    const flow = await flowFor(fakes({ changePendingEmail: () => moved }), { sessionUser: null });
    const snapshot = await flow.send(change);
    expect(snapshot.value).toBe("done");
    expect(tagsOf(snapshot)).toEqual(["done"]);
    expect(flow.calls("changePendingEmail")).toEqual([{ userId: "u1", email: "new@example.com", current: "alice@example.com" }]);
    expect(snapshot.context.verificationId).toBe("v2");
    expect(flow.signalTypes()).toEqual(["email_confirmation_sent"]);
    expect(flow.signals[0]).toMatchObject({ type: "email_confirmation_sent", signup: true });
  });

  s.it("emits nothing when the new address is taken and hidden", async () => {
    const hidden = { emailAddress: null, confirmation: null, verificationId: null, signup: true };
    const flow = await flowFor(fakes({ changePendingEmail: () => hidden }), { sessionUser: null });
    const snapshot = await flow.send(change);
    expect(snapshot.value).toBe("done");
    expect(snapshot.context.verificationId).toBeNull();
    expect(flow.signalTypes()).toEqual([]);
  });

  s.it("ends rejected with the actor's error (same_as_current) and emits nothing", async () => {
    const flow = await flowFor(fakes({ changePendingEmail: fail("same_as_current", "email") }), { sessionUser: null });
    const snapshot = await flow.send(change);
    expect(snapshot.value).toBe("rejected");
    expect(snapshot.context.error).toEqual({ code: "same_as_current", param: "email" });
    expect(flow.signalTypes()).toEqual([]);
  });
});

s.itCoversEveryStateAndTransition(manageEmailMachine);
