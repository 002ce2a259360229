/**
 * Every operation of allauth's headless OpenAPI document that this project serves is routed for
 * each client the document allows, and answers as the document says (the harness's clients check
 * every answer against it). Operations of features out of scope are listed below and must still
 * be unrouted: serving one means taking it off the list.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { harness } from "../support/harness.ts";
import type { Harness } from "../support/harness.ts";
import { loadSpec } from "../support/openapi.ts";
import type { ApiClient } from "../support/openapi.ts";
import { startRedirect } from "../support/social.ts";
import { fastHasher } from "./support.ts";

/** Features of the document this project does not implement (README: "Out of scope"). */
const outOfScope: ReadonlyArray<{ readonly path: RegExp; readonly feature: string }> = [
  { path: /\/(auth|account)\/phone(\/|$)/, feature: "phone numbers (ACCOUNT_PHONE_*)" },
  { path: /\/auth\/2fa\//, feature: "two-factor authentication (allauth.mfa)" },
  { path: /\/auth\/webauthn\//, feature: "WebAuthn login and signup (allauth.mfa)" },
  { path: /\/account\/authenticators(\/|$)/, feature: "authenticators: TOTP, recovery codes, WebAuthn (allauth.mfa)" },
  { path: /\/tokens\/refresh$/, feature: "app access/refresh tokens (HEADLESS_TOKEN_STRATEGY with JWT)" },
];

interface Walked {
  readonly method: string;
  readonly path: string;
  readonly client: ApiClient;
  readonly excluded: boolean;
}

/** Each operation once per client its path allows (`{client}`, or the one client it names). */
async function operations(): Promise<ReadonlyArray<Walked>> {
  const { operations } = await loadSpec();
  return operations.flatMap((operation) => {
    const match = /^\/_allauth\/(\{client\}|browser|app)\/v1\/(.+)$/.exec(operation.path);
    if (match === null) {
      throw new Error(`an operation outside the API: ${operation.path}`);
    }
    const clients: ReadonlyArray<ApiClient> = match[1] === "{client}" ? ["browser", "app"] : [match[1] as ApiClient];
    const excluded = outOfScope.some((e) => e.path.test(operation.path));
    return clients.map((client) => ({ method: operation.method.toUpperCase(), path: match[2]!, client, excluded }));
  });
}

describe("the OpenAPI document, walked", () => {
  let h: Harness;
  let walked: ReadonlyArray<Walked>;
  beforeAll(async () => {
    h = await harness({
      account: { loginByCodeEnabled: true },
      usersessions: true,
      socialaccount: { providers: [{ type: "dummy" }] },
      passwordHasher: fastHasher,
    });
    walked = await operations();
  });
  afterAll(() => h.close());

  it("every served operation is routed for each of its clients and answers as the spec says", async () => {
    const clients = { browser: h.browser(), app: h.app() };
    const unrouted: Array<string> = [];
    const servedOutOfScope: Array<string> = [];
    for (const op of walked) {
      const label = `${op.method} ${op.client} ${op.path}`;
      if (op.path === "auth/provider/redirect") {
        // A form post that redirects (302) to the provider: `startRedirect` fails on anything else.
        await startRedirect(h, clients.browser, { provider: "dummy" });
        continue;
      }
      const { status } = await clients[op.client].request(op.method, op.path, op.method === "GET" ? undefined : {});
      if (op.excluded) {
        if (status !== 404) {
          servedOutOfScope.push(`${label} → ${status}`);
        }
      } else if (status === 404 || status === 405 || status === 501) {
        unrouted.push(`${label} → ${status}`);
      }
    }
    const count = (ops: ReadonlyArray<Walked>) => new Set(ops.map((op) => `${op.method} ${op.path}`)).size;
    const inScope = walked.filter((op) => !op.excluded);
    const excluded = walked.filter((op) => op.excluded);
    console.log(
      `OpenAPI walk: ${count(inScope)} operations walked (${inScope.length} requests over both clients), ` +
        `${count(excluded)} excluded as out of scope (each checked unrouted)`,
    );
    expect(unrouted, "operations the spec lists that are not routed").toEqual([]);
    expect(servedOutOfScope, "out-of-scope operations that are served: take them off the list").toEqual([]);
    expect(inScope.length).toBeGreaterThan(0);
  });

});
