/**
 * The demo's mailbox: a mailer that keeps every mail in memory (and prints it, as the console
 * mailer does), and the `/mailbox` page that lists them newest first, with each link clickable
 * and each code in its own element beside a copy button. Development only: it holds keys and codes.
 */
import type { AuthConfig, Mail } from "authmachines";

type MailerLike = Exclude<NonNullable<AuthConfig["mailer"]>, string>;

export interface MailboxEntry {
  readonly id: number;
  readonly to: string;
  readonly subject: string;
  readonly text: string;
  readonly kind: string;
  readonly url: string | undefined;
  readonly code: string | undefined;
  /** When it arrived, as ISO 8601 (the demo is not a machine or library step: wall time is fine). */
  readonly at: string;
}

export interface Mailbox {
  readonly mailer: MailerLike;
  readonly mails: ReadonlyArray<MailboxEntry>;
  /** Resolves with the mails once there are at least `count`. */
  waitFor(count: number): Promise<ReadonlyArray<MailboxEntry>>;
}

export function createMailbox(options: { readonly print: boolean }): Mailbox {
  const mails: Array<MailboxEntry> = [];
  const waiting: Array<{ count: number; resolve: (mails: ReadonlyArray<MailboxEntry>) => void }> = [];
  const mailer: MailerLike = {
    async send(mail: Mail) {
      const entry: MailboxEntry = {
        id: mails.length + 1,
        to: mail.to,
        subject: mail.subject,
        text: mail.text,
        kind: mail.kind,
        url: mail.data.url,
        code: mail.data.code,
        at: new Date().toISOString(),
      };
      mails.push(entry);
      if (options.print) {
        console.log(`\n[mailbox] ${entry.kind} to ${entry.to}: ${entry.subject}\n${entry.text.trim()}\n`);
      }
      for (const waiter of waiting.splice(0)) {
        if (mails.length >= waiter.count) waiter.resolve([...mails]);
        else waiting.push(waiter);
      }
    },
  };
  return {
    mailer,
    mails,
    waitFor: (count) =>
      mails.length >= count ? Promise.resolve([...mails]) : new Promise((resolve) => waiting.push({ count, resolve })),
  };
}

const escape = (text: string) =>
  text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);

/** The mail's text with its link as a link (escaped everywhere else). */
function textWithLink(entry: MailboxEntry): string {
  const text = escape(entry.text.trim());
  if (entry.url === undefined) return text;
  const url = escape(entry.url);
  return text.split(url).join(`<a href="${url}">${url}</a>`);
}

/** The inside of the mailbox page's `<main>`. */
export function renderMailbox(mailbox: Mailbox): string {
  if (mailbox.mails.length === 0) {
    return `<h1>Mailbox</h1><p id="mailbox-empty">No mail yet. Every mail the demo sends shows up here.</p><p><a href="/mailbox">Refresh</a></p>`;
  }
  const items = [...mailbox.mails].reverse().map((entry) => {
    const code = entry.code === undefined
      ? ""
      : `<p class="code-line">Code: <code class="mail-code" id="code-${entry.id}">${escape(entry.code)}</code>
  <button type="button" class="copy" data-copy="code-${entry.id}" aria-describedby="mail-${entry.id}">Copy code</button></p>`;
    const link = entry.url === undefined ? "" : `<p><a class="mail-link" href="${escape(entry.url)}" aria-describedby="mail-${entry.id}">Open the link</a></p>`;
    return `<li><article class="mail" aria-labelledby="mail-${entry.id}">
  <h2 id="mail-${entry.id}">${escape(entry.subject)}</h2>
  <p class="meta">To <strong>${escape(entry.to)}</strong> · <time datetime="${entry.at}">${entry.at.slice(11, 19)} UTC</time></p>
  ${link}${code}
  <details><summary>Full text</summary><pre>${textWithLink(entry)}</pre></details>
</article></li>`;
  });
  return `<h1>Mailbox</h1>
<p>${mailbox.mails.length === 1 ? "1 mail" : `${mailbox.mails.length} mails`}, newest first. <a href="/mailbox">Refresh</a></p>
<ol class="mails" reversed>${items.join("\n")}</ol>`;
}
