import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { sql } from 'kysely';
import pino from 'pino';
import { afterAll, beforeAll } from 'vitest';
import { createAccess, createAssets, createGrants, type AssetInput, type Assets, type Grants } from '../../src/access/index.js';
import { createDocumentSigner, createDocumentVerifier, type AuditTrail } from '../../src/audit/index.js';
import { createBrowserPool, DEFAULT_LAUNCH_ARGS, findChromium, type BrowserPool } from '../../src/browser/index.js';
import { AppError, createRedactor, randomIds, systemClock, type Clock } from '../../src/core/index.js';
import { createDemoPortal, type DemoPortal } from '../../src/demo-portal/index.js';
import type { Principal } from '../../src/identity/index.js';
import { createFileRecordingStorage, createRecordings, type Recordings, type RecordingStorage } from '../../src/recording/index.js';
import { createBrowserSessions, type BrowserSessions } from '../../src/sessions/index.js';
import { openVault, type Vault } from '../../src/vault/index.js';
import { buildAudit } from '../support/audit-fixtures.js';
import { markedBrowserPids } from '../support/browser-processes.js';
import type { FreshDatabase } from '../support/databases.js';
import { LogCapture } from '../support/server.js';
import { insertPlainUser } from '../support/session-user.js';

export const CANARY_USERNAME = 'sessions-alice';
export const CANARY_PASSWORD = 'canary-Sess-9f3a1c77e2';
export const CLI: Principal = { kind: 'user', id: 'admin-cli', name: 'Admin', roles: ['admin'], groups: [], via: 'cli', mfa: true };

/** A pool whose Chromium carries a marker switch, so a test can find (and kill) exactly its browser process. */
export function markedPool(): { pool: BrowserPool; browserPids(): number[] } {
  const marker = `--webasset-sessions-test=${randomBytes(6).toString('hex')}`;
  const pool = createBrowserPool({ chromiumPath: findChromium(undefined), logger: pino({ level: 'silent' }), launchArgs: [...DEFAULT_LAUNCH_ARGS, marker] });
  const browserPids = () => markedBrowserPids(marker);
  return { pool, browserPids };
}

export async function startDemoPortal(): Promise<{ portal: DemoPortal; url: string }> {
  const portal = createDemoPortal({ username: CANARY_USERNAME, password: CANARY_PASSWORD });
  return { portal, url: await portal.start(0, '127.0.0.1') };
}

/** The marked pool and the demo portal a test file shares: started before its tests, closed after them. */
export interface SharedPoolAndPortal {
  pool: BrowserPool;
  browserPids: () => number[];
  portal: DemoPortal;
  portalUrl: string;
}

/** Starts a marked pool and the demo portal in `beforeAll` and closes them in `afterAll`; read the fields inside tests. */
export function usePoolAndPortal(): SharedPoolAndPortal {
  const shared = {} as SharedPoolAndPortal;
  beforeAll(async () => {
    const marked = markedPool();
    shared.pool = marked.pool;
    shared.browserPids = () => marked.browserPids();
    ({ portal: shared.portal, url: shared.portalUrl } = await startDemoPortal());
  });
  afterAll(async () => {
    await shared.pool?.close();
    await shared.portal?.stop();
  });
  return shared;
}

export interface SessionStack {
  sessions: BrowserSessions;
  assets: Assets;
  grants: Grants;
  vault: Vault;
  trail: AuditTrail;
  /** The sessions' recordings, in `<dataDir>/recordings` unless a storage was given. */
  recordings: Recordings;
  logs: LogCapture;
  /** A new operator (a users row) with `actions` on the asset through a direct grant. */
  operator(name: string, assetId?: string, actions?: Array<'connect' | 'watch'>): Promise<Principal>;
  auditRows(filter?: { action?: string; target?: string }): Promise<Array<{ action: string; outcome: string; actor_id: string; target_id: string | null; details: Record<string, any> }>>;
  /** Every audit event's text, for canary searches. */
  auditText(): Promise<string>;
  close(): Promise<void>;
}

/**
 * The real parts, wired as the composition root does: this test's database,
 * the audit trail, access, the vault with a fresh key, the given Chromium
 * pool and the sessions module. One asset `bank` on the demo portal, logged
 * into with the vault entry `bank-login` (the canary password).
 */
export async function buildStack(
  fresh: FreshDatabase,
  pool: BrowserPool,
  portalUrl: string,
  options: {
    clock?: Clock;
    tickMs?: number;
    nodeId?: string;
    asset?: Partial<AssetInput>;
    password?: string;
    sessionsTrail?: (trail: AuditTrail) => AuditTrail;
    /** Where recordings go (a storage that fails on purpose); default files in `<dataDir>/recordings`. */
    recordingStorage?: RecordingStorage;
    recordingFrameIntervalMs?: number;
    /** Deadline of a login; default 20 s. */
    loginTimeoutMs?: number;
  } = {},
): Promise<SessionStack> {
  const clock = options.clock ?? systemClock;
  const { database, dataDir } = fresh.db;
  const db = database.db;
  const logs = new LogCapture();
  const logger = pino({ level: 'debug' }, logs);
  const audit = buildAudit(database, dataDir, { clock, redactor: createRedactor() });
  await audit.trail.start();
  const trail = audit.trail;
  const vault = await openVault({ db, trail, clock, masterKey: randomBytes(32), systemActor: { kind: 'system', id: 'test-node', name: 'webasset' } });
  const access = createAccess({ trail, db, clock });
  const assets = createAssets({ db, trail, clock });
  const grants = createGrants({ db, trail, clock, ids: randomIds });
  await vault.set({ entryId: 'bank-login', values: new Map([['username', Buffer.from(CANARY_USERNAME)], ['password', Buffer.from(options.password ?? CANARY_PASSWORD)]]) }, CLI);
  await assets.create({ id: 'bank', name: 'Demo Bank', url: `${portalUrl}/login`, credential: 'bank-login', allowInsecureHttp: true, ...options.asset }, CLI);
  const sessionsTrail = options.sessionsTrail?.(trail) ?? trail;
  const nodeId = options.nodeId ?? 'test-node';
  const signer = createDocumentSigner(randomBytes(32).toString('base64'));
  const recordings = createRecordings({
    db,
    storage: options.recordingStorage ?? createFileRecordingStorage(join(dataDir, 'recordings')),
    trail,
    signer,
    verifier: createDocumentVerifier([signer.publicKey]),
    clock,
    ids: randomIds,
    nodeId,
    logger,
  });
  const sessions = createBrowserSessions({
    db,
    access,
    assets,
    vault,
    pool,
    recordings,
    trail: sessionsTrail,
    clock,
    ids: randomIds,
    nodeId,
    logger,
    tickMs: options.tickMs ?? 50,
    loginTimeoutMs: options.loginTimeoutMs ?? 20_000,
    recordingFrameIntervalMs: options.recordingFrameIntervalMs,
  });
  let closed = false;
  return {
    sessions,
    assets,
    grants,
    vault,
    trail,
    recordings,
    logs,
    async operator(name, assetId = 'bank', actions = ['connect']) {
      const id = await insertPlainUser(db, name);
      await grants.create({ subjectKind: 'user', subjectId: id, assetId, actions }, CLI);
      return { kind: 'user', id, name, roles: ['operator'], groups: [], via: 'session', mfa: true };
    },
    async auditRows(filter = {}) {
      await trail.flush();
      const { rows } = await sql<{ action: string; outcome: string; actor_id: string; target_id: string | null; details: string }>`
        SELECT action, outcome, actor_id, target_id, details FROM audit_events
        WHERE (${filter.action ?? null}::text IS NULL OR action = ${filter.action ?? null})
          AND (${filter.target ?? null}::text IS NULL OR target_id = ${filter.target ?? null})
        ORDER BY seq`.execute(db);
      return rows.map((r) => ({ ...r, details: JSON.parse(r.details) as Record<string, any> }));
    },
    async auditText() {
      await trail.flush();
      const { rows } = await sql<{ t: string }>`SELECT coalesce(string_agg(action || ' ' || coalesce(target_id, '') || ' ' || details, E'\\n'), '') AS t FROM audit_events`.execute(db);
      return rows[0]!.t;
    },
    async close() {
      if (closed) return;
      closed = true;
      await sessions.shutdown();
      vault.close();
      await trail.close();
    },
  };
}

/**
 * The real trail, refusing the actions in `failing` as a trail that can write neither to the
 * database nor to its spool does (audit_unavailable): a deliberately failing backend.
 */
export function refusing(failing: Set<string>): (trail: AuditTrail) => AuditTrail {
  return (trail) => ({
    ...trail,
    record: (event) => (failing.has(event.action) ? Promise.reject(new AppError('audit_unavailable')) : trail.record(event)),
  });
}

/** Polls until `probe` gives a value (a deadline, not a timing assertion). */
export async function eventually<T>(probe: () => Promise<T | undefined | false>, timeoutMs = 20_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
