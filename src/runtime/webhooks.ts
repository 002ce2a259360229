/**
 * Signed webhooks: the durable copy of each listed signal, POSTed to each endpoint that lists it
 * as a Standard Webhooks message (`webhook-id`, `webhook-timestamp`, `webhook-signature`, signed
 * with the endpoint's `whsec_…` secret by the `standardwebhooks` package). Each delivery is an
 * outbox row written in the step's transaction, so a rolled-back step sends nothing, a failure
 * (a non-2xx answer, a redirect, a timeout) is retried with the outbox's backoff and dead-lettered
 * after its cap, and `webhook-id` is the row's id: the same on every retry, for receivers to
 * deduplicate on. Only the endpoint's URL is stored with the row; its secret stays in the config.
 */
import { Webhook } from "standardwebhooks";
import type { AuthSignalName } from "../../machines/signals.ts";

export interface WebhookEndpoint {
  /** `https://…`, or `http://` to a loopback host (localhost, 127.0.0.0/8, [::1]). */
  readonly url: string;
  /** The endpoint's signing secret: `whsec_` and at least 24 random bytes in base64. */
  readonly secret: string;
  /** The signals whose durable copies go to this endpoint. */
  readonly signals: ReadonlyArray<AuthSignalName>;
}

/** How long one delivery may take before it counts as failed (and is retried). */
export const webhookTimeoutMs = 10_000;

/** Whether `url` may receive webhooks: https, or plain http to a loopback host. */
export function isAllowedWebhookUrl(url: string): boolean {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return false;
  }
  if (parsed.username !== "" || parsed.password !== "") {
    return false;
  }
  if (parsed.protocol === "https:") {
    return true;
  }
  const host = parsed.hostname;
  return parsed.protocol === "http:" && (host === "localhost" || host === "[::1]" || /^127(?:\.\d{1,3}){3}$/.test(host));
}

/** Whether `secret` is a Standard Webhooks secret: `whsec_` and ≥ 24 bytes of base64. */
export function isWebhookSecret(secret: string): boolean {
  const match = /^whsec_([A-Za-z0-9+/]+={0,2})$/.exec(secret);
  return match !== null && Buffer.from(match[1]!, "base64").length >= 24;
}

/** The row's payload: which endpoint, and the signal's durable copy. */
export interface WebhookPayload {
  readonly url: string;
  readonly signal: { readonly type: string; readonly emittedAt: number } & Record<string, unknown>;
}

/**
 * POSTs one message; resolves on a 2xx answer, rejects otherwise. The body is
 * `{ type, timestamp, data }` (the Standard Webhooks convention), `data` being the durable copy
 * with its `idempotencyKey`; it is signed at send time (`now`, from the runtime's Clock), so a
 * retry carries a fresh timestamp.
 */
export async function sendWebhook(
  endpoint: WebhookEndpoint,
  id: string,
  payload: WebhookPayload,
  options: { readonly now: number; readonly abort: AbortSignal },
): Promise<void> {
  const body = JSON.stringify({
    type: payload.signal.type,
    timestamp: new Date(payload.signal.emittedAt).toISOString(),
    data: { ...payload.signal, idempotencyKey: id },
  });
  const sentAt = new Date(options.now);
  const signature = new Webhook(endpoint.secret).sign(id, sentAt, body);
  const response = await fetch(endpoint.url, {
    method: "POST",
    redirect: "manual",
    signal: AbortSignal.any([options.abort, AbortSignal.timeout(webhookTimeoutMs)]),
    headers: {
      "content-type": "application/json",
      "user-agent": "authmachines-webhooks",
      "webhook-id": id,
      "webhook-timestamp": String(Math.floor(sentAt.getTime() / 1000)),
      "webhook-signature": signature,
    },
    body,
  });
  await response.body?.cancel();
  if (response.status < 200 || response.status > 299) {
    throw new Error(`the webhook endpoint answered ${response.status}`);
  }
}
