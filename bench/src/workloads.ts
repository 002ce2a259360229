/**
 * The workloads, written once against a small driver that each library implements:
 *  W1 signups, W2 logins, W3 wrong-password logins,
 *  W4 lifecycle: signup → login → change password → logout → login (one operation).
 */
import type { HashClock, RunStats } from "./metrics.ts";
import { runOps } from "./metrics.ts";

export interface Session {
  /** authmachines app client: the `X-Session-Token`. */
  readonly token: string | null;
  /** better-auth: the `cookie` header. */
  readonly headers?: Headers;
}

export interface Driver {
  readonly name: string;
  signup(email: string, password: string): Promise<Session>;
  login(email: string, password: string): Promise<Session>;
  /** Must be refused as a wrong password. */
  wrongLogin(email: string, password: string): Promise<void>;
  /** Returns the session to go on with (better-auth issues a new one). */
  changePassword(session: Session, current: string, next: string): Promise<Session>;
  logout(session: Session): Promise<void>;
  close(): Promise<void>;
}

export type WorkloadName = "W1" | "W2" | "W3" | "W4";

export const workloadTitles: Readonly<Record<WorkloadName, string>> = {
  W1: "signup",
  W2: "login",
  W3: "wrong-password login",
  W4: "lifecycle (signup, login, change, logout, login)",
};

export const password = "correct horse battery staple 42";
export const newPassword = "another long passphrase 77 ok";
export const wrongPassword = "not the password at all 1234";

/** Users the login workloads log in as (created before measuring). */
const loginUsers = 8;

export async function runWorkload(
  driver: Driver,
  workload: WorkloadName,
  options: {
    ops: number;
    concurrency: number;
    warmup: number;
    clock: HashClock;
    prefix?: string;
    beforeMeasure?: () => Promise<void>;
    keepLatencies?: boolean;
  },
): Promise<RunStats & { firstError: string | null }> {
  const prefix = options.prefix ?? "user";
  const email = (i: number) => `${prefix}${i}@bench.example`;
  if (workload === "W2" || workload === "W3") {
    await Promise.all(Array.from({ length: loginUsers }, (_, i) => driver.signup(email(i), password)));
  }
  switch (workload) {
    case "W1":
      return runOps(options, async (i) => void (await driver.signup(email(i), password)));
    case "W2":
      return runOps(options, async (i) => void (await driver.login(email(i % loginUsers), password)));
    case "W3":
      return runOps(options, (i) => driver.wrongLogin(email(i % loginUsers), wrongPassword));
    case "W4":
      return runOps(options, async (i) => {
        await driver.signup(email(i), password);
        const session = await driver.login(email(i), password);
        const changed = await driver.changePassword(session, password, newPassword);
        await driver.logout(changed);
        await driver.login(email(i), newPassword);
      });
  }
}
