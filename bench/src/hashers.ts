/**
 * The password hashers the workloads run with, on both libraries:
 *  - argon2id with the library's own parameters (`argon2idParameters`, OWASP option 1);
 *  - scrypt N=16384, r=16, p=1, 64-byte key: better-auth's parameters, on `node:crypto`
 *    (the libuv pool), stored in a PHC-like string on our side;
 *  - "free": costs nothing, to measure the flow engine alone (bench only, never for real use).
 */
import { hash as argonHash, verify as argonVerify } from "@node-rs/argon2";
import { randomBytes, scrypt, timingSafeEqual } from "node:crypto";
import type { Hasher } from "./metrics.ts";

/**
 * `argon2idParameters` of `src/services/password-hasher.ts` (OWASP option 1), repeated here so that
 * a better-auth process does not load the library; `main.ts` checks that they are equal.
 */
export const argon2idParameters = { memoryCost: 19456, timeCost: 2, parallelism: 1, algorithm: 2 } as const;

export const argon2id: Hasher = {
  hash: (password) => argonHash(password, argon2idParameters),
  verify: (hash, password) => argonVerify(hash, password),
};

export const scryptParameters = { N: 16384, r: 16, p: 1, keyLength: 64 } as const;
const maxmem = 2 * 128 * scryptParameters.N * scryptParameters.r;

function scryptKey(password: string, salt: Buffer): Promise<Buffer> {
  const { N, r, p, keyLength } = scryptParameters;
  return new Promise((resolve, reject) => {
    scrypt(password, salt, keyLength, { N, r, p, maxmem }, (error, key) => (error ? reject(error) : resolve(key)));
  });
}

/** `$scrypt$ln=14,r=16,p=1$<salt>$<key>` (base64 without padding). */
export const scryptHasher: Hasher = {
  async hash(password) {
    const salt = randomBytes(16);
    const key = await scryptKey(password, salt);
    const { r, p } = scryptParameters;
    return `$scrypt$ln=${Math.log2(scryptParameters.N)},r=${r},p=${p}$${salt.toString("base64url")}$${key.toString("base64url")}`;
  },
  async verify(stored, password) {
    const match = /^\$scrypt\$ln=14,r=16,p=1\$([^$]+)\$([^$]+)$/.exec(stored);
    if (match === null) {
      return false;
    }
    const expected = Buffer.from(match[2]!, "base64url");
    const key = await scryptKey(password, Buffer.from(match[1]!, "base64url"));
    return key.length === expected.length && timingSafeEqual(key, expected);
  },
};

/** Bench only: no cost at all, so only the flow engine and the database are measured. */
export const freeHasher: Hasher = {
  hash: async (password) => `$free$${password}`,
  verify: async (hash, password) => hash === `$free$${password}`,
};

export type HasherName = "argon2id" | "scrypt" | "free";

export const hashers: Readonly<Record<HasherName, Hasher>> = {
  argon2id,
  scrypt: scryptHasher,
  free: freeHasher,
};
