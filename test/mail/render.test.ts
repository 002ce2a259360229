/**
 * `mail.render` (issue #11 item 5): the default wording of every kind, text and HTML; a custom
 * render for one kind with the default for the rest, through real flows; a render that throws
 * or returns a bad shape fails its step; every interpolated value is escaped in HTML (EM-07).
 */
import { afterEach, describe, expect, it } from "vitest";
import { escapeHtml, mailKinds, renderMail } from "../../src/mails.ts";
import type { MailData, MailKind, RenderedMail } from "../../src/mails.ts";
import { MailRenderError } from "../../src/runtime/render-mails.ts";
import { fastHasher } from "../http/support.ts";
import { goodPassword, harness } from "../support/harness.ts";
import type { Harness } from "../support/harness.ts";

const base: MailData = {
  siteName: "Example",
  subjectPrefix: "[Example] ",
  to: "ann@example.com",
  user: { id: "u-1", email: "ann@example.com", username: "ann" },
};
const expiresAt = Date.UTC(2026, 0, 1, 12, 0, 0);

/** Fixed data for each kind (and the code-mode variants of the two that have one). */
const cases: ReadonlyArray<readonly [string, MailKind, MailData]> = [
  ["verification (link)", "verification", { ...base, url: "https://app.example/verify/KEY-1", expiresAt, signup: true }],
  ["verification (code)", "verification", { ...base, code: "ABCD-EFGH", expiresAt, signup: false }],
  ["password_reset (link)", "password_reset", { ...base, url: "https://app.example/reset/KEY-2", expiresAt }],
  ["password_reset (code)", "password_reset", { ...base, code: "IJKL-MNOP", expiresAt }],
  ["login_code", "login_code", { ...base, code: "QRST-UVWX", expiresAt }],
  ["account_exists", "account_exists", base],
  ["unknown_account", "unknown_account", { ...base, to: "nobody@example.com", user: null }],
  ["password_changed", "password_changed", base],
  ["password_set", "password_set", base],
  ["password_reset_done", "password_reset_done", base],
  ["email_changed", "email_changed", { ...base, to: "old@example.com" }],
  ["email_removed", "email_removed", { ...base, email: "gone@example.com" }],
  ["account_connected", "account_connected", { ...base, provider: "GitHub" }],
  ["account_disconnected", "account_disconnected", { ...base, provider: "GitHub" }],
  ["account_secured", "account_secured", base],
];

describe("renderMail()", () => {
  it("has a case for every kind", () => {
    expect(new Set(cases.map(([, kind]) => kind))).toEqual(new Set(mailKinds));
  });

  for (const [name, kind, data] of cases) {
    it(`words ${name} as text and as HTML`, () => {
      const mail = renderMail(kind, data);
      expect(mail.subject).toMatchSnapshot("subject");
      expect(mail.text).toMatchSnapshot("text");
      expect(mail.html).toMatchSnapshot("html");
      // The HTML is the text's paragraphs, in a plain, self-contained page.
      expect(mail.html).toMatch(/^<!doctype html>\n<html lang="en">\n/);
      expect(mail.html).toContain(`<title>${escapeHtml(mail.subject)}</title>`);
      expect(mail.html).not.toMatch(/<script|<img|<link|<iframe|\ssrc=|@import|url\(/i);
      const paragraphs = mail.text.trimEnd().split("\n\n");
      expect([...mail.html.matchAll(/<p>/g)]).toHaveLength(paragraphs.length);
      if (data.url !== undefined) {
        expect(mail.html).toContain(`<a href="${data.url}">${data.url}</a>`);
      }
      if (data.code !== undefined) {
        expect(mail.html).toContain(`<code style="font-size: 1.5em; letter-spacing: 0.1em">${data.code}</code>`);
        expect(mail.text).toMatch(new RegExp(`\n\n${data.code}\n\n`));
      }
    });
  }

  it("escapes every interpolated value in the HTML part and keeps the text part plain (EM-07)", () => {
    const hostile = '<script>alert("x")</script>';
    const data: MailData = {
      ...base,
      siteName: `Site & ${hostile}`,
      subjectPrefix: "[Site] ",
      to: `"><script>@example.com`,
      user: { id: "u-1", email: "a@example.com", username: hostile },
      url: `https://app.example/verify/"onmouseover="alert(1)`,
      email: `${hostile}@example.com`,
      provider: `Evil "Corp" <b>`,
    };
    for (const kind of ["verification", "account_exists", "email_removed", "account_connected"] as const) {
      const mail = renderMail(kind, data);
      expect(mail.html).not.toMatch(/<script|<b>|"onmouseover|"Corp"/);
      expect(mail.text).toContain("Hello from Site & <script>alert(\"x\")</script>!");
    }
    expect(renderMail("verification", data).html).toContain(
      '<a href="https://app.example/verify/&#34;onmouseover=&#34;alert(1)">https://app.example/verify/&#34;onmouseover=&#34;alert(1)</a>',
    );
    expect(renderMail("account_exists", data).html).toContain("using the email address &#34;&#62;&#60;script&#62;@example.com.");
    expect(renderMail("email_removed", data).html).toContain("The email address &#60;script&#62;alert(&#34;x&#34;)&#60;/script&#62;@example.com has");
    expect(renderMail("account_connected", data).html).toContain("from Evil &#34;Corp&#34; &#60;b&#62; has");
    expect(renderMail("account_connected", data).html).toContain("<p>Hello from Site &#38; &#60;script&#62;");
    expect(escapeHtml(`&<>"'`)).toBe("&#38;&#60;&#62;&#34;&#39;");
  });

  it("refuses a link or code mail without its link or code", () => {
    expect(() => renderMail("login_code", base)).toThrow("renderMail: data.code is missing");
    expect(() => renderMail("verification", base)).toThrow("renderMail: data.code is missing");
    expect(() => renderMail("email_removed", base)).toThrow("renderMail: data.email is missing");
  });
});

describe("mail.render through the flows", () => {
  let h: Harness;
  afterEach(async () => {
    await h.close();
  });

  const branded = (calls: Array<MailKind>) => async (kind: MailKind, data: MailData): Promise<RenderedMail> => {
    calls.push(kind);
    if (kind !== "verification") {
      return renderMail(kind, data);
    }
    const url = data.url ?? "";
    return {
      subject: `Welcome to Acme, ${data.user?.username ?? "friend"}`,
      text: `Confirm your address: ${url}\n`,
      html: `<p><a href="${escapeHtml(url)}">Confirm ${escapeHtml(data.to)}</a></p>`,
    };
  };

  it("brands one kind, leaves the rest to the default, and the mailer gets kind, data and both parts", async () => {
    const calls: Array<MailKind> = [];
    h = await harness({
      passwordHasher: fastHasher,
      account: { loginMethods: ["email"], emailVerification: "mandatory", signupFields: ["email*", "username*", "password1*"] },
      mail: { render: branded(calls) },
    });
    const before = Date.now();
    const res = await h.app().request("POST", "auth/signup", { email: "dana@example.com", username: "dana", password: goodPassword });
    expect(res.status).toBe(401);
    expect(h.takeSignals()).toEqual(["user_signed_up", "email_confirmation_sent"]);
    expect(calls).toEqual(["verification"]);

    const [mail] = h.takeMails();
    expect(mail).toMatchObject({
      to: "dana@example.com",
      kind: "verification",
      subject: "Welcome to Acme, dana",
      data: { siteName: "example.com", to: "dana@example.com", signup: true, user: { email: "dana@example.com", username: "dana" } },
    });
    const [user] = await h.query<{ id: string }>("SELECT id FROM auth_user");
    expect(mail!.data.user?.id).toBe(user!.id);
    expect(mail!.data.code).toBeUndefined();
    const url = mail!.data.url!;
    expect(mail!.text).toBe(`Confirm your address: ${url}\n`);
    expect(mail!.html).toBe(`<p><a href="${url}">Confirm dana@example.com</a></p>`);
    // Three days (allauth's `emailConfirmationExpireDays`) from the signup.
    expect(mail!.data.expiresAt).toBeGreaterThanOrEqual(before + 3 * 86_400_000);
    expect(mail!.data.expiresAt).toBeLessThanOrEqual(Date.now() + 3 * 86_400_000);

    const key = decodeURIComponent(new URL(url).pathname.split("/").pop()!);
    const verified = await h.app().request("POST", "auth/email/verify", { key });
    expect(verified.status).toBe(401);
    expect(h.takeSignals()).toEqual(["email_confirmed"]);
    expect(await h.query("SELECT verified FROM auth_email_address")).toEqual([{ verified: 1 }]);
    // Confirmed by a client that never held the password: the default "Account Secured" notice.
    expect(calls).toEqual(["verification", "account_secured"]);
    const [secured] = h.takeMails();
    expect(secured).toMatchObject({ kind: "account_secured", subject: "[example.com] Account Secured", data: { user: { id: user!.id } } });
    expect(secured!.text).toBe(renderMail("account_secured", secured!.data).text);

    // The same address again: the owner gets allauth's own "Account Already Exists", about them.
    const again = await h.app().request("POST", "auth/signup", { email: "dana@example.com", username: "dana2", password: goodPassword });
    expect(again.status).toBe(401);
    expect(h.takeSignals()).toEqual([]);
    expect(calls).toEqual(["verification", "account_secured", "account_exists"]);
    const [exists] = h.takeMails();
    expect(exists).toMatchObject({
      kind: "account_exists",
      to: "dana@example.com",
      subject: "[example.com] Account Already Exists",
      data: { user: { id: user!.id, email: "dana@example.com", username: "dana" } },
    });
    expect(exists!.text).toBe(renderMail("account_exists", exists!.data).text);
    expect(exists!.html).toMatch(/^<!doctype html>/);
  });

  it("a login code mail carries its code and when it expires; an unknown address gets unknown_account with no user", async () => {
    h = await harness({
      passwordHasher: fastHasher,
      account: { loginMethods: ["email"], emailVerification: "none", loginByCodeEnabled: true },
    });
    const first = h.app();
    await first.request("POST", "auth/signup", { email: "lee@example.com", password: goodPassword });
    await h.query("UPDATE auth_email_address SET verified = 1");
    await first.request("DELETE", "auth/session");
    const client = h.app();
    h.takeSignals();
    h.takeMails();
    const before = Date.now();
    const res = await client.request("POST", "auth/code/request", { email: "lee@example.com" });
    expect(res.status).toBe(401);
    const [mail] = h.takeMails();
    expect(mail).toMatchObject({ kind: "login_code", to: "lee@example.com", subject: "[example.com] Sign In Code" });
    expect(mail!.data.code).toMatch(/^[A-Z]{4}-[A-Z]{4}$/);
    expect(mail!.text).toContain(`\n\n${mail!.data.code}\n\n`);
    expect(mail!.html).toContain(`>${mail!.data.code}</code>`);
    // allauth's `LOGIN_BY_CODE_TIMEOUT`: 180 s.
    expect(mail!.data.expiresAt).toBeGreaterThanOrEqual(before + 180_000);
    expect(mail!.data.expiresAt).toBeLessThanOrEqual(Date.now() + 180_000);
    const confirmed = await client.request("POST", "auth/code/confirm", { code: mail!.data.code });
    expect(confirmed.status).toBe(200);
    expect(h.takeSignals()).toEqual(["user_logged_in"]);

    await h.app().request("POST", "auth/code/request", { email: "nobody@example.com" });
    const [unknown] = h.takeMails();
    expect(unknown).toMatchObject({ kind: "unknown_account", to: "nobody@example.com", data: { user: null } });
    expect(unknown!.data.code).toBeUndefined();
    expect(h.takeSignals()).toEqual([]);
  });

  const failing: ReadonlyArray<readonly [string, (kind: MailKind, data: MailData) => unknown, string]> = [
    [
      "throws",
      () => {
        throw new Error("template missing");
      },
      'mail.render("verification") threw',
    ],
    ["rejects", async () => Promise.reject(new Error("template missing")), 'mail.render("verification") threw'],
    ["returns no html", () => ({ subject: "Hi", text: "Hi" }), 'mail.render("verification") must return { subject, text, html }, three strings'],
    ["returns nothing", () => undefined, 'mail.render("verification") must return { subject, text, html }, three strings'],
    [
      "returns a subject with a line break (EM-08)",
      () => ({ subject: "Hi\r\nBcc: evil@example.com", text: "Hi", html: "<p>Hi</p>" }),
      'mail.render("verification") returned a subject that is empty or has a line break',
    ],
  ];
  for (const [name, render, message] of failing) {
    it(`a render that ${name} fails the step: 500, nothing kept, no signal, no mail, the failure reported`, async () => {
      const reports: Array<readonly [string, unknown]> = [];
      h = await harness(
        {
          passwordHasher: fastHasher,
          account: { loginMethods: ["email"], emailVerification: "mandatory", signupFields: ["email*", "password1*"] },
          mail: { render: render as never },
        },
        { report: (what, error) => void reports.push([what, error]) },
      );
      const res = await h.app().request("POST", "auth/signup", { email: "eve@example.com", password: goodPassword });
      expect(res.status).toBe(500);
      expect(res.body).toEqual({ status: 500 });
      expect(h.takeSignals()).toEqual([]);
      expect(h.takeMails()).toEqual([]);
      expect(await h.count("auth_user")).toBe(0);
      expect(await h.count("auth_email_address")).toBe(0);
      expect(await h.count("auth_outbox")).toBe(0);
      expect(reports).toHaveLength(1);
      const [what, error] = reports[0]!;
      expect(what).toBe("request failed");
      expect(error).toBeInstanceOf(MailRenderError);
      expect(error).toMatchObject({ code: "ERR_MAIL_RENDER", kind: "verification", message });
      if (message.endsWith("threw")) {
        expect((error as Error).cause).toEqual(new Error("template missing"));
      }
    });
  }
});
