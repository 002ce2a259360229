/**
 * Sessions: a random token held by the client (cookie `sessionid` for browsers,
 * `X-Session-Token` for apps); the row is keyed by its digest. Login rotates the token, and so
 * does a password change or set (the session itself is kept); logout deletes the row and its flows. Anonymous sessions get a row only when a flow is parked in
 * them. A session a step starts is inserted once, with its final data, as the step saves it.
 */
import { Clock, Effect } from "effect";
import type { AuthenticationRecord } from "../../machines/contracts.ts";
import type { UserRef } from "../../machines/signals.ts";
import { Settings } from "../services/settings.ts";
import { Tokens } from "../services/tokens.ts";
import { findSessionWithUser } from "../storage/session-lookup.ts";
import { deleteSession, insertSession, rekeySession, updateSessionData } from "../storage/sessions.ts";
import type { UserRow } from "../storage/users.ts";
import { toUserRef } from "../storage/users.ts";
import { currentTime } from "./step.ts";
import type { AppServices, SessionData, SessionState, Step } from "./step.ts";

/** Django's `SESSION_COOKIE_AGE`: two weeks. */
export const sessionAgeInSeconds = 1_209_600;

/** The earliest last use a live session may have (`sessionIdleTimeout`; -1: no idle limit). */
export const idleBound = (now: number): Effect.Effect<number, never, Settings> =>
  Effect.map(Settings, (config) => (config.sessionIdleTimeout === null ? -1 : now - config.sessionIdleTimeout * 1000));

/** The session of a request that sent no token: nobody, no row. */
export function anonymousSession(now: number): SessionState {
  return { id: null, publicId: null, newToken: null, user: null, data: {}, createdAt: now, gone: false };
}

/**
 * The session a token names, or an anonymous one (`gone` when a token matched nothing): one
 * query, the session row joined with its user.
 */
export const loadSession = (token: string | null): Effect.Effect<SessionState, never, AppServices> =>
  Effect.gen(function* () {
    const now = yield* Clock.currentTimeMillis;
    const anonymous = anonymousSession(now);
    if (token === null || token.length === 0 || token.length > 128) {
      return token === null ? anonymous : { ...anonymous, gone: true };
    }
    const tokens = yield* Tokens;
    const row = yield* findSessionWithUser(tokens.digest("session", token), now, yield* idleBound(now));
    if (row === null) {
      return { ...anonymous, gone: true };
    }
    // Django's `get_user`: a user deactivated since login is anonymous (SECURITY.md SE-07).
    const active = row.session_user_id !== null && row.id !== undefined && row.id !== null && Number(row.is_active) === 1;
    return {
      id: row.session_id,
      publicId: Number(row.session_public_id),
      newToken: null,
      user: active ? toUserRef(row as UserRow) : null,
      data: JSON.parse(row.session_data) as SessionData,
      createdAt: row.session_created_at,
      gone: false,
    };
  });

const createRow = (step: Step, user: UserRef | null, data: SessionData) =>
  Effect.gen(function* () {
    const tokens = yield* Tokens;
    const now = yield* Clock.currentTimeMillis;
    const token = tokens.key();
    const id = tokens.digest("session", token);
    const publicId = tokens.publicId();
    step.sessionRowPending = {
      id,
      public_id: publicId,
      user_id: user?.id ?? null,
      data: "",
      ip: step.request.ip,
      user_agent: step.request.userAgent.slice(0, 512),
      created_at: now,
      last_seen_at: now,
      expires_at: now + sessionAgeInSeconds * 1000,
    };
    step.session = { id, publicId, newToken: token, user, data, createdAt: now, gone: false };
    step.sessionUnsaved = true;
  });

/** Whether the step's session is one it started and has not stored yet. */
const isPending = (step: Step): boolean => step.sessionRowPending !== null && step.sessionRowPending.id === step.session.id;

/** Deletes the step's session row, or forgets it when the step started it and never stored it. */
const dropSessionRow = (step: Step, id: string) => {
  if (step.sessionRowPending?.id === id) {
    step.sessionRowPending = null;
    return Effect.void;
  }
  return deleteSession(id);
};

/**
 * Logs `user` in: the old session row (and its flows) goes, a new token is issued. The
 * authentication records made so far in this session are kept, as Django's `login()` keeps the
 * session's data unless it held another user.
 */
export const rotateSession = (step: Step, user: UserRef) =>
  Effect.gen(function* () {
    const previous = step.session;
    if (previous.id !== null) {
      yield* dropSessionRow(step, previous.id);
    }
    const kept = previous.user === null || previous.user.id === user.id ? (previous.data.methods ?? []) : [];
    yield* createRow(step, user, { methods: kept });
  });

/**
 * Django's `cycle_key` (as `update_session_auth_hash` calls it after a password change): the
 * session keeps its user, data, flows and public id under a new token, and the old token names
 * nothing any more.
 */
export const cycleSessionToken = (step: Step) =>
  Effect.gen(function* () {
    const previous = step.session;
    if (previous.id === null) {
      return;
    }
    const tokens = yield* Tokens;
    const token = tokens.key();
    const id = tokens.digest("session", token);
    if (isPending(step)) {
      step.sessionRowPending = { ...step.sessionRowPending!, id };
    } else {
      yield* rekeySession(previous.id, id);
    }
    step.session = { ...previous, id, newToken: token };
  });

/** What a completed authentication step records; the time is stamped when it is recorded. */
export type AuthenticationDraft = Omit<AuthenticationRecord, "at">;

/**
 * allauth's `record_authentication`: appends a record to the session as soon as a step is done,
 * even when the login then stalls. Saved with the session's next write, or when the step ends.
 */
export function recordAuthentication(step: Step, draft: AuthenticationDraft): void {
  const methods = [...(step.session.data.methods ?? []), { ...draft, at: currentTime(step.runtime) }];
  step.session = { ...step.session, data: { ...step.session.data, methods } };
  step.sessionUnsaved = true;
}

/** Writes what `recordAuthentication` left in memory (a no-op when nothing is pending). */
export const saveUnsavedSession = (step: Step) =>
  step.sessionUnsaved ? saveSessionData(step, step.session.data) : Effect.void;

/** Ends the session: its row and flows are deleted; the step continues anonymous. */
export const endSession = (step: Step) =>
  Effect.gen(function* () {
    const now = yield* Clock.currentTimeMillis;
    if (step.session.id !== null) {
      yield* dropSessionRow(step, step.session.id);
    }
    step.session = { id: null, publicId: null, newToken: null, user: null, data: {}, createdAt: now, gone: false };
    step.sessionUnsaved = false;
  });

/** Saves `data` into the session, creating an anonymous row when there is none. */
export const saveSessionData = (step: Step, data: SessionData) =>
  Effect.gen(function* () {
    if (step.session.id === null) {
      yield* createRow(step, step.session.user, data);
    }
    step.session = { ...step.session, data };
    if (isPending(step)) {
      yield* insertSession({ ...step.sessionRowPending!, data: JSON.stringify(data) });
      step.sessionRowPending = null;
    } else {
      yield* updateSessionData(step.session.id!, JSON.stringify(data));
    }
    step.sessionUnsaved = false;
  });
