/**
 * Cryptographically secure random bytes, drawn from a pool that `randomFillSync` refills 4 KiB at
 * a time: one call into OpenSSL per many tokens, where `randomBytes` pays one (about 5 µs) for
 * each of the several ids, keys and CSRF pads a step draws. Every draw is copied out and its bytes
 * in the pool are zeroed at once, so the pool never holds a value that was handed out.
 */
import { randomFillSync, randomBytes as systemRandomBytes } from "node:crypto";

const pool = Buffer.allocUnsafeSlow(4096);
let offset = pool.length;

export function randomBytes(size: number): Buffer {
  if (size > pool.length / 8) {
    return systemRandomBytes(size);
  }
  if (offset + size > pool.length) {
    randomFillSync(pool);
    offset = 0;
  }
  const drawn = Buffer.from(pool.subarray(offset, offset + size));
  pool.fill(0, offset, offset + size);
  offset += size;
  return drawn;
}
