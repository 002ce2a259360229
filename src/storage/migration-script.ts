/**
 * The migrations as one SQL script, to read or to apply by hand (`npx authmachines migrate
 * --print`): the statements `migrate` runs, in one transaction, each recorded in
 * `auth_migrations` as `migrate` records it, for a database that has none of them.
 */
import { migrationLockKey, migrations, migrationsTable } from "./migrations.ts";

export type Dialect = "sqlite" | "pg";

/** The current time in epoch milliseconds, as `applied_at` stores it. */
const nowInMilliseconds: Record<Dialect, string> = {
  sqlite: "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)",
  pg: "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)",
};

/** The dialect of a `database` URL, or null when it is neither `sqlite:` nor `postgres(ql)://`. */
export function dialectOf(url: string): Dialect | null {
  if (url.startsWith("postgres://") || url.startsWith("postgresql://")) {
    return "pg";
  }
  return url.startsWith("sqlite:") ? "sqlite" : null;
}

/** `statement` without the indentation it has in `migrations.ts`, ended by a semicolon. */
function asScriptLine(statement: string): string {
  return `${statement.replace(/\n {6}/g, "\n")};`;
}

export function migrationScript(dialect: Dialect): string {
  const lines = [
    `-- authmachines: all ${migrations.length} migrations for ${dialect === "pg" ? "PostgreSQL" : "SQLite"}, on a database that has none of them.`,
    "-- `npx authmachines migrate --database <url>` applies only the missing ones.",
    // SQLite: take the write lock at once, as `migrate` does (write-transaction.ts).
    dialect === "pg" ? "BEGIN;" : "BEGIN IMMEDIATE;",
  ];
  if (dialect === "pg") {
    lines.push(`SELECT pg_advisory_xact_lock(hashtextextended('${migrationLockKey}', 0));`);
  }
  lines.push(asScriptLine(migrationsTable));
  for (const migration of migrations) {
    lines.push("", `-- ${migration.id} ${migration.name}`, ...migration.statements.map(asScriptLine));
    lines.push(
      `INSERT INTO auth_migrations (id, name, applied_at) VALUES (${migration.id}, '${migration.name}', ${nowInMilliseconds[dialect]});`,
    );
  }
  lines.push("", "COMMIT;", "");
  return lines.join("\n");
}
