import { createHash, randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_KEPT_DOWNLOADS } from '../../src/browser/index.js';
import { AppError } from '../../src/core/index.js';
import { createDemoPortal, type DemoPortal } from '../../src/demo-portal/index.js';
import { keptFolders, waitUntil } from '../browser/support.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { call, sessionCaller, type Caller } from './admin-callers.js';
import { addDemoTransferAsset, LiveClient, startSession } from './live-view-fixtures.js';

/**
 * Downloads to and uploads from the session's owner (real server, real Chromium, the demo portal):
 * a statement the portal sends as an attachment reaches the owner over HTTP, a document the owner
 * sends lands in the portal's upload form, each only where the asset allows it, never through a
 * watcher or another operator, each recorded before it happens.
 */
const USERNAME = 'xfer-alice';
const PASSWORD = 'xfer-canary-Pa55-91c3';
const NIL_ID = '00000000-0000-4000-8000-000000000000';

describe('live view downloads and uploads (real Chromium, demo portal)', () => {
  let ts: TestServer;
  let portal: DemoPortal;
  let owner: Caller;
  let other: Caller;
  let watcher: Caller;
  const clients: LiveClient[] = [];
  /** Every HTTP answer's text, for the canary check. */
  const answers: string[] = [];
  const open = (caller: Caller, sessionId: string) => {
    const client = LiveClient.open(ts.url, sessionId, caller.headers('GET').cookie!);
    clients.push(client);
    return client;
  };
  const request = async (caller: Caller, method: string, path: string, body?: FormData) => {
    const response = await fetch(`${ts.url}${path}`, { method, headers: caller.headers(method), body });
    const bytes = Buffer.from(await response.arrayBuffer());
    answers.push(bytes.toString('utf8'));
    return { status: response.status, headers: response.headers, bytes, json: () => JSON.parse(bytes.toString('utf8')) as Record<string, unknown> };
  };
  const files = (...parts: Array<{ name: string; bytes: Buffer; type?: string }>) => {
    const form = new FormData();
    for (const part of parts) form.append('file', new Blob([part.bytes], { type: part.type ?? 'application/octet-stream' }), part.name);
    return form;
  };

  const addAsset = (id: string, policy: 'allow' | 'block', endsOn: 'accounts' | 'documents', portalUrl: string) =>
    addDemoTransferAsset(ts, { id, portalUrl, username: USERNAME, password: PASSWORD, policy, endsOn, connect: [owner, other], watch: [watcher] });

  function press(viewer: LiveClient, key: string, code: string, times = 1): void {
    for (let i = 0; i < times; i++) {
      viewer.send({ type: 'key', action: 'down', key, code });
      viewer.send({ type: 'key', action: 'up', key, code });
    }
  }

  /** The owner's view of a new session (painted once) and a watcher's. */
  async function views(assetId: string): Promise<{ sessionId: string; viewer: LiveClient; watching: LiveClient }> {
    const sessionId = await startSession(ts, owner, assetId);
    const viewer = open(owner, sessionId);
    const watching = open(watcher, sessionId);
    await viewer.until(() => viewer.frames.length > 0, 'a first frame');
    await watching.until(() => watching.text('state') !== undefined, 'the watcher attached');
    return { sessionId, viewer, watching };
  }

  async function auditRows(action: string, sessionId: string): Promise<Array<{ outcome: string; actor_id: string; details: Record<string, unknown> }>> {
    await ts.services.audit.trail.flush();
    const { rows } = await sql<{ outcome: string; actor_id: string; details: string | Record<string, unknown> }>`SELECT outcome, actor_id, details FROM audit_events WHERE action = ${action} AND target_id = ${sessionId} ORDER BY seq`.execute(
      ts.services.database.db,
    );
    return rows.map((row) => ({ ...row, details: typeof row.details === 'string' ? (JSON.parse(row.details) as Record<string, unknown>) : row.details }));
  }

  /** While `run` runs, the trail refuses to record `action` (as it does without database and spool). */
  async function auditDown<T>(action: string, run: () => Promise<T>): Promise<T> {
    const trail = ts.services.audit.trail;
    const record = trail.record.bind(trail);
    trail.record = (event) => (event.action === action ? Promise.reject(new AppError('audit_unavailable')) : record(event));
    try {
      return await run();
    } finally {
      trail.record = record;
    }
  }

  async function waitFor<T>(probe: () => Promise<T | undefined> | T | undefined, what: string): Promise<T> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const value = await probe();
      if (value !== undefined) return value;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  beforeAll(async () => {
    portal = createDemoPortal({ username: USERNAME, password: PASSWORD });
    const portalUrl = await portal.start(0, '127.0.0.1');
    ts = await startTestServer({ WEBASSET_API_RATE_LIMIT: '1000000' });
    owner = await sessionCaller(ts, 'xfer-owner', ['operator']);
    other = await sessionCaller(ts, 'xfer-other', ['operator']);
    watcher = await sessionCaller(ts, 'xfer-watcher', ['operator']);
    await addAsset('xfer-statements', 'allow', 'accounts', portalUrl);
    await addAsset('xfer-statements-blocked', 'block', 'accounts', portalUrl);
    await addAsset('xfer-documents', 'allow', 'documents', portalUrl);
    await addAsset('xfer-documents-blocked', 'block', 'documents', portalUrl);
  }, 60_000);
  afterAll(async () => {
    for (const client of clients) client.close();
    await ts?.stop();
    await portal?.stop();
  });

  it('downloads allowed: the owner is told and fetches the exact bytes (audited first); another operator gets 404; a watcher hears nothing; the copy goes with the session', async () => {
    const { sessionId, viewer, watching } = await views('xfer-statements');
    // The brand link, "Make a transfer", then the statement link.
    press(viewer, 'Tab', 'Tab', 3);
    press(viewer, 'Enter', 'Enter');
    await viewer.until(() => viewer.text('download') !== undefined, 'the download message');
    const notice = viewer.text('download') as unknown as { id: string; fileName: string; size: number; sha256: string };
    expect(notice).toMatchObject({ fileName: 'statement-latest.csv', size: expect.any(Number), sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
    const downloaded = await auditRows('browser_session.downloaded', sessionId);
    expect(downloaded).toHaveLength(1);
    expect(downloaded[0]!.details).toMatchObject({ fileName: 'statement-latest.csv', size: notice.size, sha256: notice.sha256, downloadId: notice.id });

    const path = `/api/sessions/${sessionId}/downloads/${notice.id}`;
    // A fetch that cannot be recorded sends nothing of the file (fail closed).
    const unrecorded = await auditDown('browser_session.download_fetched', () => request(owner, 'GET', path));
    expect(unrecorded.status).toBe(503);
    expect(unrecorded.json()).toMatchObject({ error: { code: 'audit_unavailable' } });
    expect(unrecorded.bytes.toString('utf8')).not.toContain(USERNAME);
    const fetched = await request(owner, 'GET', path);
    expect(fetched.status).toBe(200);
    expect(fetched.bytes.length).toBe(notice.size);
    expect(createHash('sha256').update(fetched.bytes).digest('hex')).toBe(notice.sha256);
    expect(fetched.bytes.toString('utf8')).toContain(USERNAME);
    expect(fetched.headers.get('content-type')).toBe('application/octet-stream');
    expect(fetched.headers.get('content-disposition')).toBe(`attachment; filename="statement-latest.csv"; filename*=UTF-8''statement-latest.csv`);
    expect(fetched.headers.get('x-content-type-options')).toBe('nosniff');
    expect(fetched.headers.get('cache-control')).toBe('no-store');
    const fetches = await auditRows('browser_session.download_fetched', sessionId);
    expect(fetches).toEqual([{ outcome: 'success', actor_id: owner.userId, details: expect.objectContaining({ downloadId: notice.id, fileName: 'statement-latest.csv', size: notice.size, sha256: notice.sha256 }) }]);

    // Another operator (who may connect to the asset), an unknown id, a HEAD: nothing, and nothing recorded.
    for (const [caller, target] of [
      [other, path],
      [owner, `/api/sessions/${sessionId}/downloads/${NIL_ID}`],
      [other, `/api/sessions/${NIL_ID}/downloads/${notice.id}`],
    ] as const) {
      const refused = await request(caller, 'GET', target);
      expect(refused.status).toBe(404);
      expect(refused.json()).toMatchObject({ error: { code: 'not_found' } });
    }
    expect((await request(owner, 'HEAD', path)).status).toBe(404);
    expect(await auditRows('browser_session.download_fetched', sessionId)).toHaveLength(1);
    expect(watching.texts.some((m) => m.type === 'download')).toBe(false);

    // A view that attaches later is told of what is kept.
    const later = open(owner, sessionId);
    await later.until(() => later.text('download') !== undefined, 'the kept download on attach');
    expect(later.text('download')).toEqual({ type: 'download', ...notice });

    expect(keptFolders(sessionId)).toHaveLength(1);
    expect((await call(ts, owner, 'DELETE', `/api/sessions/${sessionId}`)).status).toBe(200);
    expect(keptFolders(sessionId)).toEqual([]);
    const afterEnd = await request(owner, 'GET', path);
    expect(afterEnd.status).toBe(404);
    expect(afterEnd.json()).toMatchObject({ error: { code: 'not_found' } });
  });

  it("downloads past the session's limit: the oldest's discard is recorded (browser_session.download_dropped), then the owner's view is told (download_dropped, with its id) and its fetch answers 404; a watcher hears nothing", async () => {
    const { sessionId, viewer, watching } = await views('xfer-statements');
    const announced = () => viewer.texts.filter((m) => m.type === 'download') as unknown as Array<{ id: string }>;
    const dropped = () => viewer.texts.filter((m) => m.type === 'download_dropped' && m.reason === 'session_limit') as unknown as Array<{ id: string }>;
    press(viewer, 'Tab', 'Tab', 3);
    // One statement at a time: a second Enter while the first one starts could cancel its navigation.
    // On a loaded machine an Enter can land before the link is ready again; it is pressed once more
    // after a while, so one more statement than needed may arrive (the checks below allow for it).
    for (let i = 1; i <= MAX_KEPT_DOWNLOADS + 1; i++) {
      for (let attempt = 1; ; attempt++) {
        press(viewer, 'Enter', 'Enter');
        const arrived = await waitUntil(() => announced().length >= i, 10_000, () => 'not yet').then(
          () => true,
          () => false,
        );
        if (arrived) break;
        if (attempt === 3) throw new Error(`download ${i} never announced; the view got ${JSON.stringify(viewer.texts.filter((m) => m.type !== 'state'))}`);
      }
    }
    // Each made room for one: the oldest first, with its id; any extra ones came after it.
    await waitUntil(() => dropped().length === announced().length - MAX_KEPT_DOWNLOADS || undefined, 10_000, () => `dropped ${dropped().length} for ${announced().length} downloads`);
    const oldest = announced()[0]!;
    expect(dropped()[0]).toEqual({ type: 'download_dropped', id: oldest.id, fileName: 'statement-latest.csv', reason: 'session_limit' });
    expect(dropped().map((m) => m.id)).toEqual(announced().slice(0, dropped().length).map((m) => m.id));
    // Recorded once per discarded copy, before the view was told, with what it was kept with; the
    // live message itself stays as documented (no size or SHA-256).
    const downloaded = await auditRows('browser_session.downloaded', sessionId);
    const discarded = await auditRows('browser_session.download_dropped', sessionId);
    expect(discarded.map((r) => r.details.downloadId)).toEqual(dropped().map((m) => m.id));
    const first = downloaded.find((r) => r.details.downloadId === oldest.id)!;
    expect(discarded[0]).toMatchObject({ outcome: 'success', details: { assetId: 'xfer-statements', downloadId: oldest.id, fileName: 'statement-latest.csv', size: first.details.size, sha256: first.details.sha256, reason: 'session_limit' } });
    expect(discarded[0]!.actor_id).toBe(first.actor_id);
    // Dropped for the session's limit, not blocked: no `browser_session.blocked` record of a download.
    expect((await auditRows('browser_session.blocked', sessionId)).filter((r) => r.details.what === 'download')).toEqual([]);
    expect((await request(owner, 'GET', `/api/sessions/${sessionId}/downloads/${oldest.id}`)).status).toBe(404);
    expect((await request(owner, 'GET', `/api/sessions/${sessionId}/downloads/${announced().at(-1)!.id}`)).status).toBe(200);
    expect(watching.texts.some((m) => m.type === 'download_dropped')).toBe(false);
    expect((await call(ts, owner, 'DELETE', `/api/sessions/${sessionId}`)).status).toBe(200);
  }, 180_000);

  it('downloads blocked: cancelled in the browser, recorded as blocked, nobody is told', async () => {
    const { sessionId, viewer } = await views('xfer-statements-blocked');
    press(viewer, 'Tab', 'Tab', 3);
    press(viewer, 'Enter', 'Enter');
    const blocked = await waitFor(async () => (await auditRows('browser_session.blocked', sessionId)).find((r) => r.details.what === 'download'), 'the blocked download');
    expect(blocked.details.reason).toContain('statement-latest.csv');
    expect(viewer.texts.some((m) => m.type === 'download')).toBe(false);
    expect(await auditRows('browser_session.downloaded', sessionId)).toEqual([]);
    expect(keptFolders(sessionId)).toEqual([]);
    expect((await call(ts, owner, 'DELETE', `/api/sessions/${sessionId}`)).status).toBe(200);
  });

  it('uploads allowed: the owner is asked, sends a file over HTTP (recorded with its SHA-256 first) and the portal receives it; caps, strangers, replays and cancels are refused', async () => {
    const { sessionId, viewer, watching } = await views('xfer-documents');
    // Larger than the server's 1 MiB body limit for JSON: files have caps of their own.
    const document = Buffer.concat([Buffer.from(`%PDF-1.4 statement of ${randomUUID()}\n`), Buffer.alloc(1536 * 1024, 0x20)]);
    const nextChooser = async (what: string) => {
      const before = viewer.texts.filter((m) => m.type === 'file_chooser').length;
      press(viewer, ' ', 'Space');
      await viewer.until(() => viewer.texts.filter((m) => m.type === 'file_chooser').length > before, what);
      return viewer.texts.filter((m) => m.type === 'file_chooser').at(-1) as unknown as { id: string; multiple: boolean; accept: string[] };
    };

    // The brand link, then the file input; Space opens its chooser. Cancelled from the live view: no file, a POST is refused.
    press(viewer, 'Tab', 'Tab', 2);
    const first = await nextChooser('the file chooser message');
    expect(first).toMatchObject({ multiple: false, accept: ['.pdf', '.csv', '.txt', 'image/*'] });
    viewer.send({ type: 'file_chooser_cancel', id: first.id });
    await viewer.until(() => viewer.texts.some((m) => m.type === 'file_chooser_closed' && m.id === first.id), 'the first chooser closed');
    const late = await request(owner, 'POST', `/api/sessions/${sessionId}/uploads/${first.id}`, files({ name: 'a.pdf', bytes: document }));
    expect(late.status).toBe(409);
    expect(late.json()).toMatchObject({ error: { code: 'file_chooser_closed' } });
    viewer.send({ type: 'file_chooser_cancel', id: first.id });
    await viewer.until(() => viewer.texts.some((m) => m.type === 'error' && m.code === 'file_chooser_closed'), 'file_chooser_closed for a second cancel');

    // The focus is still on the file input: asked again.
    const chooser = await nextChooser('a second file chooser');
    const path = `/api/sessions/${sessionId}/uploads/${chooser.id}`;
    // Too large: 413 with its code, nothing set, the chooser still waits.
    const big = await request(owner, 'POST', path, files({ name: 'big.pdf', bytes: Buffer.alloc(25 * 1024 * 1024 + 1) }));
    expect(big.status).toBe(413);
    expect(big.json()).toMatchObject({ error: { code: 'payload_too_large' } });
    // Two files for a single input, another operator, a chooser that never was, a body that is not multipart.
    expect((await request(owner, 'POST', path, files({ name: 'a.pdf', bytes: document }, { name: 'b.pdf', bytes: document }))).status).toBe(400);
    expect((await request(other, 'POST', path, files({ name: 'a.pdf', bytes: document }))).status).toBe(404);
    expect((await request(owner, 'POST', `/api/sessions/${sessionId}/uploads/${NIL_ID}`, files({ name: 'a.pdf', bytes: document }))).status).toBe(404);
    expect((await call(ts, owner, 'POST', path, { file: 'x' })).status).toBe(415);
    // Without the CSRF token (cookie only): refused before anything is read.
    const forged = await fetch(`${ts.url}${path}`, { method: 'POST', headers: { cookie: owner.headers('GET').cookie!, origin: ts.url }, body: files({ name: 'a.pdf', bytes: document }) });
    expect(forged.status).toBe(403);
    // An upload that cannot be recorded is not set (fail closed); the chooser still waits.
    const unrecorded = await auditDown('browser_session.uploaded', () => request(owner, 'POST', path, files({ name: 'a.pdf', bytes: document })));
    expect(unrecorded.status).toBe(503);
    expect(unrecorded.json()).toMatchObject({ error: { code: 'audit_unavailable' } });
    expect(await auditRows('browser_session.uploaded', sessionId)).toEqual([]);
    expect(portal.documents).toEqual([]);

    const sent = await request(owner, 'POST', path, files({ name: 'C:\\Users\\alice\\statement\u0007.pdf', bytes: document, type: 'application/pdf' }));
    expect(sent.status).toBe(200);
    const sha256 = createHash('sha256').update(document).digest('hex');
    expect(sent.json()).toEqual({ files: [{ name: 'statement.pdf', size: document.length, sha256 }] });
    await viewer.until(() => viewer.texts.some((m) => m.type === 'file_chooser_closed' && m.id === chooser.id), 'the chooser closed');
    expect(await auditRows('browser_session.uploaded', sessionId)).toEqual([
      { outcome: 'success', actor_id: owner.userId, details: expect.objectContaining({ chooserId: chooser.id, fileNames: ['statement.pdf'], sizes: [document.length], sha256: [sha256] }) },
    ]);
    // The form is submitted from the live view: the upload button follows the input.
    press(viewer, 'Tab', 'Tab');
    press(viewer, 'Enter', 'Enter');
    expect(await waitFor(() => portal.documents[0], 'the portal to receive the document')).toEqual({ name: 'statement.pdf', size: document.length });
    const again = await request(owner, 'POST', path, files({ name: 'a.pdf', bytes: document }));
    expect(again.status).toBe(409);
    expect(again.json()).toMatchObject({ error: { code: 'file_chooser_closed' } });
    // A watcher hears of no chooser.
    expect(watching.texts.some((m) => m.type === 'file_chooser' || m.type === 'file_chooser_closed')).toBe(false);
    expect(portal.documents).toHaveLength(1);

    expect((await call(ts, owner, 'DELETE', `/api/sessions/${sessionId}`)).status).toBe(200);
    const ended = await request(owner, 'POST', path, files({ name: 'a.pdf', bytes: document }));
    expect(ended.status).toBe(410);
    expect(ended.json()).toMatchObject({ error: { code: 'session_ended' } });
  });

  it('uploads blocked: the chooser is refused in the page and recorded; nobody is asked and a POST is forbidden', async () => {
    const { sessionId, viewer } = await views('xfer-documents-blocked');
    press(viewer, 'Tab', 'Tab', 2);
    press(viewer, ' ', 'Space');
    const blocked = await waitFor(async () => (await auditRows('browser_session.blocked', sessionId)).find((r) => r.details.what === 'upload'), 'the blocked upload');
    expect(blocked.details.reason).toBe('uploads are blocked for this asset');
    expect(viewer.texts.some((m) => m.type === 'file_chooser')).toBe(false);
    const refused = await request(owner, 'POST', `/api/sessions/${sessionId}/uploads/${NIL_ID}`, files({ name: 'a.pdf', bytes: Buffer.from('x') }));
    expect(refused.status).toBe(403);
    expect(refused.json()).toMatchObject({ error: { code: 'forbidden' } });
    expect(await auditRows('browser_session.uploaded', sessionId)).toEqual([]);
    expect((await call(ts, owner, 'DELETE', `/api/sessions/${sessionId}`)).status).toBe(200);
  });

  it('the portal password never appears in a live message, an HTTP answer or the audit trail', async () => {
    const texts = clients.flatMap((client) => client.texts.map((m) => JSON.stringify(m)));
    expect(texts.length).toBeGreaterThan(0);
    for (const text of [...texts, ...answers]) expect(text).not.toContain(PASSWORD);
    await ts.services.audit.trail.flush();
    const { rows } = await sql<{ details: unknown }>`SELECT details FROM audit_events`.execute(ts.services.database.db);
    expect(JSON.stringify(rows)).not.toContain(PASSWORD);
  });
});
