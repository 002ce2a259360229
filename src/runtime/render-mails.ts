/**
 * Renders a step's queued mails before it commits, so the outbox seals the finished mail: the
 * account each mail is about is read inside the step's transaction (as the step left it), then
 * `mail.render` (or the default) words it. A renderer that throws, or returns anything but three
 * strings (a subject on one line), fails the step: it is rolled back and answered 500, and the
 * `MailRenderError` is reported with its cause.
 */
import { Effect } from "effect";
import type { ResolvedConfig } from "../config.ts";
import type { MailData, MailKind, MailUser, QueuedMail, RenderedMail } from "../mails.ts";
import type { Mail } from "../services/mailer.ts";
import { findHeldEmailAddresses, findUserById } from "../storage/users.ts";
import type { Step } from "./step.ts";

/** A `mail.render` that threw or returned something other than `{ subject, text, html }`. */
export class MailRenderError extends Error {
  override readonly name = "MailRenderError";
  readonly code = "ERR_MAIL_RENDER";

  constructor(
    readonly kind: MailKind,
    problem: string,
    options?: { readonly cause: unknown },
  ) {
    super(`mail.render("${kind}") ${problem}`, options);
  }
}

/** The account a queued mail is about: its own, or for `account_exists` the holder of `to`. */
const mailUser = (queued: QueuedMail) =>
  Effect.gen(function* () {
    let id = queued.userId;
    if (id === null && queued.kind === "account_exists") {
      const held = [...(yield* findHeldEmailAddresses(queued.to))].sort((a, b) => Number(b.verified) - Number(a.verified));
      id = held[0]?.user_id ?? null;
    }
    const row = id === null ? null : yield* findUserById(id);
    return row === null ? null : ({ id: row.id, email: row.email === "" ? null : row.email, username: row.username } satisfies MailUser);
  });

function checked(kind: MailKind, value: unknown): RenderedMail {
  const { subject, text, html } = (typeof value === "object" && value !== null ? value : {}) as Record<string, unknown>;
  if (typeof subject !== "string" || typeof text !== "string" || typeof html !== "string") {
    throw new MailRenderError(kind, "must return { subject, text, html }, three strings");
  }
  // The subject becomes a header: one line (SECURITY.md EM-08).
  if (subject.trim() === "" || /[\r\n\0]/.test(subject)) {
    throw new MailRenderError(kind, "returned a subject that is empty or has a line break");
  }
  return { subject, text, html };
}

async function render(config: ResolvedConfig, kind: MailKind, data: MailData): Promise<RenderedMail> {
  let value: unknown;
  try {
    value = await config.mail.render(kind, data);
  } catch (error) {
    throw new MailRenderError(kind, "threw", { cause: error });
  }
  return checked(kind, value);
}

/** The step's mails, rendered in the order they were queued. */
export async function renderMails(step: Step, config: ResolvedConfig): Promise<ReadonlyArray<Mail>> {
  const mails: Array<Mail> = [];
  for (const queued of step.mails) {
    const { kind, userId: _userId, ...rest } = queued;
    const user = await step.run(mailUser(queued));
    const data: MailData = { ...rest, siteName: config.siteName, subjectPrefix: config.account.emailSubjectPrefix, user };
    const rendered = await render(config, kind, data);
    mails.push({ to: queued.to, ...rendered, kind, data });
  }
  return mails;
}
