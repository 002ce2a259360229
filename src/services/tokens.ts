/**
 * Randomness and one-way hashing of secrets: ids, URL keys (256 bits), session tokens, codes,
 * all from the CSPRNG (`domain/random.ts`). Keys and codes are stored as HMAC-SHA-256 under the app secret.
 */
import { createHmac, randomInt, timingSafeEqual } from "node:crypto";
import { randomBytes } from "../domain/random.ts";
import { Context, Layer } from "effect";

export interface TokensShape {
  /** A new row id (128 bits, base32hex-ish, sortable enough for humans). */
  readonly id: () => string;
  /** A random positive integer below 2^47 (public ids the API shows). */
  readonly publicId: () => number;
  /** A URL-safe key of 256 bits. */
  readonly key: () => string;
  /** allauth's default code: 8 letters from a consonant alphabet, shown as XXXX-XXXX. */
  readonly code: () => string;
  /** The stored form of a key or code. */
  readonly digest: (purpose: string, secret: string) => string;
  readonly equal: (a: string, b: string) => boolean;
}

const codeAlphabet = "BCDFGHJKLMNPQRSTVWXZ";

/** Normalises a typed code: case, spaces and dashes ignored. */
export function normalizeCode(code: string): string {
  return code.toUpperCase().replace(/[\s-]/g, "");
}

export class Tokens extends Context.Tag("authmachines/services/Tokens")<Tokens, TokensShape>() {
  static layer(secret: string): Layer.Layer<Tokens> {
    return Layer.succeed(Tokens, {
      id: () => randomBytes(16).toString("hex"),
      publicId: () => randomBytes(6).readUIntBE(0, 6) % 2 ** 47 || 1,
      key: () => randomBytes(32).toString("base64url"),
      code: () => {
        let code = "";
        for (let i = 0; i < 8; i++) {
          code += codeAlphabet[randomInt(codeAlphabet.length)];
        }
        return `${code.slice(0, 4)}-${code.slice(4)}`;
      },
      digest: (purpose, value) => createHmac("sha256", secret).update(`${purpose}:${value}`).digest("base64url"),
      equal: (a, b) => {
        const x = Buffer.from(a);
        const y = Buffer.from(b);
        return x.length === y.length && timingSafeEqual(x, y);
      },
    });
  }
}
