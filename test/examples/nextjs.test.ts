/**
 * The Next.js recipe (examples/nextjs/): its route handlers called with fetch `Request`s as Next
 * calls them, on a harness auth in place of examples/nextjs/auth.ts. A browser signs up, logs out
 * and in, and the app's own `/me` follows; the client IP is the address the proxy in front
 * (Vercel's edge) added last to `X-Forwarded-For`.
 */
import { afterAll, describe, expect, it, vi } from "vitest";
import type { Harness } from "../support/harness.ts";
import * as api from "../../examples/nextjs/app/%5Fallauth/[...path]/route.ts";
import * as me from "../../examples/nextjs/app/me/route.ts";
import { browser, browserFlow } from "./support.ts";

const state = vi.hoisted(() => ({ h: undefined as Harness | undefined }));

vi.mock("../../examples/nextjs/auth.ts", async () => {
  const { harness } = await import("../support/harness.ts");
  const { fastHasher } = await import("../http/support.ts");
  state.h = await harness({
    account: { loginMethods: ["email"], emailVerification: "none" },
    passwordHasher: fastHasher,
    // As examples/nextjs/auth.ts has it.
    trustedProxyCount: 1,
  });
  return { auth: state.h.auth };
});

afterAll(async () => {
  await state.h?.close();
});

type RouteModule = Readonly<Record<string, (request: Request) => Promise<Response>>>;

/** Next's part: the file that serves the path, and its export named after the method. */
function next(request: Request): Promise<Response> {
  const path = new URL(request.url).pathname;
  const module: RouteModule | undefined = path.startsWith("/_allauth/") ? api : path === "/me" ? me : undefined;
  const method = module?.[request.method];
  if (method === undefined) {
    return Promise.resolve(new Response(null, { status: module === undefined ? 404 : 405 }));
  }
  // The client sent its own X-Forwarded-For; the proxy in front appended the address it saw.
  request.headers.set("x-forwarded-for", "198.51.100.1, 203.0.113.7");
  return method(request);
}

describe("Next.js recipe", () => {
  it("exports the methods the API answers", () => {
    expect(Object.keys(api).sort()).toEqual(["DELETE", "GET", "PATCH", "POST", "PUT"]);
    expect(Object.keys(me)).toEqual(["GET"]);
  });

  it("signup, logout, login through the route handlers; /me follows the session", async () => {
    await browserFlow(state.h!, browser("http://localhost:3000", next), { mePath: "/me", ip: "203.0.113.7" });
  });

  it("unknown API paths are the API's 404", async () => {
    const response = await next(new Request("http://localhost:3000/_allauth/browser/v1/nowhere"));
    expect([response.status, await response.json()]).toEqual([404, { status: 404 }]);
    expect(state.h!.takeSignals()).toEqual([]);
  });
});
