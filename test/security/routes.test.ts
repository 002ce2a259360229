/**
 * The route tables answer only their own entries (SECURITY.md IV-03, IV-09; issue #10 finding 10):
 * a path or method named after an object's prototype members (`constructor`, `toString`,
 * `__proto__`, `hasOwnProperty`) is an unknown path (404) or a wrong method (405), answered as
 * JSON, never a 500 or a prototype member called as an endpoint.
 */
import { afterEach, describe, expect, it } from "vitest";
import { harness } from "../support/harness.ts";
import type { Harness } from "../support/harness.ts";

let h: Harness;

afterEach(async () => {
  await h?.close();
});

const members = ["constructor", "toString", "__proto__", "hasOwnProperty", "valueOf", "__defineGetter__"];

async function send(method: string, path: string): Promise<{ status: number; body: unknown; type: string | null }> {
  const response = await h.auth.handler(new Request(`http://127.0.0.1/_allauth/${path}`, { method }), { ip: "10.9.9.9" });
  return { status: response.status, body: JSON.parse(await response.text()), type: response.headers.get("content-type") };
}

describe("prototype members are not routes", () => {
  it.each(members.flatMap((m) => [`browser/v1/${m}`, `app/v1/${m}`, `browser/v1/config/${m}`]))("GET %s answers a JSON 404", async (path) => {
    h = await harness();
    expect(await send("GET", path)).toEqual({ status: 404, body: { status: 404 }, type: "application/json" });
  });

  it.each(members.filter((m) => m !== "__proto__").flatMap((m) => [["config", m], ["auth/session", m], ["auth/login", m]]))(
    "%s with method %s answers a JSON 405",
    async (path, method) => {
      h = await harness();
      expect(await send(method!, `browser/v1/${path}`)).toEqual({ status: 405, body: { status: 405 }, type: "application/json" });
      expect(await send(method!, `app/v1/${path}`)).toEqual({ status: 405, body: { status: 405 }, type: "application/json" });
    },
  );

  it("a method spelled __proto__ answers a JSON 405 and the known routes still work", async () => {
    h = await harness();
    expect(await send("__proto__", "browser/v1/config")).toEqual({ status: 405, body: { status: 405 }, type: "application/json" });
    expect((await send("GET", "browser/v1/config")).status).toBe(200);
    expect((await send("GET", "app/v1/auth/session")).status).toBe(401);
  });
});
