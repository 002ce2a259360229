/** The pooled CSPRNG (`src/domain/random.ts`): right sizes, no repeats, no shared memory, no bias. */
import { describe, expect, it } from "vitest";
import { randomBytes } from "../../src/domain/random.ts";

describe("randomBytes (pooled)", () => {
  it("draws the asked size, across pool refills and past the pooled sizes", () => {
    for (const size of [1, 6, 16, 32, 33, 511, 512, 513, 4096, 10_000]) {
      expect(randomBytes(size)).toHaveLength(size);
    }
    // 4,096-byte pool: 300 draws of 47 bytes cross several refills at odd offsets.
    const drawn = Array.from({ length: 300 }, () => randomBytes(47));
    expect(drawn.every((b) => b.length === 47)).toBe(true);
  });

  it("never repeats a 16-byte draw, and writing into a draw changes no other", () => {
    const seen = new Set<string>();
    for (let i = 0; i < 20_000; i++) {
      seen.add(randomBytes(16).toString("hex"));
    }
    expect(seen.size).toBe(20_000);
    const a = randomBytes(32);
    const copy = Buffer.from(a);
    const b = randomBytes(32);
    b.fill(0);
    expect(a.equals(copy)).toBe(true);
  });

  it("spreads its bytes evenly (chi-square over 256 values, 1 MiB drawn)", () => {
    const counts = new Array<number>(256).fill(0);
    for (let i = 0; i < 32_768; i++) {
      for (const byte of randomBytes(32)) {
        counts[byte]! += 1;
      }
    }
    const expected = (32_768 * 32) / 256;
    const chi = counts.reduce((sum, n) => sum + (n - expected) ** 2 / expected, 0);
    // 255 degrees of freedom: the 99.9999th percentile is about 370.
    expect(chi).toBeLessThan(370);
    expect(Math.min(...counts)).toBeGreaterThan(0);
  });
});
