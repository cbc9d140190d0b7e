import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerErrorHandling } from '../../src/http/errors.js';
import { webUiRoutes } from '../../src/http/routes/web-ui.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { anonymous, call, CLI, sessionCaller, type Caller } from './admin-callers.js';

/** The built UI's entry script (test/support/build-ui.ts builds the UI before the run). */
const entryScript = () => readdirSync(new URL('../../web/app/dist/assets/', import.meta.url)).find((name) => name.startsWith('index-') && name.endsWith('.js'))!;

describe('web UI routes: the app, its files and the two API routes it needs', () => {
  let ts: TestServer;
  let operator: Caller;

  beforeAll(async () => {
    ts = await startTestServer({ WEBASSET_LOCKOUT_THRESHOLD: '4', WEBASSET_LOCKOUT_MINUTES: '9' });
    operator = await sessionCaller(ts, 'ui-operator', ['operator']);
  });
  afterAll(async () => ts?.stop());

  it('answers the same page at each client route, under the strict CSP, with no inline script or style', async () => {
    const pages = await Promise.all(['/', '/sign-in', '/enrol?token=abc', '/my-sessions', '/audit', '/recordings', '/admin?section=users'].map((path) => fetch(`${ts.url}${path}`)));
    const bodies = await Promise.all(pages.map((res) => res.text()));
    for (const res of pages) {
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(res.headers.get('cache-control')).toBe('no-store');
      expect(res.headers.get('content-security-policy')).toContain("script-src 'self'");
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    }
    expect(new Set(bodies).size).toBe(1);
    const html = bodies[0]!;
    expect(html).toMatch(/<script type="module" crossorigin src="\/ui\/assets\/index-[\w-]+\.js"><\/script>/);
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/i);
    expect(html).not.toMatch(/<style|\sstyle=|\son\w+=/i);
    expect(html).not.toMatch(/https?:\/\//); // nothing from another origin
    // Other addresses are not the app's: they stay 404 (no catch-all).
    expect((await fetch(`${ts.url}/launcher`)).status).toBe(404);
    expect((await fetch(`${ts.url}/sign-in/x`)).status).toBe(404);
    expect((await fetch(`${ts.url}/my-sessions/x`)).status).toBe(404);
    expect((await fetch(`${ts.url}/audit/x`)).status).toBe(404);
  });

  it('serves the hashed files for a year, and nothing else from the folder', async () => {
    const res = await fetch(`${ts.url}/ui/assets/${entryScript()}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(res.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(res.headers.get('content-security-policy')).toContain("default-src 'self'");
    const js = await res.text();
    expect(js).not.toContain('eval(');
    // The pages loaded on first use (the auditor's desk, the console) are files of their own, served alike.
    const chunks = readdirSync(new URL('../../web/app/dist/assets/', import.meta.url)).filter((name) => name.endsWith('.js') && !name.startsWith('index-'));
    expect(chunks.some((name) => name.startsWith('audit-'))).toBe(true);
    expect(chunks.some((name) => name.startsWith('admin-'))).toBe(true);
    for (const name of chunks) expect((await fetch(`${ts.url}/ui/assets/${name}`)).status, name).toBe(200);
    expect((await fetch(`${ts.url}/ui/assets/no-such-file.js`)).status).toBe(404);
    expect((await fetch(`${ts.url}/ui/assets/..%2Findex.html`)).status).toBe(400);
    expect((await fetch(`${ts.url}/ui/assets/..%2F..%2F..%2Fpackage.json`)).status).toBe(400);
    expect((await fetch(`${ts.url}/ui/index.html`)).status).toBe(404);
  });

  it('GET /api/auth/options: local accounts, no SSO here, the lockout policy', async () => {
    const res = await call(ts, anonymous, 'GET', '/api/auth/options');
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ localAccounts: true, sso: false, lockout: { threshold: 4, minutes: 9 } });
  });

  it('GET /api/assets: the assets the caller may connect to, by name; one outside its time window is listed as unavailable', async () => {
    const { assets, grants } = ts.services;
    await assets.create({ id: 'ui-b', name: 'Bravo portal', url: 'https://bravo.example.com/' }, CLI);
    await assets.create({ id: 'ui-a', name: 'Alpha portal', url: 'https://alpha.example.com/' }, CLI);
    await assets.create({ id: 'ui-hidden', name: 'Not yours', url: 'https://hidden.example.com/' }, CLI);
    await assets.create({ id: 'ui-watch', name: 'Watch only', url: 'https://watch.example.com/' }, CLI);
    await grants.create({ subjectKind: 'user', subjectId: operator.userId!, assetId: 'ui-a', actions: ['connect'] }, CLI);
    // A window of one minute a week, that is not now.
    const now = new Date();
    const day = ((now.getUTCDay() + 2) % 7) + 1;
    await grants.create({ subjectKind: 'user', subjectId: operator.userId!, assetId: 'ui-b', actions: ['connect'], timeWindow: { timeZone: 'UTC', days: [day], start: '03:00', end: '03:01' } }, CLI);
    await grants.create({ subjectKind: 'user', subjectId: operator.userId!, assetId: 'ui-watch', actions: ['watch'] }, CLI);

    const res = await call(ts, operator, 'GET', '/api/assets');
    expect(res.status).toBe(200);
    expect(res.json).toEqual({
      assets: [
        { id: 'ui-a', name: 'Alpha portal', url: 'https://alpha.example.com/', available: true, reason: null },
        { id: 'ui-b', name: 'Bravo portal', url: 'https://bravo.example.com/', available: false, reason: 'outside_time_window' },
      ],
    });
    expect((await call(ts, anonymous, 'GET', '/api/assets')).status).toBe(401);
    expect((await call(ts, operator, 'GET', '/api/assets?all=true')).status).toBe(400);
  });
});

describe('web UI routes without a built UI', () => {
  const empty = mkdtempSync(join(tmpdir(), 'webasset-no-ui-'));
  afterAll(() => rmSync(empty, { recursive: true, force: true }));

  it('answer 404 with what to do, and say so once at start', async () => {
    const warnings: string[] = [];
    const app = Fastify({ logger: { level: 'warn', stream: { write: (line: string) => warnings.push(line) } } });
    registerErrorHandling(app);
    await app.register(webUiRoutes, { dir: pathToFileURL(`${empty}/`) });
    const res = await app.inject({ method: 'GET', url: '/' });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toMatchObject({ error: { code: 'not_found', message: 'The web UI is not built; run `npm run build`.' } });
    expect(warnings.join('')).toContain('the web UI is not built');
    await app.close();
  });
});
