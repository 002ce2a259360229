/**
 * The package as a user gets it: `npm pack` (whose `prepack` builds `dist/`), installed in a
 * scratch project with the peer dependencies a SQLite user needs, then imported and run by plain
 * `node`. It proves the tarball's files, the `exports` map, the built JavaScript (rewritten
 * import extensions, the `authmachines/devtools` entry included), one xstate and one effect
 * shared with the app, the `bin` entry, and the message naming the optional package a
 * configuration needs when it is missing.
 *
 * The install is offline when npm's cache can serve it, otherwise it may fetch from the registry.
 * Install scripts are skipped, so better-sqlite3's native addon comes from this repository's
 * build of the same version.
 */
import { execFile } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, expect, it } from "vitest";

const root = new URL("../..", import.meta.url).pathname;

/** What a SQLite user installs beside authmachines (the peer dependencies that are not optional, and the driver). */
const peers = ["effect", "xstate", "@effect/sql", "@effect/platform", "@effect/experimental", "@effect/sql-sqlite-node"];

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function run(command: string, args: ReadonlyArray<string>, cwd: string): Promise<Run> {
  return new Promise((resolve) => {
    execFile(command, [...args], { cwd, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : Number(error.code ?? 1), stdout, stderr });
    });
  });
}

function versionIn(modules: string, name: string): string {
  return (JSON.parse(readFileSync(join(modules, name, "package.json"), "utf8")) as { version: string }).version;
}

/** Runs in the scratch project: a signup through `auth.handler`, and two missing optional packages. */
const script = `
import { createAuth } from "authmachines";
import { authSignalNames, signupMachine } from "authmachines/machines";
import { createFlowView } from "authmachines/devtools";
import { createActor } from "xstate";

const secret = "pack-test-secret-pack-test-secret-0123";
const mailer = { send: async () => undefined };
const auth = await createAuth({ secret, database: "sqlite::memory:", mailer, account: { emailVerification: "none" } });
const signals = [];
for (const name of authSignalNames) {
  auth.signals.on(name, () => void signals.push(name));
}
const response = await auth.handler(
  new Request("http://localhost/_allauth/app/v1/auth/signup", {
    method: "POST",
    headers: { "content-type": "application/json", "user-agent": "pack-test" },
    body: JSON.stringify({ username: "alice", password: "correct horse battery staple 42" }),
  }),
  { ip: "127.0.0.1" },
);
await auth.close();
const missing = {};
for (const [name, options] of [["pg", { database: "postgres://nobody@127.0.0.1:9/none" }], ["smtp", { mailer: "smtp://127.0.0.1:9" }]]) {
  try {
    await (await createAuth({ secret, database: "sqlite::memory:", mailer, ...options })).close();
    missing[name] = "started";
  } catch (error) {
    missing[name] = String(error.message);
  }
}
const actor = createActor(signupMachine);
const view = createFlowView();
const script = await view.handler(new Request("http://localhost/flows/view.js"));
const devtools = { owns: view.owns("/flows/events"), script: script.status };
view.close();
console.log(JSON.stringify({ status: response.status, signals, missing, actor: typeof actor.start, devtools }));
`;

let work: string | undefined;
afterEach(() => {
  // The tarball and the scratch project's node_modules: tens of megabytes a run.
  if (work !== undefined) {
    rmSync(work, { recursive: true, force: true });
  }
});

it("installs from npm pack and signs up under plain node", { timeout: 240_000 }, async () => {
  const started = performance.now();
  work = mkdtempSync(join(tmpdir(), "authmachines-pack-"));

  const seconds = (): number => Math.round((performance.now() - started) / 1000);
  const packed = await run("npm", ["pack", "--json", "--pack-destination", work], root);
  const packedAt = seconds();
  expect(packed.code, packed.stderr).toBe(0);
  // `prepack`'s output comes first; the JSON report is the rest.
  const [report] = JSON.parse(packed.stdout.slice(packed.stdout.indexOf("["))) as Array<{ filename: string; files: Array<{ path: string }> }>;
  const files = report!.files.map((file) => file.path);
  expect(files).toEqual(
    expect.arrayContaining([
      "LICENSE",
      "package.json",
      "dist/src/index.js",
      "dist/src/index.d.ts",
      "dist/machines/index.js",
      "dist/src/devtools/index.js",
      "dist/bin/authmachines.js",
      "dist/src/domain/common-passwords.txt.gz",
      "dist/src/domain/common-passwords.LICENSE.txt",
    ]),
  );
  expect(files.filter((path) => !path.startsWith("dist/") && !["LICENSE", "README.md", "package.json"].includes(path))).toEqual([]);
  expect(files.filter((path) => path.endsWith(".ts") && !path.endsWith(".d.ts"))).toEqual([]);

  const app = join(work, "app");
  mkdirSync(app);
  writeFileSync(join(app, "package.json"), JSON.stringify({ name: "pack-test-app", private: true, type: "module" }));
  const modules = join(root, "node_modules");
  const specs = [join(work, report!.filename), ...peers.map((name) => `${name}@${versionIn(modules, name)}`)];
  const install = ["install", "--no-audit", "--no-fund", "--ignore-scripts", ...specs];
  let mode = "--offline";
  let installed = await run("npm", [...install, mode], app);
  if (installed.code !== 0) {
    mode = "--prefer-offline";
    installed = await run("npm", [...install, mode], app);
  }
  expect(installed.code, installed.stderr).toBe(0);
  const installedAt = seconds();
  // One copy of each library whose types cross the API: the app's.
  for (const name of ["xstate", "effect", "@effect/sql"]) {
    expect(existsSync(join(app, "node_modules", "authmachines", "node_modules", name)), name).toBe(false);
  }
  const addon = join("better-sqlite3", "build", "Release", "better_sqlite3.node");
  expect(versionIn(join(app, "node_modules"), "better-sqlite3")).toBe(versionIn(modules, "better-sqlite3"));
  mkdirSync(join(app, "node_modules", "better-sqlite3", "build", "Release"), { recursive: true });
  copyFileSync(join(modules, addon), join(app, "node_modules", addon));

  writeFileSync(join(app, "check.js"), script);
  const checked = await run(process.execPath, ["check.js"], app);
  expect(checked.code, checked.stderr).toBe(0);
  const outcome = JSON.parse(checked.stdout.trim().split("\n").at(-1)!) as {
    status: number;
    signals: Array<string>;
    missing: Record<string, string>;
    actor: string;
    devtools: { owns: boolean; script: number };
  };
  expect(outcome.status).toBe(200);
  expect(outcome.signals).toEqual(["user_signed_up", "user_logged_in"]);
  expect(outcome.missing["pg"]).toContain("needs the package @effect/sql-pg, which is not installed: run npm install @effect/sql-pg pg");
  expect(outcome.missing["smtp"]).toContain("needs the package nodemailer, which is not installed: run npm install nodemailer");
  expect(outcome.actor).toBe("function");
  expect(outcome.devtools).toEqual({ owns: true, script: 200 });

  const bin = join(app, "node_modules", ".bin", "authmachines");
  const printed = await run(bin, ["migrate", "--print", "--dialect", "sqlite"], app);
  expect(printed.code, printed.stderr).toBe(0);
  expect(printed.stdout).toContain("CREATE TABLE auth_user (");
  const migrated = await run(bin, ["migrate", "--database", `sqlite:${join(app, "auth.db")}`], app);
  expect(migrated.code, migrated.stderr).toBe(0);
  expect(migrated.stdout).toMatch(/^applied 1 accounts$/m);

  console.log(`pack test: packed at ${packedAt} s, installed (${mode}) at ${installedAt} s, done at ${seconds()} s`);
});
