/**
 * A real SMTP server on 127.0.0.1 for tests: it accepts every message, parses it, and records
 * the envelope and every command line it read.
 */
import type { AddressInfo } from "node:net";
import { simpleParser } from "mailparser";
import type { ParsedMail } from "mailparser";
import { SMTPServer } from "smtp-server";

export interface Received {
  readonly mailFrom: string | null;
  readonly rcptTo: ReadonlyArray<string>;
  readonly raw: Buffer;
  readonly parsed: ParsedMail;
}

export interface Sink {
  readonly port: number;
  readonly messages: Array<Received>;
  /** Every SMTP command line the server read, as sent on the wire. */
  readonly commands: Array<string>;
  /** Resolves once `count` messages have been fully received and parsed. */
  readonly waitFor: (count: number) => Promise<void>;
  readonly close: () => Promise<void>;
}

export async function startSink(): Promise<Sink> {
  const messages: Array<Received> = [];
  const commands: Array<string> = [];
  const quiet = () => undefined;
  const logger = {
    trace: quiet,
    info: quiet,
    warn: quiet,
    error: quiet,
    fatal: quiet,
    debug: (...args: Array<unknown>) => {
      if (args[1] === "C:" && typeof args[2] === "string") {
        commands.push(args[2]);
      }
    },
  };
  const waiters: Array<{ count: number; resolve: () => void }> = [];
  const settle = () => {
    for (const w of waiters.filter((w) => messages.length >= w.count)) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve();
    }
  };
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ["STARTTLS"],
    logger: logger as never,
    onData(stream, session, callback) {
      const chunks: Array<Buffer> = [];
      stream.on("data", (chunk: Buffer) => chunks.push(chunk));
      stream.on("end", () => {
        const raw = Buffer.concat(chunks);
        const envelope = session.envelope;
        void simpleParser(raw).then((parsed) => {
          messages.push({
            mailFrom: envelope.mailFrom === false ? null : envelope.mailFrom.address,
            rcptTo: envelope.rcptTo.map((r) => r.address),
            raw,
            parsed,
          });
          settle();
        });
        callback();
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const port = (server.server.address() as AddressInfo).port;
  return {
    port,
    messages,
    commands,
    waitFor: (count) =>
      new Promise<void>((resolve) => {
        waiters.push({ count, resolve });
        settle();
      }),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
