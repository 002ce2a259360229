/**
 * CSRF tokens for browser clients (SECURITY.md SE-04; issue #10 finding 10). A token is a random
 * nonce and an HMAC of it and the browser's session cookie, under a key derived from `secret`,
 * so a token made for one session (or for no session) is refused in another, and none can be
 * made up. It is masked every time it is handed out, as Django masks its CSRF token: the value on
 * the wire is a fresh mask followed by the token XOR that mask, so no two responses carry the same
 * bytes (BREACH). A login gives the browser a new session cookie and so a new token.
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import { randomBytes } from "../domain/random.ts";

const nonceBytes = 16;
const macBytes = 16;
const tokenBytes = nonceBytes + macBytes;
const keys = new Map<string, Buffer>();

function keyFor(secret: string): Buffer {
  let key = keys.get(secret);
  if (key === undefined) {
    key = createHmac("sha256", secret).update("authmachines csrf v1").digest();
    keys.set(secret, key);
  }
  return key;
}

function mac(secret: string, nonce: Buffer, binding: string): Buffer {
  return createHmac("sha256", keyFor(secret)).update(nonce).update("|").update(binding).digest().subarray(0, macBytes);
}

/** The unmasked token carried by `value`, or null when it is not a masked token's shape. */
function unmask(value: string): Buffer | null {
  if (value.length !== 86 || !/^[A-Za-z0-9_-]+$/.test(value)) {
    return null;
  }
  const bytes = Buffer.from(value, "base64url");
  if (bytes.length !== 2 * tokenBytes) {
    return null;
  }
  const mask = bytes.subarray(0, tokenBytes);
  const token = Buffer.alloc(tokenBytes);
  for (let i = 0; i < tokenBytes; i++) {
    token[i] = mask[i]! ^ bytes[tokenBytes + i]!;
  }
  return token;
}

function mask(token: Buffer): string {
  const pad = randomBytes(tokenBytes);
  const masked = Buffer.alloc(tokenBytes);
  for (let i = 0; i < tokenBytes; i++) {
    masked[i] = pad[i]! ^ token[i]!;
  }
  return Buffer.concat([pad, masked]).toString("base64url");
}

/** A new masked token for the session cookie `binding` ("" when the browser has none). */
export function issueCsrfToken(secret: string, binding: string): string {
  const nonce = randomBytes(nonceBytes);
  return mask(Buffer.concat([nonce, mac(secret, nonce, binding)]));
}

/** The token inside `value` when it was issued for `binding`; null otherwise. */
function openToken(secret: string, binding: string, value: string | null | undefined): Buffer | null {
  const token = value === null || value === undefined ? null : unmask(value);
  if (token === null) {
    return null;
  }
  const expected = mac(secret, token.subarray(0, nonceBytes), binding);
  return timingSafeEqual(expected, token.subarray(nonceBytes)) ? token : null;
}

/** Whether the cookie holds a token issued for `binding`. */
export function csrfCookieValid(secret: string, binding: string, cookie: string | undefined): boolean {
  return openToken(secret, binding, cookie) !== null;
}

/**
 * Whether `submitted` (the `X-CSRFToken` header or a form's `csrfmiddlewaretoken`) and the
 * `csrftoken` cookie both hold the same token, issued for this session (each may be masked
 * differently).
 */
export function csrfTokenMatches(secret: string, binding: string, cookie: string | undefined, submitted: string | null): boolean {
  const fromCookie = openToken(secret, binding, cookie);
  const fromRequest = openToken(secret, binding, submitted);
  return fromCookie !== null && fromRequest !== null && timingSafeEqual(fromCookie, fromRequest);
}
