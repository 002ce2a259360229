/**
 * Counts the statements a process sends to PostgreSQL (round trips), and how many of them open a
 * transaction: `pg`'s `Client.prototype.query` is wrapped in both copies of `pg` a child may load
 * (the library's, through `@effect/sql-pg`, and the bench's, through better-auth's Kysely
 * adapter). Bench only: it shows where a PostgreSQL operation's time goes.
 */
import { createRequire } from "node:module";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

export interface QueryCounts {
  queries: number;
  transactions: number;
}

const opensTransaction = /^\s*(begin|start\s+transaction)\b/i;

export async function countPgQueries(): Promise<{ readonly counts: QueryCounts; reset(): void }> {
  const counts: QueryCounts = { queries: 0, transactions: 0 };
  const here = import.meta.dirname;
  const copies = new Set<string>();
  for (const from of [join(here, "..", "package.json"), join(here, "..", "..", "package.json")]) {
    try {
      copies.add(createRequire(from).resolve("pg"));
    } catch {
      // that package has no pg of its own
    }
  }
  for (const file of copies) {
    const pg = ((await import(pathToFileURL(file).href)) as { default: { Client: { prototype: { query: (...args: Array<unknown>) => unknown } } } }).default;
    const proto = pg.Client.prototype;
    const query = proto.query;
    proto.query = function (this: unknown, ...args: Array<unknown>) {
      counts.queries += 1;
      const first = args[0];
      const text = typeof first === "string" ? first : (first as { text?: unknown } | null)?.text;
      if (typeof text === "string" && opensTransaction.test(text)) {
        counts.transactions += 1;
      }
      return query.apply(this, args);
    };
  }
  return {
    counts,
    reset: () => {
      counts.queries = 0;
      counts.transactions = 0;
    },
  };
}
