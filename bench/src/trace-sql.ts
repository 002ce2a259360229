/**
 * `npm run trace`: every SQL statement one warm hash-free login sends on SQLite, in order, with
 * the transactions around them (`BEGIN`/`COMMIT`, and the `PRAGMA synchronous` around the
 * attempt's prompt commit). `npm run trace -- limits` turns allauth's
 * default rate limits on. Statements are seen by wrapping the prepared statements of the
 * library's own better-sqlite3 (the project's, not the bench's copy).
 */
import { createRequire } from "node:module";
const Database = createRequire(import.meta.url)("../../node_modules/better-sqlite3");
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { freeHasher } from "./hashers.ts";
import { ourDriver } from "./ours.ts";
import { password } from "./workloads.ts";
let on = false;
const log: string[] = [];
const proto = (Database as any).prototype;
const origPrepare = proto.prepare;
proto.prepare = function (sql: string, ...rest: any[]) {
  const st = origPrepare.call(this, sql, ...rest);
  for (const m of ["run", "all", "get", "iterate"]) {
    const f = st[m];
    if (typeof f === "function") {
      st[m] = function (...a: any[]) {
        if (on) log.push(sql.replace(/\s+/g, " ").slice(0, 150));
        return f.apply(this, a);
      };
    }
  }
  return st;
};
const origExec = proto.exec;
proto.exec = function (sql: string) {
  if (on) log.push("EXEC " + sql.slice(0, 80));
  return origExec.call(this, sql);
};
const file = join(mkdtempSync(join(tmpdir(), "tr-")), "db.sqlite");
const limits = process.argv[2] === "limits";
const driver = await ourDriver(file, freeHasher, "FULL", limits ? "default" : "off");
await driver.signup("c@bench.example", password);
await driver.login("c@bench.example", password);
on = true;
await driver.login("c@bench.example", password);
on = false;
await driver.close();
rmSync(dirname(file), { recursive: true, force: true });
console.log(log.join("\n"));
// Transaction control (BEGIN, COMMIT, the PRAGMA around a prompt commit) is not counted as a statement.
const control = /^(BEGIN|COMMIT|ROLLBACK|PRAGMA synchronous)/;
console.log(`${log.filter((l) => !control.test(l)).length} statements, ${log.filter((l) => l === "COMMIT").length} commits`);
