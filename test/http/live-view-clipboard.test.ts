import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDemoPortal, type DemoPortal } from '../../src/demo-portal/index.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { call, CLI, sessionCaller, type Caller } from './admin-callers.js';
import { type LiveClient, startSession, liveViewOpener } from './live-view-fixtures.js';

/**
 * Copy out and paste in through the live view (real server, real Chromium, the demo portal's
 * transfer form): what the page copies reaches the controlling viewer's socket only, what the
 * viewer pastes is typed into the focused field, each only where the asset allows it, and the
 * audit trail and the recording learn counts, never the text.
 */
const USERNAME = 'clip-alice';
const PASSWORD = 'clip-canary-Pa55-e41b';
const IBAN = 'DE89370400440532013000';
// Pasted, then copied back out: it proves the paste reached the field (at most 34 characters, the field's maxlength).
const PASTED = `${IBAN} cb-7e1xq`;

describe('live view clipboard (real Chromium, demo portal)', () => {
  let ts: TestServer;
  let portal: DemoPortal;
  let owner: Caller;
  let watcher: Caller;
  let auditor: Caller;
  const clients: LiveClient[] = [];
  const open = liveViewOpener(() => ts, clients);

  /** An asset on the demo portal whose login ends on the transfer form; its own vault entry, so sessions of several assets can run at once. */
  async function addAsset(id: string, clipboardCopy: 'allow' | 'deny', clipboardPaste: 'allow' | 'deny', portalUrl: string): Promise<void> {
    await ts.services.vault.set({ entryId: `${id}-login`, values: new Map([['username', Buffer.from(USERNAME)], ['password', Buffer.from(PASSWORD)]]) }, CLI);
    await ts.services.assets.create(
      {
        id,
        name: `Clipboard ${id}`,
        url: `${portalUrl}/login`,
        credential: `${id}-login`,
        allowInsecureHttp: true,
        loginRecipe: {
          steps: [{ fill: '#username', value: '{{username}}' }, { fill: '#password', value: '{{password}}' }, { click: '#sign-in' }, { waitFor: { selector: '#balance' } }, { goto: '/transfer' }],
          injection: 'intercept',
        },
        successCheck: { selector: '#transfer-form' },
        policy: { clipboardCopy, clipboardPaste },
      },
      CLI,
    );
    await ts.services.grants.create({ subjectKind: 'user', subjectId: owner.userId!, assetId: id, actions: ['connect'] }, CLI);
    await ts.services.grants.create({ subjectKind: 'user', subjectId: watcher.userId!, assetId: id, actions: ['watch'] }, CLI);
  }

  /** The owner's view of a new session, painted once; the focus moved to the transfer form's IBAN field (the brand link, then the field). */
  async function controlAtIban(assetId: string): Promise<{ sessionId: string; viewer: LiveClient }> {
    const sessionId = await startSession(ts, owner, assetId);
    const viewer = open(owner, sessionId);
    await viewer.until(() => viewer.frames.length > 0, 'a first frame');
    for (let i = 0; i < 2; i++) {
      viewer.send({ type: 'key', action: 'down', key: 'Tab', code: 'Tab' });
      viewer.send({ type: 'key', action: 'up', key: 'Tab', code: 'Tab' });
    }
    return { sessionId, viewer };
  }

  function copyAll(viewer: LiveClient): void {
    viewer.send({ type: 'key', action: 'down', key: 'Control', code: 'ControlLeft' });
    for (const key of ['a', 'c']) {
      viewer.send({ type: 'key', action: 'down', key, code: `Key${key.toUpperCase()}` });
      viewer.send({ type: 'key', action: 'up', key, code: `Key${key.toUpperCase()}` });
    }
    viewer.send({ type: 'key', action: 'up', key: 'Control', code: 'ControlLeft' });
  }

  async function blockedReasons(sessionId: string): Promise<string[]> {
    await ts.services.audit.trail.flush();
    const { rows } = await sql<{ details: string | { reason: string } }>`SELECT details FROM audit_events WHERE action = 'browser_session.blocked' AND target_id = ${sessionId} ORDER BY seq`.execute(ts.services.database.db);
    return rows.map((row) => (typeof row.details === 'string' ? (JSON.parse(row.details) as { reason: string }) : row.details).reason);
  }

  async function waitFor<T>(probe: () => Promise<T | undefined>, what: string): Promise<T> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const value = await probe();
      if (value !== undefined) return value;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  let portalUrl: string;
  beforeAll(async () => {
    portal = createDemoPortal({ username: USERNAME, password: PASSWORD });
    portalUrl = await portal.start(0, '127.0.0.1');
    ts = await startTestServer({ WEBASSET_API_RATE_LIMIT: '1000000' });
    owner = await sessionCaller(ts, 'clip-owner', ['operator']);
    watcher = await sessionCaller(ts, 'clip-watcher', ['operator']);
    auditor = await sessionCaller(ts, 'clip-auditor', ['auditor']);
    await addAsset('clip-both', 'allow', 'allow', portalUrl);
    await addAsset('clip-no-paste', 'allow', 'deny', portalUrl);
    await addAsset('clip-no-copy', 'deny', 'allow', portalUrl);
  }, 60_000);
  afterAll(async () => {
    for (const client of clients) client.close();
    await ts?.stop();
    await portal?.stop();
  });

  it('pastes into the transfer field and hands a copy to the controlling viewer, never to a watcher; recorded as counts only', async () => {
    const { sessionId, viewer } = await controlAtIban('clip-both');
    const watching = open(watcher, sessionId);
    await watching.until(() => watching.text('state') !== undefined, 'the watcher attached');
    // A watcher's paste is refused like any input.
    watching.send({ type: 'paste', text: 'from the watcher' });
    await watching.until(() => watching.texts.some((m) => m.type === 'error' && m.code === 'read_only'), 'read_only');

    viewer.send({ type: 'paste', text: PASTED });
    copyAll(viewer);
    await viewer.until(() => viewer.text('clipboard') !== undefined, 'the copied text');
    expect(viewer.text('clipboard')).toEqual({ type: 'clipboard', text: PASTED, truncated: false });
    // The copy was sent to every controlling viewer at once; a watcher is never subscribed.
    expect(watching.texts.filter((m) => m.type === 'clipboard')).toEqual([]);

    expect((await call(ts, owner, 'DELETE', `/api/sessions/${sessionId}`)).status).toBe(200);
    const recordingId = await waitFor(async () => {
      const list = await call(ts, auditor, 'GET', '/api/recordings?assetId=clip-both');
      const found = (list.json as { recordings: Array<{ id: string; state: string }> }).recordings[0];
      return found?.state === 'sealed' ? found.id : undefined;
    }, 'a sealed recording');
    const detail = await fetch(`${ts.url}/api/recordings/${recordingId}`, { headers: auditor.headers('GET') });
    const body = await detail.text();
    const events = (JSON.parse(body) as { events: Array<{ type: string; direction?: string; chars?: number }> }).events;
    expect(events.filter((e) => e.type === 'clipboard')).toEqual([
      expect.objectContaining({ type: 'clipboard', direction: 'paste', chars: PASTED.length }),
      expect.objectContaining({ type: 'clipboard', direction: 'copy', chars: PASTED.length }),
    ]);
    expect(body).not.toContain(PASTED);
    // Nothing the server stored (database, audit, recording chunks) holds the text.
    await ts.services.audit.trail.flush();
    expect(filesHolding(ts.dataDir, PASTED)).toEqual([]);
    // The scan reads what the server stored: the page's address is there.
    expect(filesHolding(ts.dataDir, '/transfer').length).toBeGreaterThan(0);
  });

  it('redacts the credential from what is copied out (a careless portal that shows or copies it), reading the vault once for that', async () => {
    const { sessionId, viewer } = await controlAtIban('clip-both');
    // The field now holds the portal password (as a careless page could show it); the copy carries it out.
    viewer.send({ type: 'paste', text: `x ${PASSWORD}` });
    copyAll(viewer);
    await viewer.until(() => viewer.text('clipboard') !== undefined, 'the copied text');
    expect(viewer.text('clipboard')).toEqual({ type: 'clipboard', text: 'x [REDACTED]', truncated: false });
    expect(JSON.stringify(viewer.texts)).not.toContain(PASSWORD);
    await ts.services.audit.trail.flush();
    const { rows } = await sql<{ details: string | { purpose: string } }>`SELECT details FROM audit_events WHERE action = 'vault.secret.read' AND details::text LIKE ${`%${sessionId}%`} ORDER BY seq`.execute(ts.services.database.db);
    const purposes = rows.map((row) => (typeof row.details === 'string' ? (JSON.parse(row.details) as { purpose: string }) : row.details).purpose);
    expect(purposes.filter((p) => p === 'redact')).toHaveLength(1);
    expect((await call(ts, owner, 'DELETE', `/api/sessions/${sessionId}`)).status).toBe(200);
  });

  it('paste denied: the viewer is told, nothing is inserted, and it is audited as blocked', async () => {
    const { sessionId, viewer } = await controlAtIban('clip-no-paste');
    viewer.send({ type: 'paste', text: PASTED });
    await viewer.until(() => viewer.texts.some((m) => m.type === 'error' && m.code === 'paste_denied'), 'paste_denied');
    viewer.send({ type: 'text', text: 'typed' });
    copyAll(viewer);
    await viewer.until(() => viewer.text('clipboard') !== undefined, 'the copied text');
    // Only what was typed is in the field.
    expect(viewer.text('clipboard')).toMatchObject({ text: 'typed' });
    expect(await waitFor(async () => ((await blockedReasons(sessionId)).length > 0 ? blockedReasons(sessionId) : undefined), 'the blocked paste')).toEqual([
      'clipboard paste is denied for this asset',
    ]);
    expect((await call(ts, owner, 'DELETE', `/api/sessions/${sessionId}`)).status).toBe(200);
  });

  it('copy denied: nothing is sent to the viewer, and it is audited as blocked', async () => {
    const { sessionId, viewer } = await controlAtIban('clip-no-copy');
    viewer.send({ type: 'paste', text: PASTED });
    copyAll(viewer);
    const reasons = await waitFor(async () => ((await blockedReasons(sessionId)).length > 0 ? blockedReasons(sessionId) : undefined), 'the blocked copy');
    expect(reasons).toEqual(['clipboard copy is denied for this asset']);
    expect(viewer.texts.filter((m) => m.type === 'clipboard')).toEqual([]);
    expect((await call(ts, owner, 'DELETE', `/api/sessions/${sessionId}`)).status).toBe(200);
  });
});

/** Files under `dir` whose bytes hold `needle` (UTF-8). */
function filesHolding(dir: string, needle: string): string[] {
  const found: string[] = [];
  const bytes = Buffer.from(needle, 'utf8');
  const walk = (path: string) => {
    for (const name of readdirSync(path)) {
      const full = join(path, name);
      const info = statSync(full);
      if (info.isDirectory()) walk(full);
      else if (info.isFile() && readFileSync(full).includes(bytes)) found.push(full);
    }
  };
  walk(dir);
  return found;
}
