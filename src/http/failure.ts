/**
 * What an unexpected failure answers: 503 when the database cannot be reached (refused, dropped
 * or timed-out connections, a locked or unreadable SQLite file), 500 otherwise; a JSON
 * `{status}` with no detail. The reported error is the underlying one, with its cause and stack.
 */
import { Cause, Runtime } from "effect";

/** Error codes (and messages) of a database that is not there right now. */
const unavailableCodes = /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|EHOSTUNREACH|ENOTFOUND|57P0[1-3]|08[0-9A-Z]{3}|SQLITE_(BUSY|LOCKED|CANTOPEN|IOERR|READONLY|NOTADB|CORRUPT|FULL)\w*)$/;
const unavailableMessages = /Connection terminated|connect ECONN|timeout exceeded when trying to connect|Client has encountered a connection error/i;

/** The error under an Effect `FiberFailure` (the defect or failure it carries), else `error`. */
export function underlying(error: unknown): unknown {
  return Runtime.isFiberFailure(error) ? Cause.squash(error[Runtime.FiberFailureCauseId]) : error;
}

/** Whether `error`, or any error in its `cause` chain, says the database is unreachable. */
export function databaseUnavailable(error: unknown): boolean {
  let current: unknown = underlying(error);
  for (let depth = 0; depth < 8 && typeof current === "object" && current !== null; depth++) {
    const { code, message } = current as { code?: unknown; message?: unknown };
    if ((typeof code === "string" && unavailableCodes.test(code)) || (typeof message === "string" && unavailableMessages.test(message))) {
      return true;
    }
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

export function plain(status: number): Response {
  return new Response(JSON.stringify({ status }), { status, headers: { "content-type": "application/json", "cache-control": "no-store" } });
}

/** Reports `error` and answers 503 or 500. */
export function failure(report: (message: string, error: unknown) => void, error: unknown): Response {
  const cause = underlying(error);
  try {
    report("request failed", cause);
  } catch {
    // A throwing reporter changes nothing about the answer.
  }
  return plain(databaseUnavailable(cause) ? 503 : 500);
}
