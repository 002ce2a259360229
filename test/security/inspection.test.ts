/**
 * What an XState inspector sees (README "What inspection events contain"): real flows through
 * the HTTP handler — signup, email verification by link and by code, password change, login by
 * password and by code, password reset by link and by code — with `inspect` recording every
 * event. Everything recorded, serialised as JSON walking every object reachable from the events
 * (actor refs, their machines and system included), holds the flows' emails and state values,
 * and none of the passwords, codes, keys, session tokens or cookies the test used or received;
 * so does `util.inspect` at full depth of each snapshot's value, context, output and event.
 */
import { inspect } from "node:util";
import type { InspectionEvent } from "xstate";
import { afterEach, describe, expect, it } from "vitest";
import { codeFromMail, harness, keyFromMail } from "../support/harness.ts";
import type { Client, Harness } from "../support/harness.ts";
import { fastHasher } from "../http/support.ts";

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

/** Every secret the test typed or was handed. */
const secrets = new Set<string>();
function secret<T extends string>(value: T): T {
  secrets.add(value);
  return value;
}

function keepClientSecrets(client: Client): void {
  for (const value of client.cookies.values()) {
    secrets.add(value);
  }
  if (client.token !== null) {
    secrets.add(client.token);
  }
}

function resetKey(text: string): string {
  const match = /password\/reset\/key\/(\S+)/.exec(text);
  expect(match, text).not.toBeNull();
  return decodeURIComponent(match![1]!);
}

/**
 * JSON of everything reachable from the events: every own property (enumerable or not) of
 * every object, Maps and Sets as arrays, functions as their source, each object once. A value
 * with `toJSON` (a `Secret`) is serialised as it says.
 */
function walkToJson(value: unknown): string {
  const seen = new WeakSet<object>();
  return JSON.stringify(value, function replacer(_key, item: unknown) {
    if (typeof item === "function") {
      return `[function ${item.name}]`;
    }
    if (typeof item === "bigint") {
      return item.toString();
    }
    if (typeof item !== "object" || item === null) {
      return item;
    }
    if (seen.has(item)) {
      return "[seen]";
    }
    seen.add(item);
    if (item instanceof Map) {
      return { map: [...item.entries()] };
    }
    if (item instanceof Set) {
      return { set: [...item.values()] };
    }
    if (Array.isArray(item)) {
      return item;
    }
    // Their fields are internal slots: spelled out, so a request's cookies would show.
    if (item instanceof Request || item instanceof Response) {
      return { url: item.url, headers: [...item.headers.entries()] };
    }
    if (item instanceof Headers) {
      return { headers: [...item.entries()] };
    }
    const all: Record<string, unknown> = {};
    for (const name of Object.getOwnPropertyNames(item)) {
      all[name] = (item as Record<string, unknown>)[name];
    }
    for (const symbol of Object.getOwnPropertySymbols(item)) {
      all[String(symbol)] = (item as Record<symbol, unknown>)[symbol];
    }
    return all;
  });
}

function recordingHarness(events: Array<InspectionEvent>, account: object): Promise<Harness> {
  return harness({ passwordHasher: fastHasher, account }, { inspect: (event) => void events.push(event) });
}

/** The last state value of each machine's actors, by machine id. */
function lastValues(events: ReadonlyArray<InspectionEvent>): Map<string, unknown> {
  const values = new Map<string, unknown>();
  for (const event of events) {
    if (event.type === "@xstate.snapshot") {
      const logic = (event.actorRef as { logic?: { id?: unknown; root?: unknown } }).logic ?? {};
      const value = (event.snapshot as { value?: unknown }).value;
      if (logic.root !== undefined && typeof logic.id === "string" && value !== undefined) {
        values.set(logic.id, value);
      }
    }
  }
  return values;
}

function expectNoSecrets(events: ReadonlyArray<InspectionEvent>, emails: ReadonlyArray<string>): void {
  const expected = [
    ...emails,
    ...[...lastValues(events).values()].map((value) => (typeof value === "string" ? value : Object.keys(value as object)[0]!)),
  ];
  // Everything reachable is over util.inspect's output budget: it shows the snapshots' data.
  const snapshots = events.flatMap((event) => {
    if (event.type !== "@xstate.snapshot") {
      return [];
    }
    const { value, context, status, output, error } = event.snapshot as Record<string, unknown>;
    return [{ event: event.event, value, context, status, output, error }];
  });
  const serialisations = [
    ["JSON", walkToJson(events)],
    ["util.inspect", inspect(snapshots, { depth: Infinity, showHidden: true, maxArrayLength: Infinity, maxStringLength: Infinity })],
  ] as const;
  for (const [how, text] of serialisations) {
    // The serialisation holds what the README says events hold …
    for (const shown of expected) {
      expect(text.includes(shown), `${how} shows ${shown}`).toBe(true);
    }
    // … and none of the secrets.
    for (const value of secrets) {
      expect(text.includes(value), `${how} shows a secret (${value.length} characters)`).toBe(false);
    }
  }
  expect(serialisations[0][1]).toContain('"<redacted>"');
}

describe("inspection events", () => {
  it("link mode: signup, verification by link, password change, login by password and by code, reset by link", async () => {
    const events: Array<InspectionEvent> = [];
    h = await recordingHarness(events, {
      loginMethods: ["email"],
      emailVerification: "mandatory",
      loginOnEmailConfirmation: true,
      loginByCodeEnabled: true,
    });
    const browser = h.browser();
    const first = secret("first passphrase of ann 11");
    expect((await browser.request("POST", "auth/signup", { email: "ann@example.com", password: first })).status).toBe(401);
    const key = secret(keyFromMail(h.takeMails()[0]!));
    expect((await browser.request("POST", "auth/email/verify", { key })).status).toBe(200);
    keepClientSecrets(browser);

    const second = secret("second passphrase of ann 22");
    expect((await browser.request("POST", "account/password/change", { current_password: first, new_password: second })).status).toBe(200);
    keepClientSecrets(browser);

    const app = h.app();
    const login = await app.request("POST", "auth/login", { email: "ann@example.com", password: second });
    expect(login.status).toBe(200);
    keepClientSecrets(app);

    const coder = h.app();
    expect((await coder.request("POST", "auth/code/request", { email: "ann@example.com" })).status).toBe(401);
    const code = secret(codeFromMail(h.takeMails()[0]!));
    expect((await coder.request("POST", "auth/code/confirm", { code })).status).toBe(200);
    keepClientSecrets(coder);

    const resetter = h.browser();
    expect((await resetter.request("POST", "auth/password/request", { email: "ann@example.com" })).status).toBe(200);
    const resetKeyValue = secret(resetKey(h.takeMails()[0]!.text));
    const third = secret("third passphrase of ann 33");
    expect((await resetter.request("POST", "auth/password/reset", { key: resetKeyValue, password: third })).status).toBe(401);
    keepClientSecrets(resetter);

    const machinesSeen = [...lastValues(events).keys()].sort();
    expect(machinesSeen).toEqual(
      expect.arrayContaining(["email-verification", "login", "login-by-code", "password-change", "password-reset", "signup"]),
    );
    expectNoSecrets(events, ["ann@example.com"]);
  });

  it("code mode: signup, verification by code, reset by code", async () => {
    const events: Array<InspectionEvent> = [];
    h = await recordingHarness(events, {
      loginMethods: ["email"],
      emailVerification: "mandatory",
      emailVerificationByCodeEnabled: true,
      passwordResetByCodeEnabled: true,
    });
    const app = h.app();
    const first = secret("first passphrase of bea 44");
    expect((await app.request("POST", "auth/signup", { email: "bea@example.com", password: first })).status).toBe(401);
    const code = secret(codeFromMail(h.takeMails()[0]!));
    expect((await app.request("POST", "auth/email/verify", { key: code })).status).toBe(200);
    keepClientSecrets(app);

    const resetter = h.app();
    expect((await resetter.request("POST", "auth/password/request", { email: "bea@example.com" })).status).toBe(401);
    const resetCode = secret(codeFromMail(h.takeMails()[0]!));
    const second = secret("second passphrase of bea 55");
    const reset = await resetter.request("POST", "auth/password/reset", { key: resetCode, password: second });
    expect(reset.status).toBe(401);
    keepClientSecrets(resetter);

    expect([...lastValues(events).keys()]).toEqual(expect.arrayContaining(["email-verification", "password-reset", "signup"]));
    expectNoSecrets(events, ["bea@example.com"]);
  });
});
