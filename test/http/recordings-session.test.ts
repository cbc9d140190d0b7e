import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.js';
import { call, sessionCaller, type Caller } from './admin-callers.js';
import { addPortalAsset, startPortalSite, startSession, type PortalSite } from './live-view-fixtures.js';
import { decodeFrameStream } from './recordings-fixtures.js';

const PASSWORD = 'replay-e2e-canary-Pa55-9d41';

/** A real session (Chromium, the product's login, the recorder) replayed over HTTP: what an auditor gets, and nothing secret in it. */
describe('replay of a real recorded session', () => {
  let ts: TestServer;
  let site: PortalSite;
  let owner: Caller;
  let auditor: Caller;
  let recordingId: string;
  let sessionId: string;

  beforeAll(async () => {
    site = await startPortalSite({ username: 'alice', password: PASSWORD });
    ts = await startTestServer();
    owner = await sessionCaller(ts, 'e2e-replay-owner', ['operator']);
    auditor = await sessionCaller(ts, 'e2e-replay-auditor', ['auditor']);
    await addPortalAsset(ts, site, { assetId: 'e2e-portal', password: PASSWORD, connect: [owner] });
    sessionId = await startSession(ts, owner, 'e2e-portal');
    // Let the page (with its ticking clock) be recorded for a moment, then end the session: the recording is sealed.
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    expect((await call(ts, owner, 'DELETE', `/api/sessions/${sessionId}`)).status).toBe(200);
    const deadline = Date.now() + 20_000;
    for (;;) {
      const list = await call(ts, auditor, 'GET', '/api/recordings?assetId=e2e-portal');
      const found = (list.json as { recordings: Array<{ id: string; state: string }> }).recordings[0];
      if (found?.state === 'sealed') {
        recordingId = found.id;
        break;
      }
      if (Date.now() > deadline) throw new Error(`no sealed recording: ${list.text}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }, 120_000);
  afterAll(async () => {
    await ts?.stop();
    await site?.close();
  });

  it('answers its metadata, events and frames, and no answer holds the portal password in any form', async () => {
    const bodies: Buffer[] = [];
    const fetchBody = async (path: string) => {
      const res = await fetch(`${ts.url}${path}`, { headers: auditor.headers('GET') });
      expect(res.status, path).toBe(200);
      const body = Buffer.from(await res.arrayBuffer());
      bodies.push(body);
      return body;
    };
    const detail = JSON.parse((await fetchBody(`/api/recordings/${recordingId}`)).toString('utf8')) as {
      recording: { sessionId: string; complete: boolean; frames: number };
      events: Array<{ type: string; state?: string; url?: string }>;
    };
    expect(detail.recording).toMatchObject({ sessionId, complete: true });
    expect(detail.events.some((e) => e.type === 'navigated' && e.url?.startsWith(site.url))).toBe(true);
    expect(detail.events.filter((e) => e.type === 'state').map((e) => e.state)).toContain('ended');

    const frames = decodeFrameStream(await fetchBody(`/api/recordings/${recordingId}/frames`));
    expect(frames.length).toBe(detail.recording.frames);
    expect(frames.length).toBeGreaterThan(0);
    for (const [i, f] of frames.entries()) {
      expect(f.jpeg.subarray(0, 2).toString('hex'), `frame ${i}`).toBe('ffd8');
      if (i > 0) expect(f.t).toBeGreaterThanOrEqual(frames[i - 1]!.t);
    }
    await fetchBody(`/api/recordings/${recordingId}/frame?t=1000`);
    await fetchBody(`/api/recordings/${recordingId}/manifest`);
    await fetchBody(`/api/recordings?q=${encodeURIComponent('127.0.0.1')}`);
    await fetchBody(`/recordings/${recordingId}/replay`);

    const forms = [PASSWORD, Buffer.from(PASSWORD).toString('base64'), encodeURIComponent(PASSWORD), Buffer.from(PASSWORD, 'utf16le').toString('latin1')];
    for (const body of bodies) for (const form of forms) expect(body.includes(Buffer.from(form, 'latin1'))).toBe(false);
  });
});
