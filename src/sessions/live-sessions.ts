import type { AssetRecord, RequestContext } from '../access/index.js';
import type { Actor } from '../audit/index.js';
import type { BrowserEvent, BrowserSession, RedactionSource } from '../browser/index.js';
import type { Clock } from '../core/index.js';
import type { Principal } from '../identity/index.js';
import type { SessionAudit } from './session-audit.js';
import type { SessionRecording } from './session-recording.js';
import type { SessionStore } from './session-store.js';
import type { EndReason, SessionRecord, SessionsLogger, TransferNotice } from './types.js';

/** A session whose browser context lives on this node. */
export interface LiveSession {
  record: SessionRecord;
  owner: Principal;
  asset: AssetRecord;
  browser: BrowserSession | null;
  /** Settles once the context is open, or with null when it failed or was never opened. */
  opened: Promise<BrowserSession | null>;
  /** Settles `opened`; every path of a start calls it once (later calls do nothing). */
  settle(browser: BrowserSession | null): void;
  lastInputMs: number;
  persistedInputMs: number;
  ending: Promise<void> | null;
  /** Aborted as soon as an end begins, before it is recorded: the login stops and reads no credential. */
  readonly cancel: AbortController;
  listeners: Set<(reason: EndReason) => void>;
  /** The owner's control views: told of downloads kept for them (once audited) and of file choosers waiting for their files. */
  transferListeners: Set<(notice: TransferNotice) => void>;
  /** Audit records of browser events, in order. */
  events: Promise<void>;
  /** Begun with the start; sealed by every end. */
  recording: SessionRecording | null;
  /** Why it is ending, as soon as an end begins (before the record says so). */
  endingReason: EndReason | null;
  /** The credential's values for the agent tools' redaction (agent-handle.ts): read once, wiped at the end. */
  secrets: AgentSecrets;
}

/** One vault read per session (purpose `redact`), held in Buffers of our own that the end wipes. */
export interface AgentSecrets {
  values: Buffer[] | null;
  loading: Promise<Buffer[]> | null;
  wiped: boolean;
  /** What the agent tools and the copies out redact with: these values, and the patterns compiled from them. */
  readonly redaction: RedactionSource;
}

function agentSecrets(): AgentSecrets {
  const secrets: AgentSecrets = {
    values: null,
    loading: null,
    wiped: false,
    redaction: { values: () => (secrets.wiped ? [] : (secrets.values ?? [])), compiled: {} },
  };
  return secrets;
}

/** Zero-fills the held values and drops the patterns made of them; a read still in flight is wiped when it lands (agent-handle.ts checks `wiped`). */
export function wipeSecrets(secrets: AgentSecrets): void {
  secrets.wiped = true;
  for (const value of secrets.values ?? []) value.fill(0);
  secrets.values = null;
  if (secrets.redaction.compiled) secrets.redaction.compiled.entry = undefined;
}

export interface Ending {
  actor: Actor;
  message?: string | null | undefined;
  context?: RequestContext | undefined;
  /** Someone else recorded and stored the end already (another node, a racing end): only close here. */
  endedElsewhere?: boolean | undefined;
}

const PERSIST_INPUT_MS = 10_000;

/**
 * The live sessions of this node and everything that ends them: a caller,
 * the timeouts (checked on a tick, against the injected clock), the
 * browser's own end, and an end written to the database by another node.
 */
export function createLiveSessions(deps: { store: SessionStore; audit: SessionAudit; clock: Clock; logger: SessionsLogger; tickMs: number }) {
  const { store, audit, clock, logger } = deps;
  const sessions = new Map<string, LiveSession>();
  /** Ends that could not be written (database away): retried on each tick so the limits free up. */
  const unwritten = new Map<string, { reason: EndReason; message: string | null; at: number }>();
  let timer: NodeJS.Timeout | undefined;
  let ticking = false;

  function finish(s: LiveSession, reason: EndReason, how: Ending): Promise<void> {
    s.ending ??= (async () => {
      s.endingReason = reason;
      s.cancel.abort();
      const now = clock.now();
      const message = how.message ?? null;
      if (!how.endedElsewhere) {
        // Ending is the fail-closed direction: a session is closed even when its end cannot be recorded.
        await audit
          .record('browser_session.ended', 'success', s.record.id, how.actor, { assetId: s.record.assetId, userId: s.record.userId, reason, message, from: s.record.state, durationMs: now - Date.parse(s.record.createdAt) }, how.context)
          .catch((error: unknown) => logger.error({ err: error, session: s.record.id }, 'could not record the end of a browser session; it is closed anyway'));
      }
      const browser = s.browser ?? (await s.opened.catch(() => null));
      s.record = { ...s.record, state: 'ended', endReason: reason, endMessage: message, endedAt: new Date(now).toISOString() };
      await browser?.close().catch((error: unknown) => logger.warn({ err: error, session: s.record.id }, 'closing a browser context failed'));
      wipeSecrets(s.secrets);
      // After the close, so the last typing summary is in; before the listeners, so an ended session's recording is sealed.
      await s.recording?.seal(reason);
      if (!how.endedElsewhere) await writeEnd(s.record.id, reason, message, now);
      sessions.delete(s.record.id);
      logger.info({ session: s.record.id, asset: s.record.assetId, reason }, 'browser session ended');
      for (const listener of s.listeners) {
        try {
          listener(reason);
        } catch (error) {
          logger.warn({ err: error }, 'a session end listener failed');
        }
      }
      s.listeners.clear();
      s.transferListeners.clear();
    })();
    return s.ending;
  }

  async function writeEnd(id: string, reason: EndReason, message: string | null, at: number): Promise<void> {
    try {
      await store.end(id, reason, message, at);
      unwritten.delete(id);
    } catch (error) {
      unwritten.set(id, { reason, message, at });
      logger.error({ err: error, session: id }, 'could not store the end of a browser session; retrying');
    }
  }

  function notify(s: LiveSession, notice: TransferNotice): void {
    if (s.ending) return;
    for (const listener of s.transferListeners) {
      try {
        listener(notice);
      } catch (error) {
        logger.warn({ err: error }, 'a transfer listener failed');
      }
    }
  }

  /**
   * Browser events: the end of the context ends the session; blocks, downloads and discarded kept
   * downloads are recorded in order (uploads are recorded before the files are set,
   * session-transfers.ts). The owner hears of a download, or of its discard, only once it is
   * recorded; file choosers go to the owner as they come.
   */
  function onBrowserEvent(s: LiveSession, event: BrowserEvent): void {
    s.recording?.browserEvent(event);
    if (event.type === 'ended') {
      if (!s.ending) void finish(s, 'browser_crashed', { actor: audit.system, message: event.reason === 'browser_crashed' ? 'the browser process ended' : 'the browser closed the session' });
      return;
    }
    if (event.type === 'file_chooser' || event.type === 'file_chooser_closed') return notify(s, event);
    // A failed or too large download's drop has no record of its own (its `blocked` record, before
    // it in the chain, is its only one: it was never kept); the owner still hears of it in order.
    const entry =
      event.type === 'blocked'
        ? { action: 'browser_session.blocked' as const, outcome: 'denied' as const, details: { what: event.what, url: event.url?.slice(0, 2048) ?? null, reason: event.reason } }
        : event.type === 'download'
          ? { action: 'browser_session.downloaded' as const, outcome: 'success' as const, details: { fileName: event.fileName, size: event.size, sha256: event.sha256, downloadId: event.id } }
          : event.type === 'download_dropped' && event.reason === 'session_limit'
            ? { action: 'browser_session.download_dropped' as const, outcome: 'success' as const, details: { downloadId: event.id ?? null, fileName: event.fileName, size: event.size ?? null, sha256: event.sha256 ?? null, reason: event.reason } }
            : undefined;
    // The live message stays as documented (id, name, reason); size and SHA-256 are the record's.
    const notice: TransferNotice | undefined =
      event.type === 'download'
        ? { type: 'download', id: event.id, fileName: event.fileName, size: event.size, sha256: event.sha256 }
        : event.type === 'download_dropped'
          ? { type: 'download_dropped', ...(event.id === undefined ? {} : { id: event.id }), fileName: event.fileName, reason: event.reason }
          : undefined;
    if (!entry && !notice) return;
    s.events = s.events
      .then(() => entry && audit.record(entry.action, entry.outcome, s.record.id, audit.actorOf(s.owner), { assetId: s.record.assetId, ...entry.details }))
      .then(() => {
        if (notice) notify(s, notice);
      })
      .catch((error: unknown) => {
        logger.error({ err: error, session: s.record.id }, 'could not record a browser event; the session ends (fail closed)');
        if (!s.ending) void finish(s, 'browser_crashed', { actor: audit.system, message: 'a browser event could not be recorded in the audit trail' });
      });
  }

  async function tick(): Promise<void> {
    if (ticking) return;
    ticking = true;
    try {
      const now = clock.now();
      for (const s of sessions.values()) {
        if (s.ending) continue;
        const { idleTimeoutMinutes, maxDurationMinutes } = s.asset.policy;
        if (now - Date.parse(s.record.createdAt) >= maxDurationMinutes * 60_000) {
          void finish(s, 'max_duration', { actor: audit.system, message: `the maximum duration of ${maxDurationMinutes} minutes was reached` });
        } else if (s.record.state === 'active' && now - s.lastInputMs >= idleTimeoutMinutes * 60_000) {
          void finish(s, 'idle_timeout', { actor: audit.system, message: `no input for ${idleTimeoutMinutes} minutes` });
        } else if (s.lastInputMs > s.persistedInputMs && now - s.persistedInputMs >= PERSIST_INPUT_MS) {
          s.persistedInputMs = s.lastInputMs;
          await store.touch(s.record.id, s.lastInputMs);
        }
      }
      for (const ended of await store.endedAmong([...sessions.keys()])) {
        const s = sessions.get(ended.id);
        if (s && !s.ending) void finish(s, ended.reason, { actor: audit.system, endedElsewhere: true });
      }
      for (const [id, end] of unwritten) await writeEnd(id, end.reason, end.message, end.at);
    } catch (error) {
      logger.warn({ err: error }, 'browser session sweep failed');
    } finally {
      ticking = false;
    }
  }

  return {
    sessions,
    finish,
    onBrowserEvent,
    add(record: SessionRecord, owner: Principal, asset: AssetRecord): LiveSession {
      const now = clock.now();
      let settle!: (browser: BrowserSession | null) => void;
      const opened = new Promise<BrowserSession | null>((resolve) => (settle = resolve));
      const s: LiveSession = { record, owner, asset, browser: null, opened, settle, lastInputMs: now, persistedInputMs: now, ending: null, listeners: new Set(), transferListeners: new Set(), events: Promise.resolve(), recording: null, cancel: new AbortController(), endingReason: null, secrets: agentSecrets() };
      sessions.set(record.id, s);
      return s;
    },
    touch(s: LiveSession): void {
      s.lastInputMs = Math.max(s.lastInputMs, clock.now());
    },
    startTicking(): void {
      timer ??= setInterval(() => void tick(), deps.tickMs);
      timer.unref();
    },
    async stop(reason: EndReason): Promise<void> {
      if (timer) clearInterval(timer);
      timer = undefined;
      await Promise.all([...sessions.values()].map((s) => finish(s, reason, { actor: audit.system })));
      for (const [id, end] of unwritten) await writeEnd(id, end.reason, end.message, end.at);
    },
  };
}

export type LiveSessions = ReturnType<typeof createLiveSessions>;
