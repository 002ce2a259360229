import { expect, test } from "vitest";
import { goodPassword, harness, keyFromMail } from "../support/harness.ts";

test("smoke", async () => {
  const h = await harness({ account: { loginMethods: ["email"], emailVerification: "mandatory", loginOnEmailConfirmation: true } });
  const b = h.browser();
  const r = await b.request("POST", "auth/signup", { email: "Ann@Example.com", password: goodPassword });
  console.log(r.status, JSON.stringify(r.body), h.signals.map(s => s.type), h.mails.length);
  const key = keyFromMail(h.mails[0]!);
  const g = await b.request("GET", "auth/email/verify", undefined, { "x-email-verification-key": key });
  console.log(g.status, JSON.stringify(g.body));
  const v = await b.request("POST", "auth/email/verify", { key });
  console.log(v.status, JSON.stringify(v.body), h.signals.map(s => s.type));
  const d = await b.request("DELETE", "auth/session");
  console.log(d.status, JSON.stringify(d.body), h.signals.map(s => s.type));
  const l = await b.request("POST", "auth/login", { email: "ann@example.com", password: goodPassword });
  console.log(l.status, JSON.stringify(l.body), h.signals.map(s => s.type));
  expect(1).toBe(1);
  await h.close();
});
