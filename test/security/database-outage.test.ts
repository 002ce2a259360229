/**
 * A database that fails mid-run (SECURITY.md SE-11: fail closed, no 500 left unhandled; LG-04:
 * the client learns nothing of the failure, no SQL, no stack, only the status): through
 * the Node adapter, every request answers a JSON `{status}` 5xx (503 when the database cannot be
 * reached), the failure is reported with its cause and stack, the process sees no unhandled
 * rejection, and once the database is back requests succeed again. SQLite: a file database whose
 * session rows fail to read, then read again (a failure that is no outage: 500); the file locked,
 * removed and replaced under the server are `database-outage-sqlite.test.ts`. PostgreSQL: the
 * connection runs through a TCP proxy that is cut and restored.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import { connect, createServer as createTcpServer } from "node:net";
import type { AddressInfo, Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { toNodeListener } from "../../src/http/node.ts";
import { onPostgres, testDatabase } from "../support/database.ts";
import { call, cleanUp, cleanups, expectBack, expectOutage, listen, logIn, onRejection, rejections, serve } from "../support/outage.ts";

afterEach(cleanUp);

/** A TCP proxy to `target` that can be cut (every connection dropped, new ones refused) and restored. */
async function tcpProxy(target: { host: string; port: number }) {
  const sockets = new Set<Socket>();
  let server = createTcpServer();
  let port = 0;
  const start = async () => {
    server = createTcpServer((client) => {
      const upstream = connect(target);
      sockets.add(client).add(upstream);
      client.pipe(upstream).pipe(client);
      const drop = () => {
        client.destroy();
        upstream.destroy();
      };
      client.on("error", drop).on("close", drop);
      upstream.on("error", drop).on("close", drop);
    });
    await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
    port = (server.address() as AddressInfo).port;
  };
  const cut = async () => {
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const socket of sockets) {
      socket.destroy();
    }
    sockets.clear();
    await closed;
  };
  await start();
  cleanups.push(cut);
  return { port: () => port, cut, restore: start };
}

describe("SE-11, LG-04: a database failing mid-run answers 5xx JSON with nothing but the status, and recovers", () => {
  if (!onPostgres) {
    it("SQLite file: session rows unreadable answers 500 everywhere, no unhandled rejection, and serves again when it is back", async () => {
      const dir = mkdtempSync(join(tmpdir(), "authmachines-outage-"));
      cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
      const setup = await serve(`sqlite:${join(dir, "auth.db")}`);
      const who = await logIn(setup.port);
      // Every read of a session row now fails as it runs (not when it is prepared: a failed
      // prepare would stay cached by the driver), as a damaged file would.
      await setup.h.query("ALTER TABLE auth_session RENAME TO auth_session_away");
      await setup.h.query(
        "CREATE VIEW auth_session AS SELECT id, public_id, user_id, json('damaged') AS data, ip, user_agent, " +
          "created_at, last_seen_at, expires_at FROM auth_session_away",
      );
      await expectOutage(setup, who, [500]);
      await setup.h.query("DROP VIEW auth_session");
      await setup.h.query("ALTER TABLE auth_session_away RENAME TO auth_session");
      await expectBack(setup, who);
    });
  } else {
    it("PostgreSQL behind a proxy: cut, every request answers 503, no unhandled rejection; restored, it serves again", async () => {
      const direct = new URL((await testDatabase()).url);
      const proxy = await tcpProxy({ host: direct.hostname, port: Number(direct.port || 5432) });
      const url = new URL(direct);
      url.hostname = "127.0.0.1";
      url.port = String(proxy.port());
      const setup = await serve(url.toString());
      await setup.h.query(
        "TRUNCATE auth_outbox, auth_flow, auth_session, auth_verification, auth_email_address, auth_rate_limit, " +
          "auth_social_state, auth_social_token, auth_social_account, auth_user",
      );
      const who = await logIn(setup.port);
      await proxy.cut();
      await expectOutage(setup, who, [503]);
      await proxy.restore();
      await expectBack(setup, who);
    });
  }
});

describe("SE-11, LG-04: the Node adapter never rejects, and tells the client only the status", () => {
  it("a handler that throws answers 500 JSON, one whose cause is a refused connection 503, both reported", async () => {
    const reports: Array<unknown> = [];
    process.on("unhandledRejection", onRejection);
    let next: Error = new Error("a bug");
    const listener = toNodeListener(
      async () => {
        throw next;
      },
      (_message, error) => void reports.push(error),
    );
    const port = await listen(createServer(listener));
    expect(await call(port, "GET", "browser/v1/config")).toMatchObject({ status: 500, body: { status: 500 } });
    next = new Error("query failed", { cause: Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), { code: "ECONNREFUSED" }) });
    expect(await call(port, "GET", "browser/v1/config")).toMatchObject({ status: 503, body: { status: 503 } });
    expect(reports).toHaveLength(2);
    expect((reports[1] as Error).cause).toMatchObject({ code: "ECONNREFUSED" });
    expect(rejections).toEqual([]);
  });
});
