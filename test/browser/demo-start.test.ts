/**
 * `npm start` really starts the demo: its script is `tsx examples/demo/server.ts`, which, spawned
 * as a process with PORT=0 and a temp SQLite file, prints the URL to open; that URL serves the
 * start page, the mailbox, the flow view and the API (with the Dev IdP and the dummy provider), and SIGTERM
 * ends it.
 */
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const dir = mkdtempSync(join(tmpdir(), "authmachines-demo-start-"));
let child: ChildProcess | undefined;

afterAll(() => {
  if (child?.pid !== undefined && child.exitCode === null) process.kill(-child.pid, "SIGKILL");
  rmSync(dir, { recursive: true, force: true });
});

describe("npm start", () => {
  it("runs examples/demo/server.ts with tsx", () => {
    const pkg = JSON.parse(readFileSync("package.json", "utf8")) as { scripts: Record<string, string> };
    expect(pkg.scripts["start"]).toBe("tsx examples/demo/server.ts");
  });

  it("starts the demo, prints the URL to open, serves it, and stops on SIGTERM", { timeout: 60_000 }, async () => {
    // Its own process group, so the signal reaches tsx's node child as well.
    child = spawn("npx", ["tsx", "examples/demo/server.ts"], {
      env: { ...process.env, PORT: "0", DATABASE: `sqlite:${join(dir, "demo.db")}`, NODE_ENV: "development" },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    let output = "";
    child.stderr!.on("data", (chunk) => void (output += chunk));
    const origin = await new Promise<string>((resolve, reject) => {
      child!.stdout!.on("data", (chunk) => {
        output += chunk;
        const found = /Open (http:\/\/127\.0\.0\.1:\d+)\//.exec(output);
        if (found) resolve(found[1]!);
      });
      child!.on("exit", (code) => reject(new Error(`the demo exited (${code}) before printing its URL:\n${output}`)));
    });

    const home = await fetch(`${origin}/`);
    expect(home.status).toBe(200);
    expect(await home.text()).toContain("<title>authmachines demo</title>");
    const flows = await fetch(`${origin}/flows`);
    expect(await flows.text()).toContain("<h1>Flow view</h1>");
    const mailbox = await fetch(`${origin}/mailbox`);
    expect(await mailbox.text()).toContain("No mail yet.");
    const config = (await (await fetch(`${origin}/_allauth/browser/v1/config`)).json()) as {
      data: { socialaccount: { providers: Array<{ id: string; name: string }> }; account: { login_by_code_enabled: boolean } };
    };
    expect(config.data.socialaccount.providers.map((p) => p.name)).toEqual(["Dev IdP", "Dummy"]);
    expect(config.data.account.login_by_code_enabled).toBe(true);

    const exited = new Promise<string>((resolve) => child!.on("exit", (code, signal) => resolve(`${code ?? signal}`)));
    process.kill(-child.pid!, "SIGTERM");
    // npx itself dies of the signal; the demo closes and exits 0. Either way nothing listens after.
    expect(["0", "SIGTERM"]).toContain(await exited);
    await expect.poll(() => fetch(`${origin}/`).then(() => "listening", () => "closed"), { timeout: 15_000 }).toBe("closed");
  });
});
