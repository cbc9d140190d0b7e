import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { BrowserPool } from '../../src/browser/index.js';
import { useTestDatabase } from '../support/databases.js';
import { buildStack, CLI, eventually, markedPool, type SessionStack } from './support.js';

// What the browser reports during a session is recorded against it: blocked navigations,
// downloads (allowed: name, size, SHA-256; blocked: a block). An asset without a credential
// opens its start page without a login (browser_session.activated).

const FILE = Buffer.from('statement 2026-01\nbalance 1234.56\n');
let pool: BrowserPool;
let server: Server;
let base: string;
beforeAll(async () => {
  ({ pool } = markedPool());
  server = createServer((req, res) => {
    const page = (body: string) => {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(`<!doctype html><html><head><title>site</title></head><body>${body}</body></html>`);
    };
    if (req.url === '/leave') return page(`<p>leaving</p><script>setTimeout(() => { location.href = 'http://127.0.0.2:${(server.address() as AddressInfo).port}/elsewhere'; }, 50)</script>`);
    if (req.url === '/settings') return page(`<script>window.open('chrome://settings')</script>`);
    if (req.url === '/download') return page(`<a id="d" href="/statement.txt" download>statement</a><script>setTimeout(() => document.getElementById('d').click(), 50)</script>`);
    if (req.url === '/statement.txt') {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-disposition': 'attachment; filename="statement.txt"' });
      return res.end(FILE);
    }
    return page('<p>home</p>');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await pool?.close();
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
});

describe('browser events recorded against the session', () => {
  const fresh = useTestDatabase();
  let stack: SessionStack;

  beforeEach(async () => {
    stack = await buildStack(fresh, pool, base, { asset: { id: 'site', name: 'Site', url: `${base}/leave`, credential: null } });
    fresh.defer(() => stack.close());
  });

  it('opens an asset without a credential with no login, and records a blocked navigation as denied, by the owner', async () => {
    const alice = await stack.operator('alice', 'site');
    const session = await stack.sessions.start(alice, 'site');
    expect(session).toMatchObject({ state: 'active', credential: null });
    const blocked = await eventually(async () => (await stack.auditRows({ action: 'browser_session.blocked', target: session.id })).find((r) => String(r.details.url).includes('127.0.0.2')));
    expect(blocked).toMatchObject({ outcome: 'denied', actor_id: alice.id, details: { assetId: 'site', what: 'navigation' } });
    const actions = (await stack.auditRows({ target: session.id })).map((r) => r.action);
    expect(actions.slice(0, 2)).toEqual(['browser_session.started', 'browser_session.activated']);
    expect(await stack.auditRows({ action: 'vault.secret.read' })).toEqual([]);
  });

  it('records a window the page tries to open on chrome://settings (Chromium refuses it, no window exists) as a blocked navigation', async () => {
    await stack.assets.update('site', { startUrl: `${base}/settings` }, CLI);
    const alice = await stack.operator('alice', 'site');
    const session = await stack.sessions.start(alice, 'site');
    const blocked = await eventually(async () => (await stack.auditRows({ action: 'browser_session.blocked', target: session.id })).find((r) => r.details.url === 'chrome://settings/'));
    expect(blocked).toMatchObject({ outcome: 'denied', actor_id: alice.id, details: { assetId: 'site', what: 'navigation', reason: 'scheme chrome: is not allowed (refused by Chromium)' } });
  });

  it('records an allowed download with its name, size and SHA-256, and a download the policy blocks as a block', async () => {
    await stack.assets.update('site', { startUrl: `${base}/download`, policy: { downloads: 'allow' } }, CLI);
    const alice = await stack.operator('alice', 'site');
    const allowed = await stack.sessions.start(alice, 'site');
    const download = await eventually(async () => (await stack.auditRows({ action: 'browser_session.downloaded', target: allowed.id }))[0]);
    expect(download.details).toMatchObject({ assetId: 'site', fileName: 'statement.txt', size: FILE.length, sha256: createHash('sha256').update(FILE).digest('hex') });
    await stack.sessions.end(allowed.id, alice);

    await stack.assets.update('site', { policy: { downloads: 'block' } }, CLI);
    const blocked = await stack.sessions.start(alice, 'site');
    const block = await eventually(async () => (await stack.auditRows({ action: 'browser_session.blocked', target: blocked.id })).find((r) => r.details.what === 'download'));
    expect(block.outcome).toBe('denied');
    expect(await stack.auditRows({ action: 'browser_session.downloaded', target: blocked.id })).toEqual([]);
  });
});
