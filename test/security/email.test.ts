/**
 * Email handling (SECURITY.md §8 EM-01, EM-02, EM-05, EM-06): one canonical, lower-cased row per
 * address; every mail goes to the stored canonical address, never to what was typed; look-alike
 * spellings never reach the mailer; and lookups keyed on an address (the failed-login throttle)
 * use the canonical form, so respelling an address does not buy more attempts.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { AuthConfig } from "../../src/config.ts";
import { goodPassword, harness, keyFromMail } from "../support/harness.ts";
import type { ClientResponse, Harness } from "../support/harness.ts";

const fastHasher = {
  hash: async (p: string) => `fast$${p}`,
  verify: async (h: string, p: string) => h === `fast$${p}`,
};

let h: Harness;

afterEach(async () => {
  await h?.close();
});

async function open(account: AuthConfig["account"]): Promise<Harness> {
  h = await harness({ passwordHasher: fastHasher, account: { loginMethods: ["email"], ...account } });
  return h;
}

function signup(email: string, password = goodPassword): Promise<ClientResponse> {
  return h.app().request("POST", "auth/signup", { email, password });
}

function login(email: string, password: string): Promise<ClientResponse> {
  return h.app().request("POST", "auth/login", { email, password });
}

async function addresses(): Promise<Array<string>> {
  return (await h.query<{ email: string }>("SELECT email FROM auth_email_address ORDER BY email")).map((r) => r.email);
}

describe("one canonical row per address (EM-01)", () => {
  it("Alice@Example.COM then alice@example.com: the second is taken; one lower-case row", async () => {
    await open({ emailVerification: "optional" });
    expect((await signup("Alice@Example.COM")).status).toBe(200);
    const second = await signup("alice@example.com");
    expect(second.status).toBe(400);
    expect(second.body.errors).toEqual([{ param: "email", code: "email_taken", message: expect.any(String) }]);
    expect(await addresses()).toEqual(["alice@example.com"]);
    const users = await h.query<{ email: string }>("SELECT email FROM auth_user");
    expect(users.map((u) => u.email)).toEqual(["alice@example.com"]);
  });

  it.each([
    ["upper case", "ALICE@EXAMPLE.COM"],
    ["surrounding spaces", "  alice@example.com  "],
    ["fullwidth letters in the domain (IDNA-mapped)", "alice@\uff45xample.com"],
    ["mixed case domain", "alice@EXAMPLE.com"],
  ])("%s is the same address", async (_name, spelling) => {
    await open({ emailVerification: "optional" });
    expect((await signup("alice@example.com")).status).toBe(200);
    const res = await signup(spelling);
    expect(res.body.errors?.[0]?.code).toBe("email_taken");
    expect(await addresses()).toEqual(["alice@example.com"]);
  });

  it("an IDN domain is stored as A-labels, and the U-label spelling is the same address", async () => {
    await open({ emailVerification: "optional" });
    expect((await signup("user@Bücher.Example")).status).toBe(200);
    expect(await addresses()).toEqual(["user@xn--bcher-kva.example"]);
    expect((await signup("user@xn--bcher-kva.example")).body.errors?.[0]?.code).toBe("email_taken");
    expect((await signup("USER@BÜCHER.example")).body.errors?.[0]?.code).toBe("email_taken");
  });

  it("dots and plus tags are kept: they are different addresses", async () => {
    await open({ emailVerification: "optional" });
    expect((await signup("alice@example.com")).status).toBe(200);
    expect((await signup("a.lice@example.com")).status).toBe(200);
    expect((await signup("alice+tag@example.com")).status).toBe(200);
    expect(await addresses()).toEqual(["a.lice@example.com", "alice+tag@example.com", "alice@example.com"]);
  });

  it("with preventEnumeration strict (optional verification) a duplicate is stored in the same canonical form", async () => {
    await open({ emailVerification: "optional", preventEnumeration: "strict" });
    await signup("alice@example.com");
    await signup("ALICE@Example.com");
    expect(await addresses()).toEqual(["alice@example.com", "alice@example.com"]);
  });
});

describe("mail goes to the stored canonical address (EM-02, EM-05)", () => {
  it.each([
    ["mixed case", "Alice@Example.COM", "alice@example.com"],
    ["surrounding spaces", " alice@example.com\t", "alice@example.com"],
    ["IDN domain", "Bob@Bücher.Example", "bob@xn--bcher-kva.example"],
    ["fullwidth domain letters", "carol@\uff45xample.com", "carol@example.com"],
  ])("verification mail for %s", async (_name, typed, stored) => {
    await open({ emailVerification: "mandatory" });
    const res = await signup(typed);
    expect(res.status).toBe(401);
    expect(await addresses()).toEqual([stored]);
    expect(h.mails.map((m) => m.to)).toEqual([stored]);
    expect(h.mails[0]!.text).not.toContain(typed.trim());
  });

  it("the account-exists notice goes to the stored address, not the typed spelling", async () => {
    await open({ emailVerification: "mandatory", preventEnumeration: true });
    await signup("owner@example.com");
    h.takeMails();
    await signup("  OWNER@\uff25xample.COM ");
    const mails = h.takeMails();
    expect(mails.map((m) => [m.to, m.subject])).toEqual([["owner@example.com", "[example.com] Account Already Exists"]]);
    expect(mails[0]!.text).toContain("owner@example.com");
    expect(mails[0]!.text).not.toMatch(/OWNER|\uff25/);
  });

  it("a login that re-sends the verification mails the stored address", async () => {
    await open({ emailVerification: "mandatory", rateLimits: { confirmEmail: false } });
    await signup("dave@example.com");
    h.takeMails();
    const res = await login("DAVE@EXAMPLE.COM", goodPassword);
    expect(res.status).toBe(401);
    const mails = h.takeMails();
    expect(mails.map((m) => m.to)).toEqual(["dave@example.com"]);
    // the new key verifies the stored address
    const verify = await h.app().request("POST", "auth/email/verify", { key: keyFromMail(mails[0]!) });
    expect(verify.status).toBe(401);
    const [row] = await h.query<{ verified: number }>("SELECT verified FROM auth_email_address");
    expect(Number(row!.verified)).toBe(1);
  });

  it("the recipient is always a single, clean address", async () => {
    await open({ emailVerification: "mandatory" });
    for (const typed of ["a@x.com,b@y.com", "Name <a@x.com>", "a@x.io\r\nBcc: e@evil.test", "victim\uff20example.com"]) {
      await signup(typed);
    }
    await signup("ok@example.com");
    expect(h.mails.map((m) => m.to)).toEqual(["ok@example.com"]);
    for (const mail of h.mails) {
      expect(mail.to).toMatch(/^[a-z0-9.+_-]+@[a-z0-9.-]+$/);
    }
  });
});

describe("look-alike addresses (EM-02, EM-03)", () => {
  it("a dotless-i spelling neither matches the account nor receives mail", async () => {
    await open({ emailVerification: "mandatory", preventEnumeration: true });
    await signup("mike@example.org");
    h.takeMails();
    const res = await signup("m\u0131ke@example.org");
    expect(res.status).toBe(400);
    expect(res.body.errors).toEqual([{ param: "email", code: "invalid", message: expect.any(String) }]);
    expect(h.mails).toEqual([]);
    const loginRes = await login("m\u0131ke@example.org", goodPassword);
    expect(loginRes.status).toBe(400);
    expect(loginRes.body.errors).toEqual([{ param: "email", code: "invalid", message: "Enter a valid email address." }]);
  });

  it("a Cyrillic look-alike is refused, not stored next to the real one", async () => {
    await open({ emailVerification: "optional" });
    await signup("admin@example.com");
    const res = await signup("\u0430dmin@example.com");
    expect(res.body.errors).toEqual([{ param: "email", code: "invalid", message: expect.any(String) }]);
    expect(await addresses()).toEqual(["admin@example.com"]);
  });

  it("a domain label mixing Latin with a Cyrillic а is refused at signup (UTS #39; issue #10 finding 10)", async () => {
    await open({ emailVerification: "mandatory" });
    await signup("victim@example.com");
    h.takeMails();
    for (const email of ["victim@ex\u0430mple.com", "victim@g\u03bfogle.com"]) {
      const res = await signup(email);
      expect(res.status).toBe(400);
      expect(res.body.errors).toEqual([{ param: "email", code: "invalid", message: "Enter a valid email address." }]);
    }
    expect(await addresses()).toEqual(["victim@example.com"]);
    expect(h.mails).toEqual([]);
  });

  it("a fullwidth at sign is refused rather than normalised into a second address", async () => {
    await open({ emailVerification: "mandatory" });
    const res = await signup("a@b.com\uff20evil.test");
    expect(res.body.errors).toEqual([{ param: "email", code: "invalid", message: expect.any(String) }]);
    expect(await addresses()).toEqual([]);
    expect(h.mails).toEqual([]);
  });
});

describe("the failed-login throttle is keyed on the canonical address", () => {
  /** Five failures per address in 300 s (allauth's default `5/300s/key`), each from a fresh IP. */
  it("respelling the address does not buy more attempts", async () => {
    await open({ emailVerification: "none" });
    expect((await signup("victim@example.com")).status).toBe(200);
    const spellings = [
      "victim@example.com",
      "VICTIM@example.com",
      "victim@\uff45xample.com",
      "victim@e\uff58ample.com",
      " victim@EXAMPLE.com ",
      "victim@ex\uff41mple.com",
    ];
    const results: Array<string> = [];
    for (const spelling of spellings) {
      const res = await login(spelling, "wrong password, guess number x");
      results.push(res.body.errors[0].code);
    }
    expect(results.slice(0, 5)).toEqual(Array(5).fill("email_password_mismatch"));
    expect(results[5]).toBe("too_many_login_attempts");
    // the right password, under yet another spelling, is throttled as well
    const res = await login("victim@exa\uff4dple.com", goodPassword);
    expect(res.status).toBe(400);
    expect(res.body.errors[0].code).toBe("too_many_login_attempts");
  });
});
