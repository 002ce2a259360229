/**
 * Rate-limit keys (SECURITY.md TH-01, TH-02, TH-04, TH-05; issue #10 finding 6): per-IP limits key
 * an IPv6 client by its /64 and an IPv4-mapped IPv6 address as the IPv4 address, so rotating
 * addresses inside one /64 or respelling an IPv4 address buys no budget; `login_failed` counts per
 * account once the identifier names one, so the email, the username and each added address share
 * one budget of 5 failures; and a successful login does not clear its IP's failures.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { AuthConfig } from "../../src/config.ts";
import { goodPassword, harness } from "../support/harness.ts";
import type { Harness } from "../support/harness.ts";
import { fastHasher } from "../http/support.ts";

let h: Harness;

afterEach(async () => {
  await h?.close();
});

async function open(account: AuthConfig["account"]): Promise<Harness> {
  h = await harness({ passwordHasher: fastHasher, account });
  return h;
}

/** One app-client request from the peer address `ip`. */
async function post(ip: string, path: string, body: unknown): Promise<{ status: number; body: any }> {
  const response = await h.auth.handler(
    new Request(`http://127.0.0.1/_allauth/app/v1/${path}`, {
      method: "POST",
      headers: { "content-type": "application/json", "user-agent": "vitest" },
      body: JSON.stringify(body),
    }),
    { ip },
  );
  return { status: response.status, body: JSON.parse(await response.text()) };
}

/** Signs up `count` fresh accounts from the addresses `ips` in turn; the statuses in order. */
async function signups(ips: ReadonlyArray<string>, count: number): Promise<Array<number>> {
  const statuses: Array<number> = [];
  for (let i = 0; i < count; i++) {
    statuses.push((await post(ips[i % ips.length]!, "auth/signup", { email: `user${i}@example.com`, password: goodPassword })).status);
  }
  return statuses;
}

describe("per-IP keys (signup 20/m/ip)", () => {
  it("40 signups alternating addresses within one IPv6 /64 are refused from the 21st", async () => {
    await open({ loginMethods: ["email"], emailVerification: "none" });
    const ips = ["2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:fffe", "2001:DB8:1:2:0:0:0:3", "2001:db8:0001:0002:abcd::42"];
    const statuses = await signups(ips, 40);
    expect(statuses.slice(0, 20)).toEqual(Array(20).fill(200));
    expect(statuses.slice(20)).toEqual(Array(20).fill(429));
    expect(await h.count("auth_user")).toBe(20);
    // Another /64 keeps its own budget.
    expect((await post("2001:db8:1:3::1", "auth/signup", { email: "other@example.com", password: goodPassword })).status).toBe(200);
  });

  it("192.0.2.1 and ::ffff:192.0.2.1 share one budget", async () => {
    await open({ loginMethods: ["email"], emailVerification: "none" });
    const statuses = await signups(["192.0.2.1", "::ffff:192.0.2.1", "::FFFF:c000:201"], 22);
    expect(statuses.slice(0, 20)).toEqual(Array(20).fill(200));
    expect(statuses.slice(20)).toEqual([429, 429]);
    expect((await post("192.0.2.2", "auth/signup", { email: "other@example.com", password: goodPassword })).status).toBe(200);
  });
});

describe("login_failed per account (5/300s/key)", () => {
  it("5 wrong passwords spread over the email, the username and a second address lock the account", async () => {
    await open({ loginMethods: ["email", "username"], emailVerification: "none" });
    const owner = h.app();
    expect((await owner.request("POST", "auth/signup", { email: "ann@example.com", username: "ann", password: goodPassword })).status).toBe(200);
    expect((await owner.request("POST", "account/email", { email: "ann.second@example.com" })).status).toBe(200);
    const identifiers = [{ email: "ann@example.com" }, { username: "ann" }, { email: "ann.second@example.com" }];
    for (let i = 0; i < 5; i++) {
      const res = await post(`198.51.100.${i + 1}`, "auth/login", { ...identifiers[i % 3], password: `wrong password ${i}` });
      expect(res.status).toBe(400);
      expect(res.body.errors[0].code).toMatch(/_password_mismatch$/);
    }
    for (const identifier of identifiers) {
      const res = await post("198.51.100.99", "auth/login", { ...identifier, password: goodPassword });
      expect(res.status).toBe(400);
      expect(res.body.errors).toEqual([{ code: "too_many_login_attempts", message: expect.any(String) }]);
    }
    // An identifier that names no account keeps its own budget.
    expect((await post("198.51.100.98", "auth/login", { email: "nobody@example.com", password: "wrong password" })).body.errors[0].code).toBe(
      "email_password_mismatch",
    );
  });
});

describe("a success does not reset another client's failures (TH-04)", () => {
  it("9 failures from one IP, a good login of another account from it, then the 10th failure spends the 10/m/ip budget", async () => {
    await open({ loginMethods: ["email"], emailVerification: "none" });
    for (const email of ["ann@example.com", "bob@example.com", "cy@example.com"]) {
      expect((await post("192.0.2.1", "auth/signup", { email, password: goodPassword })).status).toBe(200);
    }
    const attacker = "203.0.113.7";
    // Under each account's 5/300s/key: 4 at Ann, 4 at Bob, 1 at an unknown address.
    const targets = [...Array(4).fill("ann@example.com"), ...Array(4).fill("bob@example.com"), "nobody@example.com"];
    for (const email of targets) {
      const res = await post(attacker, "auth/login", { email, password: "wrong password again" });
      expect(res.body.errors[0].code).toBe("email_password_mismatch");
    }
    expect((await post(attacker, "auth/login", { email: "cy@example.com", password: goodPassword })).status).toBe(200);
    expect((await post(attacker, "auth/login", { email: "nobody2@example.com", password: "wrong password again" })).body.errors[0].code).toBe(
      "email_password_mismatch",
    );
    const throttled = await post(attacker, "auth/login", { email: "cy@example.com", password: goodPassword });
    expect(throttled.status).toBe(400);
    expect(throttled.body.errors).toEqual([{ code: "too_many_login_attempts", message: expect.any(String) }]);
    // Another client keeps its own budget.
    expect((await post("203.0.113.8", "auth/login", { email: "cy@example.com", password: goodPassword })).status).toBe(200);
  });
});
