/**
 * Real SMTP (SECURITY.md EM-05, EM-07, EM-08): `mailer: "smtp://…"` delivers through nodemailer
 * to a local `smtp-server`; the envelope recipient is the stored canonical address byte for byte,
 * one recipient only, the key in the delivered text verifies the address, and every mail carries
 * its text with a self-contained HTML alternative.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createAuth } from "../../src/auth.ts";
import { renderMail } from "../../src/mails.ts";
import type { Auth } from "../../src/auth.ts";
import { goodPassword, keyFromMail, testSecret } from "../support/harness.ts";
import { startSink } from "../support/smtp-sink.ts";
import type { Sink } from "../support/smtp-sink.ts";

let sink: Sink;
let auth: Auth;
let reports: Array<unknown>;

beforeEach(async () => {
  sink = await startSink();
  reports = [];
  auth = await createAuth(
    {
      secret: testSecret,
      database: "sqlite::memory:",
      mailer: `smtp://127.0.0.1:${sink.port}`,
      defaultFromEmail: "noreply@example.com",
      passwordHasher: { hash: async (p) => `fast$${p}`, verify: async (h, p) => h === `fast$${p}` },
      account: { loginMethods: ["email"], emailVerification: "mandatory" },
    },
    { report: (message, error) => void reports.push([message, error]) },
  );
});

afterEach(async () => {
  await auth.close();
  await sink.close();
});

async function post(path: string, body: unknown): Promise<{ status: number; body: any }> {
  const response = await auth.handler(
    new Request(`http://127.0.0.1/_allauth/app/v1/${path}`, {
      method: "POST",
      headers: { "content-type": "application/json", "user-agent": "vitest" },
      body: JSON.stringify(body),
    }),
    { ip: "10.3.0.1" },
  );
  return { status: response.status, body: await response.json() };
}

describe("SMTP delivery", () => {
  it("a mandatory-verification signup delivers one message to the canonical address, and its key verifies", async () => {
    const confirmed: Array<string> = [];
    auth.signals.on("email_confirmed", (payload) => void confirmed.push(payload.emailAddress.email));

    const res = await post("auth/signup", { email: "  Alice@Example.COM ", password: goodPassword });
    expect(res.status).toBe(401);
    await sink.waitFor(1);

    expect(sink.messages).toHaveLength(1);
    const [message] = sink.messages;
    expect(message!.rcptTo).toEqual(["alice@example.com"]);
    // on the wire: exactly one RCPT TO, the canonical address byte for byte
    const rcpt = sink.commands.filter((c) => /^RCPT TO:/i.test(c));
    expect(rcpt).toHaveLength(1);
    expect(Buffer.from(rcpt[0]!)).toEqual(Buffer.from("RCPT TO:<alice@example.com>"));
    expect(sink.commands.filter((c) => /^MAIL FROM:/i.test(c))).toEqual([expect.stringMatching(/^MAIL FROM:<noreply@example\.com>/)]);
    expect(message!.mailFrom).toBe("noreply@example.com");
    expect(message!.parsed.subject).toBe("[example.com] Please Confirm Your Email Address");
    expect(message!.parsed.to).toMatchObject({ value: [{ address: "alice@example.com" }] });
    expect(message!.parsed.cc).toBeUndefined();
    expect(message!.parsed.bcc).toBeUndefined();
    expect(message!.raw.toString("latin1")).not.toMatch(/Alice@Example\.COM/);

    const text = message!.parsed.text ?? "";
    const key = keyFromMail({ subject: "", text });
    expect(key).toMatch(/^[A-Za-z0-9_-]{43}$/);
    // Both parts, as the default renderer words them.
    const url = /http:\/\/\S+/.exec(text)![0];
    const rendered = renderMail("verification", { siteName: "example.com", subjectPrefix: "[example.com] ", to: "alice@example.com", user: null, url });
    expect(text).toBe(rendered.text);
    expect(message!.parsed.html).toBe(rendered.html);

    const verify = await post("auth/email/verify", { key });
    expect(verify.status).toBe(401);
    expect(confirmed).toEqual(["alice@example.com"]);
    expect(reports).toEqual([]);
  });

  it("an IDN address is delivered to its A-label form", async () => {
    const res = await post("auth/signup", { email: "Bob@Bücher.Example", password: goodPassword });
    expect(res.status).toBe(401);
    await sink.waitFor(1);
    expect(sink.messages).toHaveLength(1);
    expect(sink.commands.filter((c) => /^RCPT TO:/i.test(c))).toEqual(["RCPT TO:<bob@xn--bcher-kva.example>"]);
  });

  it("header-injection and list addresses never reach the SMTP server", async () => {
    for (const email of ["a@x.io\r\nBcc: e@evil.test", "a@x.com,b@y.com", "Name <a@x.com>", "victim\uff20example.com"]) {
      const res = await post("auth/signup", { email, password: goodPassword });
      expect(res.status).toBe(400);
    }
    // a valid signup afterwards is the only delivery
    await post("auth/signup", { email: "ok@example.com", password: goodPassword });
    await sink.waitFor(1);
    expect(sink.messages.map((m) => m.rcptTo)).toEqual([["ok@example.com"]]);
    expect(sink.commands.filter((c) => /^RCPT TO:/i.test(c))).toEqual(["RCPT TO:<ok@example.com>"]);
    expect(sink.commands.join("\n")).not.toMatch(/evil\.test|y\.com/);
  });

  it("every mail is multipart: the text, and an HTML alternative with no script, no outside resource and only its own link (EM-07)", async () => {
    // Markup is refused where a person types text that reaches a mail.
    expect((await post("auth/signup", { email: '<a href="https://evil.test">x</a>@example.com', password: goodPassword })).status).toBe(400);
    await post("auth/signup", { email: "owner@example.com", password: goodPassword });
    await post("auth/signup", { email: "owner@example.com", password: goodPassword });
    await post("auth/password/request", { email: "owner@example.com" });
    await sink.waitFor(3);
    expect(sink.messages.map((m) => m.parsed.subject)).toEqual([
      "[example.com] Please Confirm Your Email Address",
      "[example.com] Account Already Exists",
      "[example.com] Password Reset Email",
    ]);
    for (const message of sink.messages) {
      const raw = message.raw.toString("latin1");
      expect(raw).toMatch(/^Content-Type: multipart\/alternative/im);
      expect(raw).toMatch(/^Content-Type: text\/plain/im);
      expect(raw).toMatch(/^Content-Type: text\/html/im);
      const html = message.parsed.html;
      expect(typeof html).toBe("string");
      expect(html).toMatch(/^<!doctype html>\n<html lang="en">/);
      expect(html).not.toMatch(/<script|<img|<link|<iframe|\ssrc=|evil\.test/i);
      // Every link of the HTML part is the one the text part shows.
      for (const [, href] of (html as string).matchAll(/href="([^"]*)"/g)) {
        expect(message.parsed.text).toContain(href);
      }
    }
    expect(reports).toEqual([]);
  });

  it("the account-exists notice goes to the stored address, not the typed spelling", async () => {
    await post("auth/signup", { email: "owner@example.com", password: goodPassword });
    await post("auth/signup", { email: "OWNER@EXAMPLE.COM", password: goodPassword });
    await sink.waitFor(2);
    expect(sink.messages.map((m) => [m.rcptTo, m.parsed.subject])).toEqual([
      [["owner@example.com"], "[example.com] Please Confirm Your Email Address"],
      [["owner@example.com"], "[example.com] Account Already Exists"],
    ]);
    expect(sink.messages[1]!.parsed.text).not.toMatch(/verify-email/);
  });
});
