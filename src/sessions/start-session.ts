import type { Access, AssetRecord, RequestContext } from '../access/index.js';
import { AppError, type Clock, type IdGenerator } from '../core/index.js';
import type { Principal } from '../identity/index.js';
import type { BrowserPool, BrowserSession } from '../browser/index.js';
import type { Recordings } from '../recording/index.js';
import type { VaultReader } from '../vault/index.js';
import type { LiveSession, LiveSessions } from './live-sessions.js';
import { viaOf, type SessionAudit } from './session-audit.js';
import { beginSessionRecording, type SessionRecording } from './session-recording.js';
import type { SessionStore } from './session-store.js';
import type { SessionRecord, SessionsLogger } from './types.js';

export interface StartDeps {
  access: Access;
  assets: { get(id: string): Promise<AssetRecord | null> };
  vault: VaultReader;
  pool: BrowserPool;
  recordings: Recordings;
  recordingFrameIntervalMs: number;
  store: SessionStore;
  live: LiveSessions;
  audit: SessionAudit;
  clock: Clock;
  ids: IdGenerator;
  nodeId: string;
  logger: SessionsLogger;
  loginTimeoutMs: number;
  accepting(): boolean;
}

/** Attempts when another start of the same caller on the same asset got in between the decision and the lock. */
const DECIDE_ATTEMPTS = 5;

/**
 * Opening a session, as DESIGN.md's flow reads: authorize, reserve under the
 * limits, record, open an isolated context, log in (the credential is read
 * only inside the browser's login), record the result. The recording begins
 * while the context opens. Every step that fails after the reservation ends
 * the session, so nothing is left half-open.
 */
export async function startSession(deps: StartDeps, principal: Principal, assetId: string, context: RequestContext): Promise<SessionRecord> {
  if (!deps.accepting()) throw new AppError('shutting_down');
  const { record, asset } = await authorizeAndReserve(deps, principal, assetId, context);
  const s = deps.live.add(record, principal, asset);
  await recordStart(deps, s, principal, context);
  s.recording = beginRecording(deps, s);
  const browser = await openContext(deps, s);
  await requireRecording(deps, s, s.recording, context);
  if (asset.credential === null) return openWithoutLogin(deps, s, browser, context);
  return logIn(deps, s, browser, asset.credential, context);
}

async function authorizeAndReserve(deps: StartDeps, principal: Principal, assetId: string, context: RequestContext): Promise<{ record: SessionRecord; asset: AssetRecord }> {
  for (let attempt = 1; ; attempt++) {
    const own = typeof assetId === 'string' ? await deps.store.countLive({ assetId, userId: principal.id }) : 0;
    await deps.access.authorizeAsset(principal, 'connect', assetId, { ...context, activeSessions: own });
    const asset = await deps.assets.get(assetId);
    if (!asset) throw new AppError('not_found', { publicMessage: 'No such asset.' });
    const result = await deps.store.reserve({
      id: deps.ids.uuid(),
      assetId: asset.id,
      userId: principal.id,
      principalKind: principal.kind === 'agent' ? 'agent' : 'user',
      credential: asset.credential,
      onBehalfOf: principal.kind === 'agent' ? (principal.onBehalfOf?.id ?? null) : null,
      nodeId: deps.nodeId,
      now: deps.clock.now(),
      maxSessions: asset.policy.maxSessions,
      maxSessionsPerCredential: asset.policy.maxSessionsPerCredential,
      decidedOwnCount: own,
    });
    if (result.ok) {
      if (deps.accepting()) return { record: result.record, asset };
      await deps.store.release(result.record.id);
      throw new AppError('shutting_down');
    }
    if (result.code === 'asset_gone') throw new AppError('not_found', { publicMessage: 'No such asset.' });
    if (result.code === 'decide_again') {
      if (attempt < DECIDE_ATTEMPTS) continue;
      throw new AppError('conflict', { publicMessage: 'Other sessions of yours on this asset are starting; try again.' });
    }
    await deps.audit.record('browser_session.refused', 'denied', { kind: 'asset', id: asset.id }, deps.audit.actorOf(principal), { assetId: asset.id, reason: result.code, inUse: result.inUse, limit: result.limit, vaultEntry: asset.credential, ...viaOf(principal) }, context);
    const what = result.code === 'credential_in_use' ? "This asset's credential" : 'This asset';
    throw new AppError(result.code, {
      publicMessage: `${what} is in use by ${result.inUse} session${result.inUse === 1 ? '' : 's'} (at most ${result.limit} at once); try again when one ends.`,
      data: { inUse: result.inUse, limit: result.limit },
    });
  }
}

/** Fail closed: a start that cannot be recorded is taken back before anything happens. */
async function recordStart(deps: StartDeps, s: LiveSession, principal: Principal, context: RequestContext): Promise<void> {
  try {
    await deps.audit.record('browser_session.started', 'success', s.record.id, deps.audit.actorOf(principal), { assetId: s.record.assetId, vaultEntry: s.record.credential, node: deps.nodeId, ...viaOf(principal) }, context);
  } catch (error) {
    s.settle(null);
    deps.live.sessions.delete(s.record.id);
    await deps.store.release(s.record.id);
    throw error;
  }
}

function beginRecording(deps: StartDeps, s: LiveSession): SessionRecording {
  const recording = beginSessionRecording({
    recordings: deps.recordings,
    logger: deps.logger,
    minFrameIntervalMs: deps.recordingFrameIntervalMs,
    info: { sessionId: s.record.id, assetId: s.record.assetId, userId: s.record.userId, retentionDays: s.asset.policy.recordingRetentionDays },
    onFailure: () => {
      // Fail closed where the asset says so; a best-effort session goes on unrecorded (the service audited recording.failed).
      if (s.asset.policy.recording === 'required' && !s.ending) {
        void deps.live.finish(s, 'recording_failed', { actor: deps.audit.system, message: 'the session recording could not be written' });
      }
    },
  });
  recording.event({ type: 'state', state: 'starting' });
  return recording;
}

/**
 * The recording must have begun before anything is shown or typed: for a `required` asset a
 * recording that could not begin ends the session (`recording_failed`) and refuses the start
 * with recording_unavailable; a best-effort one goes on (the recordings service has audited
 * `recording.failed`).
 */
async function requireRecording(deps: StartDeps, s: LiveSession, recording: SessionRecording, context: RequestContext): Promise<void> {
  if ((await recording.ready) || s.asset.policy.recording !== 'required') return;
  if (!s.ending) await deps.live.finish(s, 'recording_failed', { actor: deps.audit.system, message: 'the session recording could not begin', context });
  else await s.ending;
  throw new AppError('recording_unavailable', { cause: recording.beginError });
}

/**
 * The recording's screencast starts once the session is active: nothing is shown during the login,
 * and a screencast running through it would make Chromium encode frames that are thrown away
 * while the login competes for the CPU. Not awaited: the start answers without waiting for it.
 */
function startRecordingFrames(deps: StartDeps, s: LiveSession): void {
  const browser = s.browser;
  if (!browser || !s.recording) return;
  s.recording.startFrames(browser).catch((error: unknown) => {
    if (!browser.closed) deps.logger.warn({ err: error, session: s.record.id }, 'the recording could not start its screencast');
  });
}

async function openContext(deps: StartDeps, s: LiveSession): Promise<BrowserSession> {
  const { asset } = s;
  const { downloads, uploads, clipboardCopy, clipboardPaste } = asset.policy;
  if (s.ending) {
    // Ended while its start was being recorded (a shutdown): nothing to open.
    s.settle(null);
    await s.ending;
    throw new AppError('session_ended');
  }
  let browser: BrowserSession;
  try {
    browser = s.browser = await deps.pool.open({
      sessionId: s.record.id,
      allowedHosts: asset.allowedHosts,
      allowInsecureHttp: asset.allowInsecureHttp,
      policy: { downloads, uploads, clipboardCopy, clipboardPaste },
      recordKeystrokes: asset.policy.recordKeystrokes,
      ownerKind: s.record.principalKind,
      onEvent: (event) => deps.live.onBrowserEvent(s, event),
    });
    s.settle(browser);
  } catch (error) {
    s.settle(null);
    deps.logger.error({ err: error, session: s.record.id }, 'could not open a browser context');
    await deps.live.finish(s, 'browser_crashed', { actor: deps.audit.system, message: 'the browser could not open a context' });
    throw error instanceof AppError ? error : new AppError('browser_unavailable', { cause: error });
  }
  const ending = endingOf(s);
  if (ending) {
    // Ended while the context was opening (before the end could see it): close it here.
    await browser.close().catch(() => undefined);
    await ending;
    throw new AppError('session_ended');
  }
  return browser;
}

/** Read afresh: an end may have begun during any await. */
function endingOf(s: LiveSession): Promise<void> | null {
  return s.ending;
}

async function openWithoutLogin(deps: StartDeps, s: LiveSession, browser: BrowserSession, context: RequestContext): Promise<SessionRecord> {
  const started = deps.clock.now();
  try {
    await browser.navigate(s.asset.startUrl);
  } catch (error) {
    return failStart(deps, s, 'the start page could not be opened', error);
  }
  return activate(deps, s, 'starting', 'browser_session.activated', { assetId: s.record.assetId, login: 'none', durationMs: deps.clock.now() - started }, context);
}

async function logIn(deps: StartDeps, s: LiveSession, browser: BrowserSession, entryId: string, context: RequestContext): Promise<SessionRecord> {
  const { asset, owner } = s;
  const id = s.record.id;
  try {
    await deps.audit.record('browser_session.login_started', 'success', id, deps.audit.actorOf(owner), { assetId: asset.id, vaultEntry: entryId, recipe: asset.loginRecipe ? 'custom' : 'automatic' }, context);
    if (!(await deps.store.advance(id, 'starting', 'logging_in', deps.clock.now()))) throw new AppError('session_ended');
  } catch (error) {
    return failStart(deps, s, 'the login could not be recorded', error);
  }
  s.record = { ...s.record, state: 'logging_in' };
  s.recording?.event({ type: 'state', state: 'logging_in' });
  let outcome;
  try {
    outcome = await browser.login({
      startUrl: asset.startUrl,
      recipe: asset.loginRecipe,
      successCheck: asset.successCheck,
      failureCheck: asset.failureCheck,
      readCredential: () => deps.vault.read({ entryId, sessionId: id, purpose: 'login', actor: deps.audit.actorOf(owner), context }),
      timeoutMs: deps.loginTimeoutMs,
      // An end (owner, administrator, timeout, shutdown) stops the login at once.
      signal: s.cancel.signal,
    });
  } catch (error) {
    return failStart(deps, s, 'the login could not run', error);
  }
  if (s.ending) return failStart(deps, s, 'ended during the login', undefined);
  if (!outcome.ok) {
    const message = `${outcome.step}: ${outcome.message}`.slice(0, 500);
    await deps.audit
      .record('browser_session.login_failed', 'failure', id, deps.audit.actorOf(owner), { assetId: asset.id, vaultEntry: entryId, step: outcome.step, message: outcome.message, durationMs: outcome.durationMs }, context)
      .catch((error: unknown) => deps.logger.error({ err: error, session: id }, 'could not record a failed login'));
    await deps.live.finish(s, 'login_failed', { actor: deps.audit.system, message, context });
    throw new AppError('login_failed', { publicMessage: `The portal login failed at step ${message}` });
  }
  return activate(deps, s, 'logging_in', 'browser_session.login_succeeded', { assetId: asset.id, vaultEntry: entryId, injection: outcome.injection, durationMs: outcome.durationMs }, context);
}

async function activate(
  deps: StartDeps,
  s: LiveSession,
  from: 'starting' | 'logging_in',
  action: 'browser_session.login_succeeded' | 'browser_session.activated',
  details: Record<string, unknown>,
  context: RequestContext,
): Promise<SessionRecord> {
  const now = deps.clock.now();
  try {
    await deps.audit.record(action, 'success', s.record.id, deps.audit.actorOf(s.owner), details, context);
    if (!(await deps.store.advance(s.record.id, from, 'active', now))) throw new AppError('session_ended');
  } catch (error) {
    return failStart(deps, s, 'the session could not be recorded as active', error);
  }
  s.record = { ...s.record, state: 'active', activeAt: new Date(now).toISOString(), lastInputAt: new Date(now).toISOString() };
  s.recording?.event({ type: 'state', state: 'active' });
  startRecordingFrames(deps, s);
  s.lastInputMs = now;
  s.persistedInputMs = now;
  deps.logger.info({ session: s.record.id, asset: s.record.assetId, user: s.record.userId, durationMs: details.durationMs }, 'browser session active');
  return s.record;
}

/** Ends a start that cannot go on; an end by someone else meanwhile is answered session_ended. */
async function failStart(deps: StartDeps, s: LiveSession, message: string, error: unknown): Promise<never> {
  if (!s.ending && error instanceof AppError && error.code === 'session_ended') {
    // Ended in the database by someone else (an administrator on another node): close here too.
    const row = await deps.store.get(s.record.id).catch(() => null);
    await deps.live.finish(s, row?.endReason ?? 'admin', { actor: deps.audit.system, endedElsewhere: true });
  }
  if (s.ending) {
    await s.ending;
    throw new AppError('session_ended');
  }
  deps.logger.error({ err: error, session: s.record.id }, `browser session start failed: ${message}`);
  await deps.live.finish(s, 'login_failed', { actor: deps.audit.system, message });
  if (error instanceof AppError && error.status >= 500) throw error;
  throw new AppError('login_failed', { publicMessage: `The session could not be started: ${message}.`, cause: error });
}
