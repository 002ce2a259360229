/**
 * Tests generated from the machines (issue #12, item 6): for every flow of the catalogue,
 * `@xstate/graph` enumerates its paths over its client events and every outcome of its actors
 * (`support/path-models.ts`, `support/paths.ts`); every path's signals must keep every rule of
 * `support/path-rules.ts`, and the paths together must reach every state of the machine. The
 * last block feeds deliberately wrong machines to the rules, to show that each rule can fail.
 */
import { afterAll, describe, expect, it } from "vitest";
import { emit, fromPromise, setup } from "xstate";
import type { AnyEventObject } from "xstate";
import { machines } from "../../machines/index.ts";
import type { AuthSignal } from "../../machines/signals.ts";
import { pathModels } from "./support/path-models.ts";
import type { Slug } from "./support/path-models.ts";
import { rules, violations } from "./support/path-rules.ts";
import { generatePaths, missingStates, reachedUnreachable, stateIds, unusedEvents } from "./support/paths.ts";
import type { PathModel } from "./support/paths.ts";
import { address, confirmation, settings, user } from "./support.ts";

/**
 * Rule violations the machines have today, each a bug reported to the lead (not a rule to relax).
 * Each must still occur: once the machine is fixed, its entry fails here and goes.
 */
const knownViolations: ReadonlyArray<{ readonly rule: string; readonly slug: Slug; readonly path: RegExp; readonly why: string }> = [];

const pathCounts: Record<string, number> = {};

afterAll(() => {
  console.log(`generated paths per machine: ${Object.entries(pathCounts).map(([slug, count]) => `${slug} ${count}`).join(", ")}`);
});

it("has a path model for every machine of the catalogue", () => {
  expect(Object.keys(pathModels).sort()).toEqual(Object.keys(machines).sort());
  for (const [slug, model] of Object.entries(pathModels)) {
    expect(model.machine, slug).toBe(machines[slug as Slug]);
  }
});

for (const [slug, model] of Object.entries(pathModels) as Array<[Slug, PathModel]>) {
  describe(slug, () => {
    const paths = generatePaths(slug, model);
    pathCounts[slug] = paths.length;

    it("has paths", () => {
      expect(paths.length).toBeGreaterThan(0);
    });

    it("reaches every state of the machine, but those listed unreachable (with a reason)", () => {
      expect(missingStates(model, paths), `states of ${slug} no generated path reaches`).toEqual([]);
      expect(reachedUnreachable(model, paths), `states of ${slug} listed unreachable that a path reaches, or that do not exist`).toEqual([]);
    });

    it("uses every client event and every outcome of every actor", () => {
      expect(unusedEvents(model, paths), `events or actor outcomes of ${slug} no path takes`).toEqual([]);
    });

    it("keeps every signal rule on every path", () => {
      const found = violations(paths);
      const known = knownViolations.filter((entry) => entry.slug === slug);
      const isKnown = (line: string) => known.some((entry) => line.startsWith(`[${entry.rule}] `) && entry.path.test(line));
      const unexplained = found.filter((line) => !isKnown(line));
      expect(unexplained.slice(0, 20), `${unexplained.length} rule violations on the paths of ${slug}`).toEqual([]);
      for (const entry of known) {
        expect(
          found.some((line) => line.startsWith(`[${entry.rule}] `) && isKnown(line)),
          `the known violation of ${entry.rule} (${entry.why}) no longer occurs: remove it from knownViolations`,
        ).toBe(true);
      }
    });
  });
}

// ---- every rule can fail ----

const alice = user({ id: "u1" });
const bob = user({ id: "u2" });
const emailAddress = address({ id: "e1", verified: true });
const socialLogin = { provider: "dummy", uid: "100", userId: "u1", isExisting: true };

/** A one-request flow under `slug`'s name: `events` leads from `idle` to `end`, emitting `signals`. */
function brokenFlow(
  slug: Slug,
  signals: ReadonlyArray<AuthSignal>,
  end: { readonly tags: ReadonlyArray<string>; readonly name?: string },
  sessionUser: typeof alice | null = null,
): PathModel {
  const name = end.name ?? "ended";
  const machine = setup({
    types: { events: {} as AnyEventObject, emitted: {} as AuthSignal, input: {} as unknown },
    actors: { work: fromPromise<void>(async () => undefined) },
  }).createMachine({
    id: slug,
    initial: "idle",
    states: {
      idle: { on: { GO: "working" } },
      working: { invoke: { src: "work", onDone: { target: name, actions: signals.map((signal) => emit(signal)) } } },
      [name]: { type: "final", tags: [...end.tags] },
    },
  });
  return {
    machine,
    inputs: [{ label: "broken", input: { settings: settings({ changeEmail: false }), sessionUser } }],
    userEvents: [{ label: "GO", event: { type: "GO" } }],
    outcomes: { work: [{ label: "done", output: undefined }] },
  };
}

const loggedIn = { type: "user_logged_in", user: alice } as const;
const signedUp = { type: "user_signed_up", user: alice } as const;
const sentLink = (signup: boolean) => ({ type: "email_confirmation_sent", confirmation: confirmation(emailAddress), signup }) as const;

const brokenFlows: ReadonlyArray<{ readonly rule: string; readonly slug: Slug; readonly model: PathModel }> = [
  { rule: "signup-before-login", slug: "signup", model: brokenFlow("signup", [loggedIn, signedUp], { tags: ["authenticated"], name: "loggedIn" }) },
  { rule: "no-login-while-pending", slug: "login", model: brokenFlow("login", [loggedIn], { tags: ["pending:verify_email"] }) },
  {
    rule: "no-social-account-added-on-signup",
    slug: "social-login",
    model: brokenFlow("social-login", [{ type: "pre_social_login", socialLogin }, signedUp, { type: "social_account_added", socialLogin }], {
      tags: ["pending:verify_email"],
    }),
  },
  { rule: "success-signal-once", slug: "password-change", model: brokenFlow("password-change", [], { tags: ["done"], name: "done" }) },
  { rule: "refusal-emits-nothing", slug: "login", model: brokenFlow("login", [sentLink(false)], { tags: ["rejected"] }) },
  {
    rule: "enumeration-fake-flow-silent",
    slug: "signup",
    model: brokenFlow("signup", [signedUp], { tags: ["pending:verify_email"], name: "mailingAccountExists" }),
  },
  {
    rule: "logout-before-replacing-login",
    slug: "social-login",
    model: brokenFlow("social-login", [{ type: "pre_social_login", socialLogin }, loggedIn], { tags: ["authenticated"] }, bob),
  },
  { rule: "no-login-for-inactive", slug: "login", model: brokenFlow("login", [loggedIn], { tags: ["inactive"] }) },
  { rule: "login-ends-pipeline", slug: "login", model: brokenFlow("login", [loggedIn, sentLink(false)], { tags: ["authenticated"] }) },
  {
    rule: "once-per-path",
    slug: "logout",
    model: brokenFlow("logout", [{ type: "user_logged_out", user: alice }, { type: "user_logged_out", user: alice }], { tags: ["done"] }),
  },
  {
    rule: "password-signal-last",
    slug: "password-change",
    model: brokenFlow("password-change", [{ type: "password_changed", user: alice }, { type: "user_logged_out", user: alice }], { tags: ["done"] }),
  },
  { rule: "confirmation-signup-flag", slug: "signup", model: brokenFlow("signup", [signedUp, sentLink(false)], { tags: ["pending:verify_email"] }) },
  {
    rule: "verification-order",
    slug: "email-verification",
    model: brokenFlow("email-verification", [{ type: "email_confirmed", emailAddress }, { type: "email_added", user: alice, emailAddress }], {
      tags: ["done"],
    }),
  },
  {
    rule: "social-order",
    slug: "social-login",
    model: brokenFlow("social-login", [{ type: "social_account_added", socialLogin }, { type: "pre_social_login", socialLogin }], { tags: ["done"] }),
  },
];

describe("the rules", () => {
  it("each have a deliberately wrong machine below", () => {
    expect(brokenFlows.map(({ rule }) => rule).sort()).toEqual(rules.map(({ id }) => id).sort());
  });

  for (const { rule, slug, model } of brokenFlows) {
    it(`${rule} reports a wrong ${slug} machine`, () => {
      const paths = generatePaths(slug, model);
      expect(paths.map((path) => path.name)).toEqual(["broken :: GO → work:done"]);
      const found = violations(paths, rules.filter(({ id }) => id === rule));
      expect(found).toHaveLength(1);
      expect(found[0]).toContain("broken :: GO → work:done");
    });
  }

  it("the coverage check reports a state no path reaches", () => {
    const machine = setup({ types: { events: {} as AnyEventObject } }).createMachine({
      id: "orphaned",
      initial: "idle",
      states: { idle: { on: { GO: "done" } }, done: { type: "final" }, orphan: {} },
    });
    const model: PathModel = { machine, inputs: [{ label: "any", input: undefined }], userEvents: [{ label: "GO", event: { type: "GO" } }], outcomes: {} };
    const paths = generatePaths("orphaned", model);
    expect(stateIds(machine)).toEqual(["orphaned.idle", "orphaned.done", "orphaned.orphan"]);
    expect(missingStates(model, paths)).toEqual(["orphaned.orphan"]);
    expect(missingStates({ ...model, unreachable: { "orphaned.orphan": "on purpose" } }, paths)).toEqual([]);
  });

  it("an actor outcome missing from a model fails loudly", () => {
    const model = brokenFlow("login", [], { tags: ["done"] });
    expect(() => generatePaths("login", { ...model, outcomes: {} })).toThrow(/no outcomes given for the actor work/);
  });
});
