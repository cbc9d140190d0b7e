import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BrowserEvent, BrowserPool } from '../../src/browser/index.js';
import { eventLog, html, spec, startSite, startTestPool, waitUntil, type Site } from './support.js';

// The navigation lock against a real Chromium: every host name resolves to 127.0.0.1, so each
// request that a test says was blocked would otherwise have reached `site` (its hits show it did not).

let pool: BrowserPool;
let site: Site;

beforeAll(async () => {
  pool = startTestPool();
  site = await startSite((req, res, s) => {
    const host = (req.headers.host ?? '').replace(/:\d+$/, '');
    const path = req.url ?? '/';
    if (host !== 'portal.test' && host !== 'app.portal.test') {
      html(res, '<h1>EVIL</h1>');
      return;
    }
    switch (path) {
      case '/subresources':
        return html(res, `<img src="${s.url('evil.test', '/pixel.png')}"><iframe src="${s.url('evil.test', '/frame')}"></iframe><img src="/redirect-img">`);
      case '/redirect-img':
        res.writeHead(302, { location: s.url('evil.test', '/redirected.png') });
        return res.end();
      case '/open-redirect':
        res.writeHead(302, { location: s.url('evil.test', '/landing') });
        return res.end();
      case '/popup':
        return html(res, `<script>window.open(${JSON.stringify(s.url('evil.test', '/popup-target'))});</script>`);
      case '/popup-allowed':
        return html(res, `<script>window.open(${JSON.stringify(s.url('app.portal.test', '/second'))});</script>`);
      case '/userinfo':
        return html(res, `<script>location.href = ${JSON.stringify(`http://portal.test:${s.port}@evil.test:${s.port}/userinfo-target`)};</script>`);
      case '/lookalike':
        return html(res, `<img src="${s.url('portal.test.evil.test', '/a.png')}"><img src="${s.url('evilportal.test', '/b.png')}"><img src="${s.url('p\u03bfrtal.test', '/c.png')}">`);
      case '/repeat':
        return html(res, `<img src="${s.url('evil.test', '/tracker.png')}"><img src="${s.url('evil.test', '/tracker.png?n=2')}">`);
      case '/popup-redirect':
        return html(res, `<script>window.open(${JSON.stringify(s.url('app.portal.test', '/redirect-away'))});</script>`);
      case '/redirect-away':
        res.writeHead(302, { location: s.url('evil.test', '/popup-landing') });
        return res.end();
      case '/worker':
        return html(res, `<script>new Worker('/worker.js');</script>`);
      case '/worker.js':
        res.writeHead(200, { 'content-type': 'text/javascript' });
        return res.end(`try { new WebSocket(${JSON.stringify(`ws://evil.test:${s.port}/worker-socket`)}); } catch (e) {}
          fetch(${JSON.stringify(s.url('evil.test', '/worker-fetch'))}).catch(() => {});`);
      case '/websocket-allowed':
        return html(res, `<script>const ws = new WebSocket(${JSON.stringify(`ws://portal.test:${s.port}/live`)}); ws.onopen = () => fetch('/ws-open');</script>`);
      case '/websocket':
        return html(res, `<script>try { new WebSocket(${JSON.stringify(`ws://evil.test:${s.port}/socket`)}); } catch (e) {}</script>`);
      default:
        return html(res, `<h1>portal ${path}</h1>`);
    }
  }, acceptLiveSocket);
});

/** Completes the WebSocket handshake for portal.test/live (RFC 6455 accept key); every other upgrade is refused. */
function acceptLiveSocket(req: IncomingMessage, socket: Socket): boolean {
  if (!(req.headers.host ?? '').startsWith('portal.test:') || req.url !== '/live') return false;
  const accept = createHash('sha1').update(`${String(req.headers['sec-websocket-key'])}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
  socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
  return true;
}

afterAll(async () => {
  await pool?.close();
  await site?.close();
});

const blocked = (fragment: string) => (event: BrowserEvent) => event.type === 'blocked' && (event.url ?? '').includes(fragment);
const evilHits = () => site.hits.filter((hit) => !hit.startsWith('portal.test ') && !hit.startsWith('app.portal.test '));

async function openAt(path: string) {
  const log = eventLog();
  const session = await pool.open(spec({ onEvent: log.onEvent }));
  await session.navigate(site.url('portal.test', path));
  return { session, log };
}

describe('navigation lock: hosts', () => {
  it('blocks sub-resources, iframes and redirected sub-resources to other hosts, and reports them', async () => {
    const { session, log } = await openAt('/subresources');
    await log.waitFor(blocked('evil.test:'.concat(String(site.port), '/pixel.png')));
    expect(await log.waitFor(blocked('/frame'))).toMatchObject({ what: 'navigation' });
    // Redirect hops pass Playwright's routes: the session's egress proxy refuses them.
    expect(await log.waitFor(blocked('/redirected.png'))).toMatchObject({ what: 'request', reason: expect.stringContaining('egress') });
    expect(evilHits()).toEqual([]);
    await session.close();
  });

  it('does not follow an open redirect on the portal to another host', async () => {
    const { session, log } = await openAt('/open-redirect');
    expect(await log.waitFor(blocked('/landing'))).toMatchObject({ what: 'navigation' });
    expect(evilHits()).toEqual([]);
    expect(session.tabs().some((tab) => tab.url.includes('evil.test'))).toBe(false);
    await session.close();
  });

  it('blocks a popup to another host and closes it; a popup to an allowed host becomes a tab', async () => {
    const { session, log } = await openAt('/popup');
    expect(await log.waitFor(blocked('/popup-target'))).toMatchObject({ what: 'popup' });
    await waitUntil(() => session.tabs().length === 1);
    expect(evilHits()).toEqual([]);

    await session.navigate(site.url('portal.test', '/popup-allowed'));
    const opened = await log.waitFor((e) => e.type === 'navigated' && e.url.includes('app.portal.test'));
    const tabs = await waitUntil(() => session.tabs().length === 2 && session.tabs(), 15_000, () => JSON.stringify(session.tabs()));
    expect(tabs.find((tab) => tab.active)?.id).toBe((opened as { tabId: string }).tabId);
    expect((opened as { tabId: string }).tabId).not.toBe('tab-1');
    await session.switchTab('tab-1');
    expect(session.tabs().find((tab) => tab.active)?.id).toBe('tab-1');
    expect(log.events).toContainEqual(expect.objectContaining({ type: 'tab_switched', tabId: 'tab-1' }));
    await session.close();
  });

  it('stops a popup to an allowed host that redirects to another one', async () => {
    const { session, log } = await openAt('/popup-redirect');
    await log.waitFor(blocked('/popup-landing'));
    expect(evilHits()).toEqual([]);
    await session.close();
  });

  it('judges https://allowed@evil/ by its real host', async () => {
    const { session, log } = await openAt('/userinfo');
    await log.waitFor(blocked('/userinfo-target'));
    expect(evilHits()).toEqual([]);
    await expect(session.navigate(`http://portal.test@evil.test:${site.port}/direct`)).rejects.toMatchObject({ code: 'forbidden' });
    expect(evilHits()).toEqual([]);
    await session.close();
  });

  it('blocks look-alike hosts', async () => {
    const { session, log } = await openAt('/lookalike');
    await log.waitFor(blocked('portal.test.evil.test'));
    await log.waitFor(blocked('evilportal.test'));
    await log.waitFor(blocked('xn--prtal-rce.test'));
    expect(evilHits()).toEqual([]);
    await session.close();
  });

  it('lets WebSockets to the portal through (tunnelled by the egress proxy)', async () => {
    const { session } = await openAt('/websocket-allowed');
    await waitUntil(() => site.hits.includes('portal.test /ws-open'), 15_000, () => JSON.stringify(site.hits.slice(-5)));
    await session.close();
  });

  it('refuses WebSockets to other hosts', async () => {
    const { session, log } = await openAt('/websocket');
    expect(await log.waitFor(blocked('/socket'))).toMatchObject({ what: 'websocket' });
    expect(evilHits()).toEqual([]);
    await session.close();
  });

  it('refuses WebSockets and requests that a worker opens to other hosts', async () => {
    const { session, log } = await openAt('/worker');
    await log.waitFor(blocked('/worker-fetch'));
    // Workers' WebSockets pass no in-browser hook: the session's egress proxy refuses the tunnel.
    expect(await log.waitFor((e) => e.type === 'blocked' && (e.url ?? '').startsWith('https://evil.test:'))).toMatchObject({ reason: expect.stringContaining('egress') });
    expect(evilHits()).toEqual([]);
    await session.close();
  });

  it('reports the same refusal once per session', async () => {
    const { session, log } = await openAt('/repeat');
    await session.navigate(site.url('portal.test', '/repeat'));
    await session.navigate(site.url('portal.test', '/done'));
    await log.waitFor((e) => e.type === 'navigated' && e.url.endsWith('/done'));
    expect(log.events.filter(blocked('/tracker.png'))).toHaveLength(1);
    await session.close();
  });

  it('refuses plain http unless the asset allows it', async () => {
    const log = eventLog();
    const session = await pool.open(spec({ onEvent: log.onEvent, allowInsecureHttp: false }));
    await expect(session.navigate(site.url('portal.test', '/plain'))).rejects.toMatchObject({ code: 'forbidden' });
    expect(await log.waitFor(blocked('/plain'))).toMatchObject({ reason: expect.stringContaining('plain http') });
    expect(site.hits).not.toContain('portal.test /plain');
    await session.close();
  });
});
