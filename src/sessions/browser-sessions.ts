import { decide, type RequestContext } from '../access/index.js';
import { AppError } from '../core/index.js';
import type { Principal } from '../identity/index.js';
import { endedError, openAgentHandle } from './agent-handle.js';
import { withRedactedCopies } from './copy-redaction.js';
import { endSessionsOfUser } from './end-user-sessions.js';
import { createLiveSessions } from './live-sessions.js';
import { createSessionAudit } from './session-audit.js';
import { DEFAULT_MIN_FRAME_INTERVAL_MS } from './session-recording.js';
import { createSessionStore } from './session-store.js';
import { createSessionTransfers } from './session-transfers.js';
import { startSession } from './start-session.js';
import type { BrowserSessions, BrowserSessionsDeps, SessionRecord } from './types.js';

const MESSAGE_MAX = 500;
const NO_CONTROL = /\p{Cc}/gu;

/**
 * The lifecycle of governed browser sessions (`starting → logging_in →
 * active → ended`): the one place that decides when a session starts and
 * ends. REST, the live view and MCP all go through it.
 */
export function createBrowserSessions(deps: BrowserSessionsDeps): BrowserSessions {
  for (const key of ['db', 'access', 'assets', 'vault', 'pool', 'recordings', 'trail', 'clock', 'ids', 'logger'] as const) {
    if (!deps[key]) throw new TypeError(`createBrowserSessions: ${key} is required`);
  }
  if (typeof deps.nodeId !== 'string' || deps.nodeId === '') throw new TypeError('createBrowserSessions: nodeId is required');
  const { access, clock, nodeId } = deps;
  const store = createSessionStore(deps.db);
  const audit = createSessionAudit(deps.trail, nodeId);
  const live = createLiveSessions({ store, audit, clock, logger: deps.logger, tickMs: deps.tickMs ?? 1_000 });
  let accepting = true;
  live.startTicking();
  const transfers = createSessionTransfers({ live, audit, current: (id) => current(id), mayStillConnect: (record, p, context) => mayStillConnect(record, p, context) });

  /** Holds a role permission now, without recording a refusal (a probe; the refusal that matters is recorded by the caller). */
  const holds = (p: Principal, permission: 'admin.sessions.read' | 'admin.sessions.revoke') => decide({ principal: p, action: permission, now: new Date(clock.now()) }).allowed;

  async function mayWatch(p: Principal, assetId: string): Promise<boolean> {
    return (await access.visibleAssets(p, 'watch')).some((a) => a.id === assetId && a.available);
  }

  /** The session when `p` may see it; one answer for "absent" and "not yours", so ids cannot be probed. */
  async function visible(id: string, p: Principal): Promise<SessionRecord> {
    const record = await current(id);
    if (record && (record.userId === p.id || holds(p, 'admin.sessions.read') || (await mayWatch(p, record.assetId)))) return record;
    throw new AppError('not_found', { publicMessage: 'No such session.' });
  }

  /**
   * Using a session re-applies the decision that opened it: `connect` on its asset, for this caller,
   * now (for a token acting for an operator, what both may). The session already exists, so it is
   * not counted against a concurrency limit. A refusal is recorded (auth.denied, with its reason)
   * and answered as an absent session, as `attach` answers a refused watcher.
   */
  async function mayStillConnect(record: SessionRecord, p: Principal, context: RequestContext): Promise<void> {
    await access.authorizeAsset(p, 'connect', record.assetId, { ...context, activeSessions: 0 }).catch((error: unknown) => {
      throw error instanceof AppError && error.code === 'forbidden' ? new AppError('not_found', { publicMessage: 'No such session.' }) : error;
    });
  }

  /** The assets `p` may connect to now (the concurrency count aside, as in mayStillConnect). */
  async function connectable(p: Principal): Promise<Set<string>> {
    return new Set((await access.visibleAssets(p, 'connect')).filter((a) => a.available).map((a) => a.id));
  }

  /**
   * All tokens of a service account own its sessions, each acting for its own operator (or none):
   * a token uses, reads, lists and ends only those it may still connect to. A person's own sessions stay
   * theirs to read, list and end (using one, in the control view or with its files, re-checks for everyone).
   */
  const isToken = (p: Principal) => p.via === 'api_token';

  /** The stored record, with this node's fresher view of a live one. */
  async function current(id: string): Promise<SessionRecord | null> {
    const here = live.sessions.get(id);
    // The last input is written to the database only now and then (live-sessions.ts); this node knows it to the moment.
    if (here && !here.ending) return here.record.state === 'active' ? { ...here.record, lastInputAt: new Date(here.lastInputMs).toISOString() } : here.record;
    return typeof id === 'string' ? store.get(id) : null;
  }

  return {
    start: (principal, assetId, context = {}) =>
      startSession(
        {
          ...deps,
          store,
          live,
          audit,
          loginTimeoutMs: deps.loginTimeoutMs ?? 30_000,
          recordingFrameIntervalMs: deps.recordingFrameIntervalMs ?? DEFAULT_MIN_FRAME_INTERVAL_MS,
          accepting: () => accepting,
        },
        principal,
        assetId,
        context,
      ),

    async get(id, principal, context = {}) {
      const record = await visible(id, principal);
      // A token reads its own session as it lists it: only while it may still connect to the asset. Seen
      // anyway (admin.sessions.read, watch on the asset), it is shown as to anyone else who may.
      if (record.userId === principal.id && isToken(principal) && !holds(principal, 'admin.sessions.read') && !(await mayWatch(principal, record.assetId))) {
        await mayStillConnect(record, principal, context);
      }
      return record;
    },

    async list(principal, options = {}, context = {}) {
      if (!options.all) {
        const own = await store.list(principal.id);
        if (!isToken(principal)) return own;
        const usable = await connectable(principal);
        return own.filter((r) => usable.has(r.assetId));
      }
      await access.authorize(principal, 'admin.sessions.read', context);
      return store.list(undefined);
    },

    async end(id, principal, options = {}, context = {}) {
      const record = await visible(id, principal);
      const owner = record.userId === principal.id;
      if (owner && isToken(principal)) await mayStillConnect(record, principal, context);
      // Someone who may see it but not end it (a watcher) is refused, and the refusal recorded.
      if (!owner) await access.authorize(principal, 'admin.sessions.revoke', context);
      if (record.state === 'ended') throw new AppError('session_ended');
      const reason = owner ? 'user' : 'admin';
      const message = owner ? null : (options.message?.replace(NO_CONTROL, ' ').slice(0, MESSAGE_MAX) ?? null) || null;
      const here = live.sessions.get(id);
      if (here) {
        await live.finish(here, reason, { actor: audit.actorOf(principal), message, context });
      } else {
        // Held by another node (or left by a crash): the database says it ended; its node closes it on its next tick.
        await audit.record('browser_session.ended', 'success', id, audit.actorOf(principal), { assetId: record.assetId, userId: record.userId, reason, message, from: record.state }, context);
        if (!(await store.end(id, reason, message, clock.now()))) throw new AppError('session_ended');
      }
      return (await store.get(id))!;
    },

    async attach(id, principal, mode, context = {}) {
      const record = await current(id);
      if (!record) throw new AppError('not_found', { publicMessage: 'No such session.' });
      if (record.userId !== principal.id && mode === 'control') throw new AppError('not_found', { publicMessage: 'No such session.' });
      // The owner's view, control or not, holds as long as the owner may connect; anyone else's as long as they may watch.
      // A later check is made with the viewer as they are then (groups and roles change under an open view), never as someone else.
      const recheck = async (viewer: Principal = principal) => {
        if (viewer.id !== principal.id) throw new AppError('not_found', { publicMessage: 'No such session.' });
        if (record.userId === principal.id) return mayStillConnect(record, viewer, context);
        // Recorded as auth.denied when refused, but answered as if it did not exist.
        await access.authorizeAsset(viewer, 'watch', record.assetId, context).catch((error: unknown) => {
          throw error instanceof AppError && error.code === 'forbidden' ? new AppError('not_found', { publicMessage: 'No such session.' }) : error;
        });
      };
      await recheck();
      if (record.state === 'ended') throw new AppError('session_ended');
      const s = live.sessions.get(id);
      const browser = s && !s.ending ? (s.browser ?? (await s.opened.catch(() => null))) : null;
      if (!s || !browser || s.ending) {
        throw s ? new AppError('session_ended') : new AppError('not_found', { publicMessage: 'This session is held by another server node.' });
      }
      await audit.record('browser_session.attached', 'success', id, audit.actorOf(principal), { assetId: record.assetId, mode, owner: record.userId }, context);
      s.recording?.event({ type: 'viewer', action: 'attached', mode, userId: principal.id });
      let detached = false;
      const detach = () => {
        if (detached) return;
        detached = true;
        s.recording?.event({ type: 'viewer', action: 'detached', mode, userId: principal.id });
      };
      const view =
        mode === 'control'
          ? withRedactedCopies({ vault: deps.vault, live, audit, clock }, s, browser, principal, context, (error) =>
              deps.logger.warn({ sessionId: id, error: error instanceof Error ? error.name : 'unknown' }, 'a copy out of the portal was dropped: the redaction values could not be read'),
            )
          : browser;
      return {
        record: s.record,
        browser: view,
        touch: () => live.touch(s),
        recheck,
        ...(mode === 'control' ? { transfers: transfers.attached(s, browser) } : {}),
        onEnd(listener) {
          if (s.ending) {
            void s.ending.then(() => listener(s.record.endReason ?? 'shutdown'));
            return detach;
          }
          s.listeners.add(listener);
          // The live view unsubscribes when its viewer goes: that is the viewer's detach.
          return () => {
            s.listeners.delete(listener);
            detach();
          };
        },
      };
    },

    async agent(id, principal, context = {}) {
      const record = await current(id);
      // Only the owner drives a session with tools; anyone else learns nothing about it.
      if (!record || record.userId !== principal.id) throw new AppError('not_found', { publicMessage: 'No such session.' });
      // Before the state: a caller who may not use it learns nothing, not even how it ended.
      await mayStillConnect(record, principal, context);
      const s = live.sessions.get(id);
      if (record.state === 'ended' || s?.ending) throw endedError(s?.endingReason ?? record.endReason);
      if (!s) throw new AppError('not_found', { publicMessage: 'This session is held by another server node.' });
      if (record.state !== 'active' || !s.browser) throw new AppError('conflict', { publicMessage: 'The session is still starting; try again when it is active.' });
      return openAgentHandle({ vault: deps.vault, live, audit, clock }, s, s.browser, principal, context);
    },

    fetchDownload: (...args) => transfers.fetchDownload(...args),
    upload: (...args) => transfers.upload(...args),
    cancelUpload: (...args) => transfers.cancelUpload(...args),

    endAllOfUser(userId, by, reason, context = {}) {
      if (typeof userId !== 'string' || userId === '') return Promise.resolve(0);
      return endSessionsOfUser({ store, audit, clock, live }, userId, { actor: by ? audit.actorOf(by) : audit.system, message: `access revoked: ${reason}`, context });
    },

    async recover() {
      const left = (await store.liveOnNode(nodeId)).filter((r) => !live.sessions.has(r.id));
      for (const record of left) {
        await audit.record('browser_session.ended', 'success', record.id, audit.system, { assetId: record.assetId, userId: record.userId, reason: 'node_restart', message: 'the node restarted', from: record.state });
        await store.end(record.id, 'node_restart', 'the node restarted', clock.now());
      }
      return left.length;
    },

    async shutdown() {
      accepting = false;
      await live.stop('shutdown');
    },
  };
}

