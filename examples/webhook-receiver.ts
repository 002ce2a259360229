/**
 * A webhook receiver for authmachines' signed webhooks (Standard Webhooks): it checks the
 * signature and timestamp with the `standardwebhooks` package before trusting the body, answers
 * 204, and drops a message it has already handled (the `webhook-id` is the same on a retry).
 *
 *   createAuth({ …, webhooks: [{ url: "https://hooks.example.com/auth", secret, signals: ["user_signed_up"] }] })
 *   createWebhookReceiver(secret, (message) => console.log(message.type, message.data)).listen(8787);
 */
import { createServer } from "node:http";
import type { Server } from "node:http";
import { Webhook } from "standardwebhooks";

export interface WebhookMessage {
  readonly type: string;
  readonly timestamp: string;
  /** The signal's durable copy, with its `idempotencyKey`. */
  readonly data: Record<string, unknown>;
}

export function createWebhookReceiver(secret: string, handle: (message: WebhookMessage) => void | Promise<void>): Server {
  const verifier = new Webhook(secret);
  const seen = new Set<string>();
  return createServer((req, res) => {
    const chunks: Array<Buffer> = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const headers = {
        "webhook-id": String(req.headers["webhook-id"] ?? ""),
        "webhook-timestamp": String(req.headers["webhook-timestamp"] ?? ""),
        "webhook-signature": String(req.headers["webhook-signature"] ?? ""),
      };
      let message: WebhookMessage;
      try {
        message = verifier.verify(Buffer.concat(chunks).toString("utf8"), headers) as WebhookMessage;
      } catch {
        res.statusCode = 401;
        res.end();
        return;
      }
      if (seen.has(headers["webhook-id"])) {
        res.statusCode = 204;
        res.end();
        return;
      }
      Promise.resolve(handle(message)).then(
        () => {
          seen.add(headers["webhook-id"]);
          res.statusCode = 204;
          res.end();
        },
        () => {
          // A failure here makes authmachines retry later.
          res.statusCode = 500;
          res.end();
        },
      );
    });
  });
}
