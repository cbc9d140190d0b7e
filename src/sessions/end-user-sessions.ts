import type { Kysely } from 'kysely';
import type { RequestContext } from '../access/index.js';
import type { Actor, AuditTrail } from '../audit/index.js';
import type { Clock } from '../core/index.js';
import type { Principal } from '../identity/index.js';
import type { Tables } from '../store/index.js';
import type { LiveSessions } from './live-sessions.js';
import { createSessionAudit, type SessionAudit } from './session-audit.js';
import { createSessionStore, type SessionStore } from './session-store.js';

export interface EndUserSessionsDeps {
  store: SessionStore;
  audit: SessionAudit;
  clock: Clock;
  /** This node's live sessions; absent in a process that serves none (a CLI command). */
  live?: LiveSessions | undefined;
}

/** What an end for a revoked user says; the message never holds a value. */
export interface RevocationEnding {
  actor: Actor;
  /** `access revoked: user disabled`, ... */
  message: string;
  context?: RequestContext | undefined;
}

const MESSAGE_MAX = 500;
const NO_CONTROL = /\p{Cc}/gu;

/**
 * Ends, with reason `admin`, every browser session of a user whose access
 * was revoked (decision 0020): first those live on this node, including the
 * sessions an agent runs on the user's behalf, closed at once; then the rows
 * of those (the user's own and the agents' on their behalf) held by other
 * nodes, which those nodes close on their next tick. Returns how many this
 * call ended.
 */
export async function endSessionsOfUser(deps: EndUserSessionsDeps, userId: string, ending: RevocationEnding): Promise<number> {
  const { store, audit, clock, live } = deps;
  const message = ending.message.replace(NO_CONTROL, ' ').slice(0, MESSAGE_MAX);
  const how = { actor: ending.actor, message, context: ending.context };
  const here = [...(live?.sessions.values() ?? [])].filter((s) => !s.ending && (s.record.userId === userId || s.owner.onBehalfOf?.id === userId));
  await Promise.all(here.map((s) => live!.finish(s, 'admin', how)));
  let ended = here.length;
  for (const record of await store.liveHeldFor(userId)) {
    if (live?.sessions.get(record.id)?.ending) continue;
    await audit.record('browser_session.ended', 'success', record.id, ending.actor, { assetId: record.assetId, userId: record.userId, reason: 'admin', message, from: record.state }, ending.context);
    if (await store.end(record.id, 'admin', message, clock.now())) ended += 1;
  }
  return ended;
}

/**
 * For a process that serves no browser session (a CLI command against PostgreSQL): ends the rows of
 * a revoked user's sessions in the database, audited, for the nodes holding them to close at their
 * next tick. A serving node subscribes its BrowserSessions instead, which also closes its own at once.
 */
export function createStoredSessionsEnder(deps: { db: Kysely<Tables>; trail: AuditTrail; clock: Clock; nodeId: string }) {
  const audit = createSessionAudit(deps.trail, deps.nodeId);
  const ends = { store: createSessionStore(deps.db), audit, clock: deps.clock };
  return (userId: string, by: Principal | null, reason: string, context?: RequestContext): Promise<number> =>
    endSessionsOfUser(ends, userId, { actor: by ? audit.actorOf(by) : audit.system, message: `access revoked: ${reason}`, context });
}
