/**
 * A tracer layer for `createAuth`'s `layer` option that counts what `@effect/sql` reports on its
 * spans: committed transactions (`db.transaction.commit` events) and the text of every statement
 * (`db.query.text`), on SQLite and PostgreSQL alike. The native tracer does the rest.
 */
import { Effect, Layer, Tracer } from "effect";

export interface StatementCounter {
  commits: number;
  readonly statements: Array<string>;
}

export function statementCounter(): { readonly counter: StatementCounter; readonly layer: Layer.Layer<never> } {
  const counter: StatementCounter = { commits: 0, statements: [] };
  const layer = Layer.unwrapEffect(
    Effect.map(Effect.tracer, (native) =>
      Layer.setTracer(
        Tracer.make({
          context: native.context,
          span: (...args) => {
            const span = native.span(...args);
            const event = span.event.bind(span);
            span.event = (name, startTime, attributes) => {
              if (name === "db.transaction.commit") {
                counter.commits += 1;
              }
              event(name, startTime, attributes);
            };
            const attribute = span.attribute.bind(span);
            span.attribute = (key, value) => {
              if (key === "db.query.text" && typeof value === "string") {
                counter.statements.push(value);
              }
              attribute(key, value);
            };
            return span;
          },
        }),
      ),
    ),
  );
  return { counter, layer };
}
