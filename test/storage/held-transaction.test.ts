/**
 * A step's write transaction is held by the step itself (`holdWriteTransaction`): the effects it
 * runs in the transaction's runtime share one transaction, `end(true)` commits them, `end(false)`
 * rolls them back, and either ends it once. With tracing on, the statements are children of one
 * `sql.transaction` span that records how it ended. Runs on SQLite and PostgreSQL.
 */
import type { SqlClient } from "@effect/sql";
import { Effect, Exit, Layer, Runtime, Tracer } from "effect";
import { afterEach, describe, expect, it } from "vitest";
import { recordRateLimitHit } from "../../src/storage/rate-limits.ts";
import { holdWriteTransaction } from "../../src/storage/write-transaction.ts";
import { harness } from "../support/harness.ts";
import type { Harness } from "../support/harness.ts";

const opened: Array<Harness> = [];
afterEach(async () => {
  for (const h of opened.splice(0)) {
    await h.close();
  }
});

interface SeenSpan {
  readonly name: string;
  readonly parent: string | null;
  readonly text: string | null;
  readonly events: Array<string>;
  ended: boolean;
}

/** A tracer layer that keeps every span's name, parent, statement text, events and end. */
function spanRecorder(): { readonly spans: Array<SeenSpan>; readonly layer: Layer.Layer<never> } {
  const spans: Array<SeenSpan> = [];
  const layer = Layer.unwrapEffect(
    Effect.map(Effect.tracer, (native) =>
      Layer.setTracer(
        Tracer.make({
          context: native.context,
          span: (name, parent, ...rest) => {
            const span = native.span(name, parent, ...rest);
            const parentName = parent._tag === "Some" && parent.value._tag === "Span" ? parent.value.name : null;
            const seen: SeenSpan = { name, parent: parentName, text: null, events: [], ended: false };
            spans.push(seen);
            const { attribute, event, end } = span;
            span.attribute = (key, value) => {
              if (key === "db.query.text" && typeof value === "string") {
                (seen as { text: string | null }).text = value;
              }
              attribute.call(span, key, value);
            };
            span.event = (eventName, time, attributes) => {
              seen.events.push(eventName);
              event.call(span, eventName, time, attributes);
            };
            span.end = (time, exit) => {
              seen.ended = true;
              end.call(span, time, exit);
            };
            return span;
          },
        }),
      ),
    ),
  );
  return { spans, layer };
}

async function open(tracing = false) {
  const { spans, layer } = spanRecorder();
  const h = await harness({}, { layer, tracing });
  opened.push(h);
  const hold = () => h.auth.runtime.runPromise(holdWriteTransaction<SqlClient.SqlClient>());
  const hits = async (bucket: string) =>
    Number((await h.query<{ n: number }>("SELECT COUNT(*) AS n FROM auth_rate_limit WHERE bucket = ?", bucket))[0]!.n);
  return { h, spans, hold, hits };
}

describe("a held write transaction", () => {
  it("keeps its writes when ended with true, and ends once however often it is asked", async () => {
    const { hold, hits } = await open();
    const held = await hold();
    await Runtime.runPromise(held.runtime)(Effect.zipRight(recordRateLimitHit("held:kept", 1), recordRateLimitHit("held:kept", 2)));
    const ending = held.end(true);
    expect(held.end(false)).toBe(ending);
    expect(Exit.isSuccess(await ending)).toBe(true);
    expect(await hits("held:kept")).toBe(2);
  });

  it("rolls back every write when ended with false, and the connection serves the next one", async () => {
    const { hold, hits } = await open();
    const held = await hold();
    await Runtime.runPromise(held.runtime)(recordRateLimitHit("held:dropped", 1));
    expect(Exit.isSuccess(await held.end(false))).toBe(true);
    expect(await hits("held:dropped")).toBe(0);
    const next = await hold();
    await Runtime.runPromise(next.runtime)(recordRateLimitHit("held:next", 1));
    expect(Exit.isSuccess(await next.end(true))).toBe(true);
    expect(await hits("held:next")).toBe(1);
  });

  it("with tracing on, its statements are children of one sql.transaction span, ended with its commit or rollback", async () => {
    const { hold, spans } = await open(true);
    spans.length = 0;
    const kept = await hold();
    await Runtime.runPromise(kept.runtime)(recordRateLimitHit("held:traced", 1));
    await kept.end(true);
    const dropped = await hold();
    await Runtime.runPromise(dropped.runtime)(recordRateLimitHit("held:traced", 2));
    await dropped.end(false);
    const transactions = spans.filter((span) => span.name === "sql.transaction");
    expect(transactions.map((span) => [span.events, span.ended])).toEqual([
      [["db.transaction.commit"], true],
      [["db.transaction.rollback"], true],
    ]);
    const inserts = spans.filter((span) => span.text !== null && /^INSERT INTO auth_rate_limit/.test(span.text.trim()));
    expect(inserts.map((span) => span.parent)).toEqual(["sql.transaction", "sql.transaction"]);
  });
});
