import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.js';
import { sessionCaller, type Caller } from './admin-callers.js';
import { record, recorderNode, screenshotJpegs } from './recordings-fixtures.js';

/** The video download over HTTP: the system's ffmpeg, the same replay rule, audited `recording.exported`. */
describe('GET /api/recordings/:id/export', () => {
  let ts: TestServer;
  let auditor: Caller;
  let outsider: Caller;
  let id: string;
  const scratch = mkdtempSync(join(tmpdir(), 'webasset-export-test-'));

  beforeAll(async () => {
    const jpegs = await screenshotJpegs(4);
    ts = await startTestServer();
    auditor = await sessionCaller(ts, 'export-auditor', ['auditor']);
    outsider = await sessionCaller(ts, 'export-outsider', ['operator']);
    const steps = [0, 1000, 2000, 3000].map((at, frame) => ({ at, frame }));
    id = await record(recorderNode(ts), { sessionId: randomUUID(), assetId: 'portal', userId: randomUUID() }, jpegs, steps, 4000);
  }, 120_000);
  afterAll(async () => {
    await ts?.stop();
    rmSync(scratch, { recursive: true, force: true });
  });

  it('answers a playable WebM as long as the recording, audited recording.exported, and leaves no file behind', async () => {
    const res = await fetch(`${ts.url}/api/recordings/${id}/export?format=webm`, { headers: auditor.headers('GET') });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('video/webm');
    expect(res.headers.get('content-disposition')).toBe(`attachment; filename="recording-${id}.webm"`);
    const video = Buffer.from(await res.arrayBuffer());
    expect(video.length).toBe(Number(res.headers.get('content-length')));
    const file = join(scratch, 'download.webm');
    writeFileSync(file, video);
    const seconds = Number(execFileSync('ffprobe', ['-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', file], { encoding: 'utf8' }).trim());
    expect(Math.abs(seconds - 4)).toBeLessThan(1);

    await ts.services.audit.trail.flush();
    const { rows } = await sql<{ actor_id: string; details: string | Record<string, unknown> }>`
      SELECT actor_id, details FROM audit_events WHERE action = 'recording.exported' AND target_id = ${id}`.execute(ts.services.database.db);
    expect(rows.map((r) => r.actor_id)).toEqual([auditor.userId]);
    const details = typeof rows[0]!.details === 'string' ? JSON.parse(rows[0]!.details) : rows[0]!.details;
    expect(details).toMatchObject({ format: 'webm', bytes: video.length });
    // The export's folder goes with the answer.
    await expect.poll(() => readdirSync(join(ts.dataDir, 'exports'))).toEqual([]);
  });

  it('refuses whoever may not replay it (404, as for an unknown id) and a format it does not make (400), without exporting', async () => {
    expect((await fetch(`${ts.url}/api/recordings/${id}/export?format=webm`, { headers: outsider.headers('GET') })).status).toBe(404);
    expect((await fetch(`${ts.url}/api/recordings/${randomUUID()}/export?format=webm`, { headers: auditor.headers('GET') })).status).toBe(404);
    for (const format of ['avi', '', '../../x']) {
      expect((await fetch(`${ts.url}/api/recordings/${id}/export?format=${encodeURIComponent(format)}`, { headers: auditor.headers('GET') })).status, format).toBe(400);
    }
    expect((await fetch(`${ts.url}/api/recordings/${id}/export`, { headers: auditor.headers('GET') })).status).toBe(400);
    await ts.services.audit.trail.flush();
    const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM audit_events WHERE action = 'recording.exported'`.execute(ts.services.database.db);
    expect(rows[0]!.n).toBe(1);
  });
});
