/**
 * Mail latency (issue #10 finding 5, SECURITY.md EN-01, EN-04's timing): a response never waits for the mailer.
 * With a slow mailer, `auth/password/request` and `auth/code/request` for a known account take as
 * long as for an unknown address (which gets no mail while `emailUnknownAccounts` is off), and
 * the mail still arrives after the response. Medians over 200 requests each, interleaved.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { Mail } from "../../src/services/mailer.ts";
import { fastHasher } from "../http/support.ts";
import { goodPassword, harness } from "../support/harness.ts";
import type { Harness } from "../support/harness.ts";

const mailerDelayMs = 60;
const rounds = 200;

let h: Harness;
afterEach(async () => {
  await h?.close();
});

function median(values: ReadonlyArray<number>): number {
  const sorted = [...values].sort((a, b) => a - b);
  return (sorted[Math.floor((sorted.length - 1) / 2)]! + sorted[Math.ceil((sorted.length - 1) / 2)]!) / 2;
}

/** One request straight to the handler, timed until its response body is read. */
async function timed(path: string, body: unknown): Promise<{ ms: number; status: number }> {
  const started = performance.now();
  const response = await h.auth.handler(
    new Request(`http://127.0.0.1/_allauth/app/v1/${path}`, {
      method: "POST",
      headers: { "content-type": "application/json", "user-agent": "vitest" },
      body: JSON.stringify(body),
    }),
    { ip: "10.7.0.1" },
  );
  await response.text();
  return { ms: performance.now() - started, status: response.status };
}

async function compare(path: string): Promise<void> {
  const known: Array<number> = [];
  const unknown: Array<number> = [];
  const statuses = new Set<number>();
  for (let i = 0; i < rounds; i++) {
    // Interleaved, so drift in the machine's load falls on both sides alike.
    const a = await timed(path, { email: "ann@example.com" });
    const b = await timed(path, { email: `nobody${i}@example.com` });
    known.push(a.ms);
    unknown.push(b.ms);
    statuses.add(a.status).add(b.status);
  }
  await h.auth.outbox.settled();
  const [k, u] = [median(known), median(unknown)];
  console.log(`${path}: median ${k.toFixed(2)} ms known, ${u.toFixed(2)} ms unknown (mailer ${mailerDelayMs} ms)`);
  // Waiting for the mailer would put the whole delay between them; noise stays well below half.
  expect(Math.abs(k - u)).toBeLessThan(mailerDelayMs / 2);
  expect(k).toBeLessThan(mailerDelayMs);
  expect(statuses.size).toBe(1);
}

describe("mail latency does not tell which accounts exist", () => {
  for (const [path, status, loginByCodeEnabled] of [
    ["auth/password/request", 200, false],
    ["auth/code/request", 401, true],
  ] as const) {
    it(`${path}: known and unknown addresses answer in the same time, and the known one's mail is sent after`, async () => {
      const sent: Array<Mail> = [];
      h = await harness({
        account: { loginMethods: ["email"], emailVerification: "optional", rateLimits: false, loginByCodeEnabled, emailUnknownAccounts: false },
        passwordHasher: fastHasher,
        mailer: {
          send: async (mail) => {
            await new Promise((resolve) => setTimeout(resolve, mailerDelayMs));
            sent.push(mail);
          },
        },
        outbox: { pollIntervalMs: false },
      });
      const signup = await h.app().request("POST", "auth/signup", { email: "ann@example.com", password: goodPassword });
      expect(signup.status).toBe(200);
      sent.length = 0;

      const first = await timed(path, { email: "ann@example.com" });
      expect(first.status).toBe(status);
      // The response came back before the mailer finished; the mail follows.
      expect(sent).toHaveLength(0);
      await h.auth.outbox.settled();
      expect(sent.map((mail) => mail.to)).toEqual(["ann@example.com"]);

      await compare(path);
      expect(sent.filter((mail) => mail.to !== "ann@example.com")).toEqual([]);
      expect(sent).toHaveLength(1 + rounds);
    }, 120_000);
  }
});
