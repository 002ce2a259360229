/**
 * Outgoing mail. `smtp://…` sends with nodemailer, with the recipient passed as an explicit
 * envelope; `"console"` prints the mail; an object with `send` is used as given.
 */
import { Context, Effect, Layer } from "effect";
import type { MailData, MailKind } from "../mails.ts";
import { importOptional } from "../optional-package.ts";

export interface Mail {
  /** One validated, canonical address. */
  readonly to: string;
  readonly subject: string;
  readonly text: string;
  /** The HTML alternative (absent only on a row queued before mails had one). */
  readonly html?: string;
  /** What the mail is, and what it was rendered from (its link or code included). */
  readonly kind: MailKind;
  readonly data: MailData;
}

/** What comes with each delivery: the outbox row's id, the same on every retry of one mail. */
export interface MailDelivery {
  readonly idempotencyKey: string;
}

export interface MailerShape {
  readonly send: (mail: Mail, delivery: MailDelivery) => Effect.Effect<void>;
}

/** The SMTP connect, greeting and socket timeouts. */
export const smtpTimeoutMs = 10_000;

export class Mailer extends Context.Tag("authmachines/services/Mailer")<Mailer, MailerShape>() {
  /** nodemailer (an optional peer dependency, imported here) over SMTP to `url`, from `from`. */
  static layerSmtp(url: string, from: string): Layer.Layer<Mailer> {
    const load = Effect.tryPromise({
      try: () => importOptional("nodemailer", () => import("nodemailer"), "authmachines: the smtp:// mailer", ["nodemailer"]),
      catch: (error) => error,
    }).pipe(Effect.orDie);
    return Layer.effect(Mailer, Effect.map(load, ({ default: nodemailer }): MailerShape => {
      // At most 10 s without progress (connect, greeting, socket): the outbox lease is renewed
      // meanwhile, and a hanging server does not hold a delivery (or `close()`) for minutes.
      const transport = nodemailer.createTransport({
        url,
        connectionTimeout: smtpTimeoutMs,
        greetingTimeout: smtpTimeoutMs,
        socketTimeout: smtpTimeoutMs,
      });
      return {
        send: (mail, delivery) =>
          Effect.tryPromise({
            // The transport's own error (e.g. ECONNREFUSED with its code) is what gets reported.
            catch: (error) => error,
            try: () =>
              transport.sendMail({
              // A retried mail keeps its Message-ID, so receiving systems can drop a duplicate.
              messageId: `<${delivery.idempotencyKey}@authmachines>`,
              from,
              to: mail.to,
              envelope: { from, to: [mail.to] },
              subject: mail.subject,
              text: mail.text,
              ...(mail.html === undefined ? {} : { html: mail.html }),
            }),
          }).pipe(Effect.asVoid, Effect.orDie),
      };
    }));
  }

  /** Prints each mail to stdout, keys and codes included (the demo's default; refused in production). */
  static readonly layerConsole: Layer.Layer<Mailer> = Layer.succeed(Mailer, {
    send: (mail) =>
      Effect.sync(() => {
        process.stdout.write(`--- mail to ${mail.to}\nSubject: ${mail.subject}\n\n${mail.text}\n---\n`);
      }),
  });

  /** A user-supplied `{ send }`. */
  static layerCustom(mailer: { send(mail: Mail, delivery: MailDelivery): Promise<void> }): Layer.Layer<Mailer> {
    return Layer.succeed(Mailer, { send: (mail, delivery) => Effect.promise(() => mailer.send(mail, delivery)) });
  }
}
