/** A cheap, counting password hasher: tests assert how often hashing ran (never for bad input). */
export interface Spy {
  hashes: number;
  verifies: number;
  readonly calls: () => number;
  readonly reset: () => void;
  readonly hasher: { hash(p: string): Promise<string>; verify(h: string, p: string): Promise<boolean> };
}

export function spyHasher(): Spy {
  const spy: Spy = {
    hashes: 0,
    verifies: 0,
    calls: () => spy.hashes + spy.verifies,
    reset: () => {
      spy.hashes = 0;
      spy.verifies = 0;
    },
    hasher: {
      hash: async (p) => {
        spy.hashes++;
        return `spy$${p}`;
      },
      verify: async (h, p) => {
        spy.verifies++;
        return h === `spy$${p}`;
      },
    },
  };
  return spy;
}
