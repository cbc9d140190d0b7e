import { connect } from 'node:net';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.js';
import { sessionCaller, type Caller } from './admin-callers.js';
import { openLiveSocket } from './live-view-fixtures.js';


describe('live view: who may open the socket', () => {
  let ts: TestServer;
  let operator: Caller;
  let wsUrl: string;
  const TRUSTED = 'https://console.example.test';

  beforeAll(async () => {
    ts = await startTestServer({ WEBASSET_CORS_ORIGINS: TRUSTED });
    operator = await sessionCaller(ts, 'live-operator', ['operator']);
    wsUrl = `${ts.url.replace(/^http/, 'ws')}/api/sessions/some-session/live`;
  });
  afterAll(async () => {
    await ts?.stop();
  });

  const cookieOf = (caller: Caller) => caller.headers('GET').cookie!;

  async function csrfFailures(): Promise<Array<{ reason: string; websocket: boolean; actor: string }>> {
    await ts.services.audit.trail.flush();
    const { rows } = await sql<{ details: string; actor_id: string }>`SELECT details, actor_id FROM audit_events WHERE action = 'auth.csrf.failed' ORDER BY seq`.execute(ts.services.database.db);
    return rows.map((r) => ({ ...(JSON.parse(r.details) as { reason: string; websocket: boolean }), actor: r.actor_id }));
  }

  it('refuses an anonymous upgrade with 401 before upgrading', async () => {
    const result = await openLiveSocket(wsUrl, { origin: ts.url });
    expect(result.status).toBe(401);
    expect(JSON.parse(result.body!)).toMatchObject({ error: { code: 'unauthenticated' } });
  });

  it('refuses an unknown session cookie with 401', async () => {
    const result = await openLiveSocket(wsUrl, { origin: ts.url, cookie: 'webasset=not-a-session' });
    expect(result.status).toBe(401);
  });

  it('refuses a foreign Origin and a missing Origin with 403, and audits both', async () => {
    const before = (await csrfFailures()).length;
    const foreign = await openLiveSocket(wsUrl, { origin: 'https://evil.example', cookie: cookieOf(operator) });
    expect(foreign.status).toBe(403);
    expect(JSON.parse(foreign.body!)).toMatchObject({ error: { code: 'csrf_failed' } });
    const missing = await openLiveSocket(wsUrl, { cookie: cookieOf(operator) });
    expect(missing.status).toBe(403);
    // An opaque origin (sandboxed frame) is never ours either.
    const opaque = await openLiveSocket(wsUrl, { origin: 'null', cookie: cookieOf(operator) });
    expect(opaque.status).toBe(403);
    const failures = (await csrfFailures()).slice(before);
    expect(failures.map((f) => f.reason)).toEqual(['cross_site', 'missing_origin', 'cross_site']);
    expect(failures.every((f) => f.websocket && f.actor === operator.userId)).toBe(true);
  });

  it('upgrades for the own origin and an allowlisted origin, and answers an unknown id with not_found and close 4404', async () => {
    for (const origin of [ts.url, TRUSTED]) {
      const result = await openLiveSocket(wsUrl, { origin, cookie: cookieOf(operator) });
      expect(result.status).toBeUndefined();
      expect(result.messages.map((m) => JSON.parse(m) as unknown)).toEqual([{ type: 'error', code: 'not_found', message: 'Not found.' }]);
      expect(result.close).toEqual({ code: 4404, reason: 'not found' });
    }
  });

  it('closes the connection of a refused upgrade (a client that keeps it open cannot hold a socket)', async () => {
    const host = new URL(ts.url);
    const closed = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(host.port), host.hostname);
      let answer = '';
      socket.on('data', (chunk) => (answer += chunk.toString('latin1')));
      socket.on('close', () => resolve(answer));
      socket.on('error', reject);
      socket.write(
        'GET /api/sessions/x/live HTTP/1.1\r\nHost: ' + host.host + '\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n' +
          'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nOrigin: ' + ts.url + '\r\n\r\n',
      );
    });
    expect(closed).toMatch(/^HTTP\/1\.1 401 /);
  });

  it('answers a plain GET (no upgrade) with invalid_request', async () => {
    const response = await fetch(`${ts.url}/api/sessions/x/live`, { headers: operator.headers('GET') });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: { code: 'invalid_request' } });
  });

  it('serves the viewer page and its files under the strict CSP, with no inline script or style', async () => {
    const page = await fetch(`${ts.url}/sessions/abc/view`, { headers: operator.headers('GET') });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    const html = await page.text();
    expect(html).toContain('<script type="module" src="/viewer/viewer.js"></script>');
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(html).not.toMatch(/\sstyle=|<style/);
    expect((await fetch(`${ts.url}/sessions/abc/view`)).status).toBe(401);
    const script = await fetch(`${ts.url}/viewer/viewer.js`);
    expect(script.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect(await script.text()).toContain('/api/sessions/');
    expect((await fetch(`${ts.url}/viewer/viewer.css`)).headers.get('content-type')).toMatch(/^text\/css/);
  });
});
