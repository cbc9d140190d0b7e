import { createHash, randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.js';
import { CLI, call, sessionCaller, tokenCaller, type Caller } from './admin-callers.js';
import { decodeFrameStream, record, recorderNode, screenshotJpegs, type RecorderNode, type Step } from './recordings-fixtures.js';

/** The portal's secrets: they must not appear in any answer about a recording. */
const PASSWORD_CANARY = 'replay-canary-Pa55word-71c3';
const TOTP_CANARY = 'JBSWY3DPEHPK3PXPREPLAYCANARY';

/** Every answer body of this file, searched for the canaries at the end. */
const answers: Buffer[] = [];

async function get(ts: TestServer, caller: Caller, path: string): Promise<{ status: number; type: string | null; headers: Headers; body: Buffer; json: any }> {
  const response = await fetch(`${ts.url}${path}`, { headers: caller.headers('GET') });
  // A membership change rotates the session id at the next request: follow it, as a browser would.
  for (const setCookie of response.headers.getSetCookie()) await caller.sawCookie?.(setCookie);
  const body = Buffer.from(await response.arrayBuffer());
  answers.push(body);
  const type = response.headers.get('content-type');
  return { status: response.status, type, headers: response.headers, body, json: type?.startsWith('application/json') ? JSON.parse(body.toString('utf8')) : null };
}

async function send(ts: TestServer, caller: Caller, method: string, path: string, body?: unknown) {
  const res = await call(ts, caller, method, path, body);
  answers.push(Buffer.from(res.text));
  return res;
}

async function auditRows(ts: TestServer, action: string): Promise<Array<{ actor_id: string; target_id: string | null; details: Record<string, unknown> }>> {
  await ts.services.audit.trail.flush();
  const { rows } = await sql<{ actor_id: string; target_id: string | null; details: string | Record<string, unknown> }>`
    SELECT actor_id, target_id, details FROM audit_events WHERE action = ${action} ORDER BY seq`.execute(ts.services.database.db);
  return rows.map((r) => ({ ...r, details: typeof r.details === 'string' ? (JSON.parse(r.details) as Record<string, unknown>) : r.details }));
}

describe('/api/recordings: find, replay, hold and delete session recordings', () => {
  let ts: TestServer;
  let node: RecorderNode;
  let jpegs: Buffer[];
  let auditor: Caller;
  let admin: Caller;
  let replayer: Caller;
  let connectOnly: Caller;
  let otherReplayer: Caller;
  let agent: Caller;
  let transferId: string;
  let loansId: string;
  const alice = randomUUID();
  const bob = randomUUID();

  // Frames every 500 ms from 0 to 3000 (frame i at 500·i), and the event track of a short session on portal A.
  const transferSteps: Step[] = [
    { at: 0, event: { type: 'state', state: 'active' } },
    { at: 0, frame: 0 },
    { at: 100, event: { type: 'navigated', tabId: 't1', url: 'https://portal-a.test/home', title: 'Home' } },
    { at: 500, frame: 1 },
    { at: 1000, frame: 2 },
    { at: 1200, event: { type: 'click', x: 200, y: 120, button: 'left', target: 'button "Transfer"' } },
    // A password field's keys never keep text, even when a capture hands it over.
    { at: 1400, event: { type: 'keys', target: 'input[name=pin]', field: 'password', count: PASSWORD_CANARY.length, text: PASSWORD_CANARY } },
    { at: 1500, frame: 3 },
    { at: 2000, frame: 4 },
    { at: 2100, event: { type: 'navigated', tabId: 't1', url: 'https://portal-a.test/transfer', title: 'Money transfer' } },
    { at: 2500, frame: 5 },
    { at: 2600, event: { type: 'blocked', what: 'navigation', url: 'https://evil.test/', reason: 'host not allowed' } },
    { at: 3000, frame: 6 },
    { at: 3000, event: { type: 'state', state: 'ended', reason: 'user' } },
  ];

  beforeAll(async () => {
    jpegs = await screenshotJpegs(8);
    ts = await startTestServer({ WEBASSET_API_RATE_LIMIT: '1000000' });
    const { assets, grants, groups, vault } = ts.services;
    await vault.set({ entryId: 'portal-a-login', values: new Map([['username', Buffer.from('alice')], ['password', Buffer.from(PASSWORD_CANARY)], ['totp', Buffer.from(TOTP_CANARY)]]) }, CLI);
    await assets.create({ id: 'portal-a', name: 'Portal A', url: 'https://portal-a.test/', credential: 'portal-a-login' }, CLI);
    await assets.create({ id: 'portal-b', name: 'Portal B', url: 'https://portal-b.test/' }, CLI);

    auditor = await sessionCaller(ts, 'rec-auditor', ['auditor']);
    admin = await sessionCaller(ts, 'rec-admin', ['admin']);
    replayer = await sessionCaller(ts, 'rec-replayer', ['operator']);
    connectOnly = await sessionCaller(ts, 'rec-connect-only', ['operator']);
    otherReplayer = await sessionCaller(ts, 'rec-other-replayer', ['operator']);
    agent = await tokenCaller(ts, 'rec-agent', 'agent');
    // Replay through a group grant; connect (and watch) do not include replay.
    const reviewers = await groups.create({ name: 'rec-reviewers' }, CLI);
    await groups.addMember(reviewers.id, replayer.userId!, CLI);
    await grants.create({ subjectKind: 'group', subjectId: reviewers.id, assetId: 'portal-a', actions: ['replay'] }, CLI);
    await grants.create({ subjectKind: 'user', subjectId: connectOnly.userId!, assetId: 'portal-a', actions: ['connect', 'watch'] }, CLI);
    await grants.create({ subjectKind: 'user', subjectId: otherReplayer.userId!, assetId: 'portal-b', actions: ['replay'] }, CLI);

    node = recorderNode(ts);
    transferId = await record(node, { sessionId: randomUUID(), assetId: 'portal-a', userId: alice }, jpegs, transferSteps);
    node.clock.advance(60_000);
    loansId = await record(
      node,
      { sessionId: randomUUID(), assetId: 'portal-b', userId: bob },
      jpegs,
      [
        { at: 0, frame: 7 },
        { at: 100, event: { type: 'navigated', tabId: 't1', url: 'https://portal-b.test/loans?id=77', title: 'Loans overview' } },
        { at: 400, frame: 6 },
      ],
      1000,
    );
  }, 120_000);
  afterAll(async () => {
    await ts?.stop();
  });

  describe('list', () => {
    it('shows an auditor every recording, newest first, with its metadata', async () => {
      const res = await get(ts, auditor, '/api/recordings');
      expect(res.status).toBe(200);
      const ids = res.json.recordings.map((r: { id: string }) => r.id);
      expect(ids).toEqual([loansId, transferId]);
      const transfer = res.json.recordings[1];
      expect(transfer).toMatchObject({ id: transferId, assetId: 'portal-a', userId: alice, state: 'sealed', complete: true, frames: 7, durationMs: 3000, legalHold: false });
      expect(transfer.manifestSha256).toMatch(/^[0-9a-f]{64}$/);
      expect(res.json.nextCursor).toBeNull();
    });

    it('filters by asset, user, time and text in URLs, titles and event targets', async () => {
      const ids = async (query: string) => (await get(ts, auditor, `/api/recordings?${query}`)).json.recordings.map((r: { id: string }) => r.id);
      expect(await ids('assetId=portal-a')).toEqual([transferId]);
      expect(await ids(`userId=${bob}`)).toEqual([loansId]);
      expect(await ids('q=Transfer')).toEqual([transferId]);
      expect(await ids('q=loans')).toEqual([loansId]);
      expect(await ids('q=portal-b.test%2Floans')).toEqual([loansId]);
      expect(await ids('q=nothing-like-this')).toEqual([]);
      expect(await ids(`to=${new Date(Date.UTC(2026, 0, 5, 9, 0, 30)).toISOString()}`)).toEqual([transferId]);
      expect(await ids(`from=${new Date(Date.UTC(2026, 0, 5, 9, 0, 30)).toISOString()}`)).toEqual([loansId]);
    });

    it('pages with limit and cursor', async () => {
      const first = await get(ts, auditor, '/api/recordings?limit=1');
      expect(first.json.recordings.map((r: { id: string }) => r.id)).toEqual([loansId]);
      expect(first.json.nextCursor).toEqual(expect.any(String));
      const second = await get(ts, auditor, `/api/recordings?limit=1&cursor=${encodeURIComponent(first.json.nextCursor)}`);
      expect(second.json.recordings.map((r: { id: string }) => r.id)).toEqual([transferId]);
    });

    it('refuses bad filters with invalid_request', async () => {
      for (const query of ['from=yesterday', 'limit=0', 'limit=201', 'assetId=..%2Fetc', 'sort=id', 'q=']) {
        const res = await get(ts, auditor, `/api/recordings?${query}`);
        expect(res.status, query).toBe(400);
        expect(res.json.error.code).toBe('invalid_request');
      }
    });

    it('shows an operator only the recordings of assets where they hold replay', async () => {
      const mine = await get(ts, replayer, '/api/recordings');
      expect(mine.status).toBe(200);
      expect(mine.json.recordings.map((r: { id: string }) => r.id)).toEqual([transferId]);
      // Asking for an asset outside the grant finds nothing, as an asset without recordings would.
      expect((await get(ts, replayer, '/api/recordings?assetId=portal-b')).json.recordings).toEqual([]);
      expect((await get(ts, otherReplayer, '/api/recordings')).json.recordings.map((r: { id: string }) => r.id)).toEqual([loansId]);
      expect((await get(ts, admin, '/api/recordings')).json.recordings).toHaveLength(2);
    });

    it('refuses with 403 (audited) whoever may replay nothing: an empty list would hide the missing grant', async () => {
      const before = (await auditRows(ts, 'auth.denied')).length;
      for (const caller of [connectOnly, agent]) {
        const res = await get(ts, caller, '/api/recordings');
        expect(res.status, caller.name).toBe(403);
        expect(res.json.error.code).toBe('forbidden');
      }
      const denied = (await auditRows(ts, 'auth.denied')).slice(before);
      expect(denied.map((d) => d.details.permission)).toEqual(['recordings.replay', 'recordings.replay']);
      expect(denied[0]!.actor_id).toBe(connectOnly.userId);
    });
  });

  describe('one recording', () => {
    it('answers its metadata and its event track in order, without a password field’s text', async () => {
      const res = await get(ts, auditor, `/api/recordings/${transferId}`);
      expect(res.status).toBe(200);
      expect(res.json.recording).toMatchObject({ id: transferId, assetId: 'portal-a', events: 7 });
      const events = res.json.events as Array<Record<string, unknown>>;
      expect(events.map((e) => `${String(e.t)} ${String(e.type)}`)).toEqual([
        '0 state',
        '100 navigated',
        '1200 click',
        '1400 keys',
        '2100 navigated',
        '2600 blocked',
        '3000 state',
      ]);
      expect(events[1]).toEqual({ t: 100, type: 'navigated', tabId: 't1', url: 'https://portal-a.test/home', title: 'Home' });
      expect(events[2]).toEqual({ t: 1200, type: 'click', x: 200, y: 120, button: 'left', target: 'button "Transfer"' });
      expect(events[3]).toEqual({ t: 1400, type: 'keys', target: 'input[name=pin]', field: 'password', count: PASSWORD_CANARY.length });
    });

    it('streams its frames in order, as recorded, and seeks to the last frame at or before `from`', async () => {
      const all = await get(ts, auditor, `/api/recordings/${transferId}/frames`);
      expect(all.status).toBe(200);
      expect(all.type).toBe('application/octet-stream');
      const frames = decodeFrameStream(all.body);
      expect(frames.map((f) => f.t)).toEqual([0, 500, 1000, 1500, 2000, 2500, 3000]);
      frames.forEach((f, i) => {
        expect(f.jpeg.equals(jpegs[i]!), `frame ${i}`).toBe(true);
        expect([f.width, f.height]).toEqual([1280, 720]);
      });

      const seek = decodeFrameStream((await get(ts, auditor, `/api/recordings/${transferId}/frames?from=1700`)).body);
      expect(seek.map((f) => f.t)).toEqual([1500, 2000, 2500, 3000]);
      const exact = decodeFrameStream((await get(ts, auditor, `/api/recordings/${transferId}/frames?from=2000`)).body);
      expect(exact.map((f) => f.t)).toEqual([2000, 2500, 3000]);
      const past = decodeFrameStream((await get(ts, auditor, `/api/recordings/${transferId}/frames?from=999999`)).body);
      expect(past.map((f) => f.t)).toEqual([3000]);
    });

    it('answers one frame for scrubbing: the last at or before t, as image/jpeg', async () => {
      const res = await get(ts, auditor, `/api/recordings/${transferId}/frame?t=1234`);
      expect(res.status).toBe(200);
      expect(res.type).toBe('image/jpeg');
      expect(res.headers.get('x-frame-t')).toBe('1000');
      expect(res.body.equals(jpegs[2]!)).toBe(true);
      expect((await get(ts, auditor, `/api/recordings/${transferId}/frame`)).headers.get('x-frame-t')).toBe('0');
      expect((await get(ts, auditor, `/api/recordings/${transferId}/frame?t=-1`)).status).toBe(400);
      expect((await get(ts, auditor, `/api/recordings/${transferId}/frames?from=abc`)).status).toBe(400);
    });

    it('answers the signed manifest as stored: its SHA-256 is the one the list shows and the trail holds', async () => {
      const res = await get(ts, auditor, `/api/recordings/${transferId}/manifest`);
      expect(res.status).toBe(200);
      expect(res.type).toMatch(/^application\/json/);
      expect(res.json).toMatchObject({ type: 'webasset.recording.manifest.v1', recordingId: transferId, assetId: 'portal-a', complete: true });
      expect(res.json.signature).toEqual(expect.any(String));
      const sha = createHash('sha256').update(res.body).digest('hex');
      const summary = (await get(ts, auditor, `/api/recordings/${transferId}`)).json.recording;
      expect(sha).toBe(summary.manifestSha256);
      const sealed = (await auditRows(ts, 'recording.sealed')).find((e) => e.target_id === transferId);
      expect(sealed?.details.manifestSha256).toBe(sha);
    });

    it('answers the replay page to whoever may replay it, under the strict CSP', async () => {
      const res = await get(ts, replayer, `/recordings/${transferId}/replay`);
      expect(res.status).toBe(200);
      expect(res.type).toBe('text/html; charset=utf-8');
      expect(res.headers.get('content-security-policy')).toContain("script-src 'self'");
      expect(res.body.toString()).toContain('/replay/replay.js');
      expect(res.body.toString()).not.toMatch(/<script>|<style>| style=/);
      for (const asset of ['replay.js', 'replay.css']) expect((await get(ts, { name: 'anonymous', userId: null, headers: () => ({}) }, `/replay/${asset}`)).status).toBe(200);
    });
  });

  describe('who may replay one recording', () => {
    const parts = (id: string) => [`/api/recordings/${id}`, `/api/recordings/${id}/frames`, `/api/recordings/${id}/frame?t=0`, `/api/recordings/${id}/manifest`, `/recordings/${id}/replay`];

    it('lets an auditor, an administrator and an operator with replay on the asset replay it', async () => {
      for (const caller of [auditor, admin, replayer]) {
        for (const path of parts(transferId)) expect((await get(ts, caller, path)).status, `${caller.name} ${path}`).toBe(200);
      }
    });

    it('answers 404 to anyone else, exactly as for an id that does not exist, and records the refusal', async () => {
      const unknown = randomUUID();
      const before = (await auditRows(ts, 'auth.denied')).length;
      for (const caller of [connectOnly, otherReplayer, agent]) {
        for (const [mine, theirs] of parts(transferId).map((p, i) => [p, parts(unknown)[i]!] as const)) {
          const guessed = await get(ts, caller, mine);
          const absent = await get(ts, caller, theirs);
          expect(guessed.status, `${caller.name} ${mine}`).toBe(404);
          expect(absent.status, `${caller.name} ${theirs}`).toBe(404);
          expect({ ...guessed.json.error, requestId: null }).toEqual({ ...absent.json.error, requestId: null });
        }
      }
      const denied = (await auditRows(ts, 'auth.denied')).slice(before);
      // Each guessed id is a denial on record (the 5 parts × 3 callers); an unknown id decides nothing.
      expect(denied).toHaveLength(15);
      expect(new Set(denied.map((d) => d.target_id))).toEqual(new Set(['portal-a']));
    });

    it('refuses ids that are not recording ids, path traversal included, before anything is read', async () => {
      for (const id of ['..%2F..%2Fetc%2Fpasswd', '..', '%2e%2e', 'not-a-uuid', `${transferId}%2F..%2F..%2Fmanifest.json`, `${transferId}.war`, transferId.toUpperCase().replace(/-/g, '')]) {
        for (const path of [`/api/recordings/${id}`, `/api/recordings/${id}/frames`, `/api/recordings/${id}/manifest`, `/recordings/${id}/replay`]) {
          const res = await get(ts, auditor, path);
          expect([400, 404], `${path} → ${res.status}`).toContain(res.status);
        }
      }
      // A path that walks out of the route is the server's 404, never a file.
      for (const path of [`/api/recordings/../../etc/passwd`, `/recordings/%2e%2e/%2e%2e/etc/passwd/replay`, `/replay/..%2F..%2Fpackage.json`]) {
        const res = await get(ts, auditor, path);
        expect([400, 404], `${path} → ${res.status}`).toContain(res.status);
        expect(res.body.toString()).not.toContain('"dependencies"');
      }
    });
  });

  describe('audit', () => {
    it('records one recording.replayed per viewer and recording, before the first answer, naming what was fetched', async () => {
      // A fresh viewer: nothing of theirs is throttled yet.
      const viewer = await sessionCaller(ts, 'rec-fresh-auditor', ['auditor']);
      const before = (await auditRows(ts, 'recording.replayed')).length;
      await get(ts, viewer, `/api/recordings/${transferId}/frames?from=500`);
      for (let i = 0; i < 5; i++) {
        await get(ts, viewer, `/api/recordings/${transferId}`);
        await get(ts, viewer, `/api/recordings/${transferId}/frame?t=${i * 500}`);
      }
      await get(ts, viewer, `/api/recordings/${loansId}`);
      const replayed = (await auditRows(ts, 'recording.replayed')).slice(before);
      expect(replayed.map((e) => [e.actor_id, e.target_id, e.details.part])).toEqual([
        [viewer.userId, transferId, 'frames'],
        [viewer.userId, loansId, 'events'],
      ]);
      expect(replayed[0]!.details).toMatchObject({ assetId: 'portal-a', userId: alice, fromMs: 500, via: 'session' });
      expect(replayed[0]!.details.session).toMatch(/^[0-9a-f-]{36}$/);
    });

    it('records every replay of every viewer: each of the callers above is on record for each recording they replayed', async () => {
      const replayed = await auditRows(ts, 'recording.replayed');
      const seen = new Set(replayed.map((e) => `${e.actor_id} ${e.target_id}`));
      for (const caller of [auditor, admin, replayer]) expect(seen.has(`${caller.userId} ${transferId}`), caller.name).toBe(true);
      expect(seen.has(`${otherReplayer.userId} ${transferId}`)).toBe(false);
      expect(seen.has(`${connectOnly.userId} ${transferId}`)).toBe(false);
    });
  });

  describe('legal hold and early deletion (administrators)', () => {
    let heldId: string;
    beforeAll(async () => {
      heldId = await record(node, { sessionId: randomUUID(), assetId: 'portal-a', userId: alice }, jpegs, [{ at: 0, frame: 1 }, { at: 200, frame: 2 }], 400);
    });

    it('refuses anyone but an administrator, and changes nothing', async () => {
      for (const caller of [auditor, replayer, agent]) {
        expect((await send(ts, caller, 'POST', `/api/recordings/${heldId}/legal-hold`, { hold: true, reason: 'litigation' })).status, caller.name).toBe(403);
        expect((await send(ts, caller, 'DELETE', `/api/recordings/${heldId}`, { reason: 'cleanup' })).status, caller.name).toBe(403);
      }
      expect((await get(ts, auditor, `/api/recordings/${heldId}`)).json.recording.legalHold).toBe(false);
    });

    it('holds, refuses deletion while held (409 legal_hold), releases, then deletes with a reason, all audited', async () => {
      const held = await send(ts, admin, 'POST', `/api/recordings/${heldId}/legal-hold`, { hold: true, reason: 'case 2026-17' });
      expect(held.status).toBe(200);
      expect(held.json).toMatchObject({ id: heldId, legalHold: true });
      const refused = await send(ts, admin, 'DELETE', `/api/recordings/${heldId}`, { reason: 'no longer needed' });
      expect(refused.status).toBe(409);
      expect((refused.json as any).error.code).toBe('legal_hold');
      expect((await send(ts, admin, 'POST', `/api/recordings/${heldId}/legal-hold`, { hold: false, reason: 'case closed' })).json).toMatchObject({ legalHold: false });
      expect((await send(ts, admin, 'DELETE', `/api/recordings/${heldId}`, { reason: 'recorded by mistake' })).status).toBe(204);

      expect((await get(ts, auditor, `/api/recordings/${heldId}`)).status).toBe(404);
      expect((await get(ts, auditor, `/api/recordings/${heldId}/frames`)).status).toBe(404);
      expect((await get(ts, auditor, '/api/recordings')).json.recordings.map((r: { id: string }) => r.id)).not.toContain(heldId);
      const holds = (await auditRows(ts, 'recording.legal_hold_set')).filter((e) => e.target_id === heldId);
      expect(holds.map((e) => [e.actor_id, e.details.hold, e.details.reason])).toEqual([
        [admin.userId, true, 'case 2026-17'],
        [admin.userId, false, 'case closed'],
      ]);
      const deleted = (await auditRows(ts, 'recording.deleted')).filter((e) => e.target_id === heldId);
      expect(deleted.map((e) => [e.actor_id, e.details.reason])).toEqual([[admin.userId, 'recorded by mistake']]);
    });

    it('needs a reason, and answers 404 for an unknown id', async () => {
      expect((await send(ts, admin, 'DELETE', `/api/recordings/${transferId}`, {})).status).toBe(400);
      expect((await send(ts, admin, 'DELETE', `/api/recordings/${transferId}`, { reason: '' })).status).toBe(400);
      expect((await send(ts, admin, 'POST', `/api/recordings/${transferId}/legal-hold`, { hold: true })).status).toBe(400);
      expect((await send(ts, admin, 'POST', `/api/recordings/${randomUUID()}/legal-hold`, { hold: true, reason: 'x' })).status).toBe(404);
      expect((await send(ts, admin, 'DELETE', `/api/recordings/${randomUUID()}`, { reason: 'x' })).status).toBe(404);
      expect((await get(ts, auditor, `/api/recordings/${transferId}`)).status).toBe(200);
    });
  });

  it('never answers the portal’s password or TOTP seed (every body of this file searched)', () => {
    expect(answers.length).toBeGreaterThan(50);
    for (const body of answers) {
      expect(body.includes(PASSWORD_CANARY)).toBe(false);
      expect(body.includes(TOTP_CANARY)).toBe(false);
    }
  });
});
