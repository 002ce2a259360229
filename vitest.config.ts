import { connect } from "node:net";
import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

/** Whether PostgreSQL answers on 127.0.0.1:5432 (where the machines and CI run it). */
function postgresReachable(): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port: 5432, timeout: 1000 });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
    socket.once("timeout", () => {
      socket.destroy();
      resolve(false);
    });
  });
}

const alias = {
  "authmachines/machines": fileURLToPath(new URL("./machines/index.ts", import.meta.url)),
  "authmachines/devtools": fileURLToPath(new URL("./src/devtools/index.ts", import.meta.url)),
  authmachines: fileURLToPath(new URL("./src/index.ts", import.meta.url)),
};

/**
 * The suites whose outcome depends on the database run again on PostgreSQL. The bad-input
 * suites are left out there: they prove that nothing reaches the database at all.
 */
const databaseSuites = [
  "test/http/**/*.test.ts",
  "test/security/**/*.test.ts",
  "test/runtime/**/*.test.ts",
  "test/storage/**/*.test.ts",
  "test/mail/**/*.test.ts",
  "test/allauth-errors/**/*.test.ts",
];
const inputOnlySuites = [
  "test/http/bad-input.test.ts",
  "test/http/account-bad-input.test.ts",
  // Always on a SQLite file, whatever the project.
  "test/storage/sqlite-connections.test.ts",
  "test/security/database-outage-sqlite.test.ts",
  "test/storage/group-commit.test.ts",
];

/** Projects do not inherit the root's test options: each gets these (a loaded machine is slow). */
const timeouts = { testTimeout: 30_000, hookTimeout: 30_000 };

export default defineConfig(async () => {
  const reachable = await postgresReachable();
  const ci = process.env["CI"] === "true";
  if (!reachable && !ci) {
    console.warn(
      "authmachines: PostgreSQL is not reachable on 127.0.0.1:5432; running the SQLite suites only. " +
        "Start it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
    );
  }
  return {
    resolve: { alias },
    test: {
      ...timeouts,
      projects: [
        { resolve: { alias }, test: { ...timeouts, name: "sqlite", include: ["test/**/*.test.ts"] } },
        ...(reachable || ci
          ? [
              {
                resolve: { alias },
                test: {
                  ...timeouts,
                  name: "postgres",
                  include: databaseSuites,
                  exclude: inputOnlySuites,
                  env: { AUTH_TEST_DATABASE: "postgres" },
                  globalSetup: ["test/support/postgres-setup.ts"],
                },
              },
            ]
          : []),
      ],
    },
  };
});
