/**
 * The client's IP (issue #11 item 3): a handler that is never told the client's address says so
 * once, with the fix, instead of silently keying every client's limits on one bucket.
 */
import { afterEach, describe, expect, it } from "vitest";
import { unknownIpWarning } from "../../src/http/handler.ts";
import { harness } from "../support/harness.ts";
import type { Harness } from "../support/harness.ts";

let h: Harness;
afterEach(async () => {
  await h?.close();
});

const config = (options?: { ip?: string }, headers: Record<string, string> = {}) =>
  h.auth.handler(new Request("http://127.0.0.1/_allauth/app/v1/config", { headers }), options);

describe("a handler without the client's IP", () => {
  it("reports it once, naming the fix; a handler given the IP says nothing", async () => {
    const reports: Array<[string, unknown]> = [];
    h = await harness({}, { report: (message, error) => void reports.push([message, error]) });
    reports.length = 0;
    expect((await config({ ip: "192.0.2.7" })).status).toBe(200);
    expect(reports).toEqual([]);
    expect((await config()).status).toBe(200);
    expect((await config()).status).toBe(200);
    expect(reports).toEqual([[unknownIpWarning, undefined]]);
    expect(unknownIpWarning).toMatch(/ip: req\.socket\.remoteAddress/);
    expect(unknownIpWarning).toMatch(/trustedProxyCount/);
  });

  it("behind a trusted proxy, X-Forwarded-For is the address: no report", async () => {
    const reports: Array<string> = [];
    h = await harness({ trustedProxyCount: 1 }, { report: (message) => void reports.push(message) });
    reports.length = 0;
    expect((await config(undefined, { "x-forwarded-for": "198.51.100.4" })).status).toBe(200);
    expect(reports).toEqual([]);
  });
});
