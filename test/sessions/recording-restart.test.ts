import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { openServices, type Services } from '../../src/app.js';
import { loadConfig } from '../../src/config/index.js';
import { createRedactor } from '../../src/core/index.js';
import { createDemoPortal, type DemoPortal } from '../../src/demo-portal/index.js';
import { createPgDatabase, dropPgDatabase, TEST_DATABASE_URL } from '../support/databases.js';
import { startServe, stopServe } from '../support/serve-child.js';
import { CANARY_PASSWORD, CANARY_USERNAME, CLI, eventually } from './support.js';

// A node killed with SIGKILL mid-session leaves its recording unsealed, readable up to the last
// flushed chunk. At its next start the node seals it incomplete (node_restart), and it verifies.

describe('a recorded session when its node is killed', () => {
  const dir = mkdtempSync(join(tmpdir(), 'recording-restart-'));
  const children: ChildProcess[] = [];
  let portal: DemoPortal | undefined;
  let dbUrl: string | undefined;
  afterAll(async () => {
    for (const child of children) await stopServe(child);
    await portal?.stop();
    if (dbUrl && TEST_DATABASE_URL) await dropPgDatabase(TEST_DATABASE_URL, dbUrl);
    rmSync(dir, { recursive: true, force: true });
  });

  async function services(env: Record<string, string>): Promise<Services> {
    const { config, secrets } = loadConfig({ env, cwd: dir });
    return openServices({ config, logger: pino({ level: 'silent' }), redactor: createRedactor(secrets), version: 'test' });
  }

  it('is sealed incomplete (node_restart) at the next start and verifies', { timeout: 180_000 }, async () => {
    portal = createDemoPortal({ username: CANARY_USERNAME, password: CANARY_PASSWORD });
    const portalUrl = await portal.start(0, '127.0.0.1');
    dbUrl = TEST_DATABASE_URL ? await createPgDatabase(TEST_DATABASE_URL) : undefined;
    const dataDir = join(dir, 'data');
    const env = { WEBASSET_DATA_DIR: dataDir, LOG_LEVEL: 'info', WEBASSET_NODE_ID: 'recording-restart', ...(dbUrl ? { DATABASE_URL: dbUrl } : {}) };

    // Set up while no server holds the embedded database.
    const setup = await services(env);
    await setup.vault.set({ entryId: 'bank-login', values: new Map([['username', Buffer.from(CANARY_USERNAME)], ['password', Buffer.from(CANARY_PASSWORD)]]) }, CLI);
    await setup.assets.create({ id: 'bank', name: 'Demo Bank', url: `${portalUrl}/login`, credential: 'bank-login', allowInsecureHttp: true }, CLI);
    const user = await setup.users.create({ username: 'alice', roles: ['operator'], source: 'local', kind: 'person' }, CLI);
    await setup.grants.create({ subjectKind: 'user', subjectId: user.id, assetId: 'bank', actions: ['connect'] }, CLI);
    const web = await setup.sessions.create({ user: (await setup.users.sessionUser(user.id))!, mfa: true, method: 'password', context: {} });
    await setup.close();

    const first = await startServe({ ...process.env, ...env, PORT: '0' }, dir);
    children.push(first.child);
    const started = await fetch(`${first.url}/api/sessions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie: `webasset=${web.cookieValue}`, 'x-csrf-token': web.csrfToken, origin: first.url },
      body: JSON.stringify({ assetId: 'bank' }),
    });
    expect(started.status).toBe(201);
    const session = (await started.json()) as { id: string; state: string };
    expect(session.state).toBe('active');

    // Wait for a chunk written after the session became active, then kill the node without any chance to seal.
    const recordingsDir = join(dataDir, 'recordings');
    const chunks = () => {
      const [id] = existsSync(recordingsDir) ? readdirSync(recordingsDir) : [];
      return { id, count: id ? readdirSync(join(recordingsDir, id)).filter((name) => name.startsWith('chunk-')).length : 0 };
    };
    const before = chunks().count;
    const folder = await eventually(async () => (chunks().count > before ? chunks().id : undefined), 15_000, 'a chunk flushed after the start');
    const exited = once(first.child, 'exit');
    first.child.kill('SIGKILL');
    await exited;
    expect(readdirSync(join(recordingsDir, folder))).not.toContain('manifest.json');

    const second = await startServe({ ...process.env, ...env, PORT: '0' }, dir);
    children.push(second.child);
    await stopServe(second.child);
    expect(second.output()).toContain('sealed session recordings left by an earlier run');

    const after = await services(env);
    try {
      const { items } = await after.recordings.list({});
      expect(items).toHaveLength(1);
      expect(items[0]).toMatchObject({ id: folder, sessionId: session.id, state: 'sealed', complete: false, incompleteReason: 'node_restart' });
      expect(items[0]!.chunks).toBeGreaterThanOrEqual(1);
      expect(await after.recordings.verify(folder)).toMatchObject({ ok: true, complete: false, problems: [] });
      const events = await after.recordings.events(folder);
      expect(events.map((e) => e.type === 'state' && e.state).filter(Boolean)).toEqual(expect.arrayContaining(['starting', 'logging_in', 'active']));
      const ended = await after.database.db.selectFrom('browser_sessions').select(['state', 'end_reason']).where('id', '=', session.id).executeTakeFirst();
      expect(ended).toEqual({ state: 'ended', end_reason: 'node_restart' });
    } finally {
      await after.close();
    }
  });
});
