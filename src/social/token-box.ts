/**
 * Secrets at rest (provider tokens with `storeTokens`, PKCE verifiers of redirects in flight,
 * undelivered mails in the outbox under their own label):
 * AES-256-GCM under a key derived from the auth `secret` with HKDF-SHA256, a fresh 12-byte IV
 * per seal. A sealed value reads `v1.<iv>.<ciphertext>.<tag>` (base64url); opening anything
 * tampered, truncated or sealed under another secret answers null, never throws.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from "node:crypto";
import type { ProfileTokens } from "./types.ts";

const version = "v1";
const info = "authmachines social token box v1";

const keys = new Map<string, Buffer>();

/** `label` separates keys by use (HKDF info): a value sealed for one use never opens for another. */
function keyFor(secret: string, label: string): Buffer {
  const cacheKey = `${label}\u0000${secret}`;
  let key = keys.get(cacheKey);
  if (key === undefined) {
    key = Buffer.from(hkdfSync("sha256", secret, Buffer.alloc(0), label, 32));
    keys.set(cacheKey, key);
  }
  return key;
}

export function sealSecret(secret: string, plaintext: string, label: string = info): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", keyFor(secret, label), iv);
  const body = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
  return [version, iv, body, cipher.getAuthTag()].map((part) => (typeof part === "string" ? part : part.toString("base64url"))).join(".");
}

export function openSecret(secret: string, sealed: string, label: string = info): string | null {
  const parts = sealed.split(".");
  if (parts.length !== 4 || parts[0] !== version) {
    return null;
  }
  const [iv, body, tag] = parts.slice(1).map((part) => Buffer.from(part, "base64url"));
  if (iv!.length !== 12 || tag!.length !== 16) {
    return null;
  }
  try {
    const decipher = createDecipheriv("aes-256-gcm", keyFor(secret, label), iv!);
    decipher.setAuthTag(tag!);
    return Buffer.concat([decipher.update(body!), decipher.final()]).toString("utf8");
  } catch {
    return null;
  }
}

export function sealTokens(secret: string, tokens: ProfileTokens): string {
  return sealSecret(secret, JSON.stringify({ a: tokens.accessToken, r: tokens.refreshToken, e: tokens.expiresAt }));
}

export function openTokens(secret: string, sealed: string): ProfileTokens | null {
  const plain = openSecret(secret, sealed);
  if (plain === null) {
    return null;
  }
  try {
    const data: unknown = JSON.parse(plain);
    if (typeof data !== "object" || data === null) {
      return null;
    }
    const { a, r, e } = data as Record<string, unknown>;
    if (typeof a !== "string" || (r !== null && typeof r !== "string") || (e !== null && typeof e !== "number")) {
      return null;
    }
    return { accessToken: a, refreshToken: r, expiresAt: e };
  } catch {
    return null;
  }
}

/**
 * The tokens to keep after a renewal: the new ones, but the previous refresh token when the
 * provider sent none (allauth keeps `token_secret` when the new token has no refresh token).
 */
export function mergeTokens(previous: ProfileTokens | null, next: ProfileTokens): ProfileTokens {
  if (next.refreshToken !== null && next.refreshToken !== "") {
    return next;
  }
  return { ...next, refreshToken: previous?.refreshToken ?? null };
}
