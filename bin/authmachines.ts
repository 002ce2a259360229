#!/usr/bin/env node
/**
 * The `authmachines` command (`npx authmachines …`):
 *  - `migrate --database <url>` applies the migrations the database lacks (as `createAuth` does
 *    at start-up unless given `migrate: false`), and says which;
 *  - `migrate --print [--dialect sqlite|pg | --database <url>]` prints them as SQL, connecting
 *    nowhere.
 */
import { parseArgs } from "node:util";
import { Cause, Effect, Exit } from "effect";
import { clientLayer, maskedUrl } from "../src/storage/database.ts";
import type { Dialect } from "../src/storage/migration-script.ts";
import { dialectOf, migrationScript } from "../src/storage/migration-script.ts";
import { migrate, migrations } from "../src/storage/migrations.ts";

const usage = `usage:
  authmachines migrate --database <url>       apply the missing migrations (sqlite:<file> or postgres://…)
  authmachines migrate --print --dialect sqlite|pg
  authmachines migrate --print --database <url>
                                              print every migration as SQL, without connecting
`;

class UsageError extends Error {}

function printDialect(dialect: string | undefined, database: string | undefined): Dialect {
  const fromUrl = database === undefined ? undefined : dialectOf(database);
  if (fromUrl === null) {
    throw new UsageError(`unsupported database URL ${JSON.stringify(maskedUrl(database!))}: use sqlite:<file> or postgres://…`);
  }
  if (dialect !== undefined && dialect !== "sqlite" && dialect !== "pg") {
    throw new UsageError(`--dialect must be sqlite or pg, not ${JSON.stringify(dialect)}`);
  }
  if (dialect !== undefined && fromUrl !== undefined && dialect !== fromUrl) {
    throw new UsageError(`--dialect ${dialect} does not match the --database URL, which is ${fromUrl}`);
  }
  const chosen = dialect ?? fromUrl;
  if (chosen === undefined) {
    throw new UsageError("--print needs --dialect sqlite|pg or a --database URL");
  }
  return chosen;
}

async function applyMigrations(url: string): Promise<void> {
  const exit = await Effect.runPromiseExit(Effect.provide(migrate, clientLayer(url)));
  if (Exit.isFailure(exit)) {
    // An SqlError's own message is generic ("Failed to execute statement"); the driver's is its cause.
    const error = Cause.squash(exit.cause) as { message?: unknown; cause?: { message?: unknown } };
    const reasons = [error.message, error.cause?.message].filter((reason) => typeof reason === "string");
    throw new Error(`cannot migrate ${maskedUrl(url)}: ${reasons.length === 0 ? String(error) : reasons.join(": ")}`);
  }
  const applied = exit.value;
  for (const migration of applied) {
    process.stdout.write(`applied ${migration.id} ${migration.name}\n`);
  }
  process.stdout.write(
    applied.length === 0
      ? `${maskedUrl(url)} is up to date (${migrations.length} migrations)\n`
      : `${maskedUrl(url)}: ${applied.length} of ${migrations.length} migrations applied\n`,
  );
}

async function main(args: ReadonlyArray<string>): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...args],
    allowPositionals: true,
    options: {
      database: { type: "string" },
      dialect: { type: "string" },
      print: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    process.stdout.write(usage);
    return 0;
  }
  if (positionals.length !== 1 || positionals[0] !== "migrate") {
    throw new UsageError(positionals.length === 0 ? "no command given" : `unknown command ${positionals.join(" ")}`);
  }
  if (values.print) {
    process.stdout.write(migrationScript(printDialect(values.dialect, values.database)));
    return 0;
  }
  if (values.database === undefined) {
    throw new UsageError("migrate needs --database <url> (or --print)");
  }
  if (values.dialect !== undefined) {
    throw new UsageError("--dialect goes with --print; migrate reads the dialect from the --database URL");
  }
  await applyMigrations(values.database);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    const usageError = error instanceof UsageError || (error as { code?: unknown }).code?.toString().startsWith("ERR_PARSE_ARGS") === true;
    process.stderr.write(`authmachines: ${error instanceof Error ? error.message : String(error)}\n${usageError ? usage : ""}`);
    process.exitCode = usageError ? 2 : 1;
  },
);
