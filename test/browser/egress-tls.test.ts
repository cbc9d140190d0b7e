import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBrowserPool, findChromium, type BrowserEvent, type BrowserPool } from '../../src/browser/index.js';
import { eventLog, html, loopbackLookup, silentLogger, spec, startSite, TEST_LAUNCH_ARGS, waitUntil, type Site } from './support.js';

// An asset without plain http: its CONNECT tunnels must carry TLS. Chromium tunnels a worker's
// ws:// through the proxy like a wss://, and no in-browser hook sees a worker's WebSocket, so the
// egress proxy reads the tunnel's first byte. The portal here is served over https with a
// self-signed certificate, which only this test's Chromium accepts (--ignore-certificate-errors).

let pool: BrowserPool;
let portal: Server;
let portalPort: number;
/**
 * A plain-http server that would accept ws://localhost/live: it must see nothing. Chromium refuses
 * ws:// from an https page as mixed content, except to loopback names such as localhost: an allowed
 * `localhost` is the way a worker's plain WebSocket reaches the proxy.
 */
let plain: Site;
const tlsHits: string[] = [];
/** Upgraded sockets are not the server's any more (closeAllConnections skips them): closed by hand. */
const sockets = new Set<Socket>();

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'webasset-tls-'));
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2', '-subj', '/CN=portal.test', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
    portal = createServer({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) }, (req, res) => {
      tlsHits.push(req.url ?? '');
      switch (req.url) {
        case '/worker':
          return html(res, `<script>new Worker('/worker.js');</script>`);
        case '/worker.js':
          res.writeHead(200, { 'content-type': 'text/javascript' });
          return res.end(`
            const secure = new WebSocket('wss://portal.test:${portalPort}/live');
            secure.onopen = () => fetch('/wss-open');
            try {
              const insecure = new WebSocket('ws://localhost:${plain.port}/live');
              insecure.onopen = () => fetch('/ws-open');
              insecure.onerror = () => fetch('/ws-refused');
            } catch (e) { fetch('/ws-threw'); }`);
        default:
          return html(res, '<h1>portal</h1>');
      }
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  portal.on('upgrade', (req: IncomingMessage, socket: Socket) => {
    sockets.add(socket);
    tlsHits.push(`upgrade ${req.url ?? ''}`);
    acceptWebSocket(req, socket);
  });
  portal.listen(0, '127.0.0.1');
  await once(portal, 'listening');
  portalPort = (portal.address() as AddressInfo).port;
  plain = await startSite(
    (_req, res) => html(res, 'plain'),
    (req, socket) => acceptWebSocket(req, socket),
  );
  pool = createBrowserPool({ chromiumPath: findChromium(undefined), logger: silentLogger, launchArgs: [...TEST_LAUNCH_ARGS, '--ignore-certificate-errors'], lookup: loopbackLookup });
});

afterAll(async () => {
  await pool?.close();
  portal?.closeAllConnections();
  for (const socket of sockets) socket.destroy();
  await new Promise<void>((resolve) => (portal ? portal.close(() => resolve()) : resolve()));
  await plain?.close();
});

function acceptWebSocket(req: IncomingMessage, socket: Socket): boolean {
  const accept = createHash('sha1').update(`${String(req.headers['sec-websocket-key'])}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
  socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
  return true;
}

describe('egress proxy: tunnels of an asset without plain http', () => {
  it("lets a worker's wss:// through and refuses its ws:// to the same allowed host, reported as blocked", async () => {
    const log = eventLog();
    const session = await pool.open(spec({ onEvent: log.onEvent, allowedHosts: ['portal.test', 'localhost'], allowInsecureHttp: false }));
    await session.navigate(`https://portal.test:${portalPort}/worker`);
    await waitUntil(() => tlsHits.includes('/wss-open') && tlsHits.includes('/ws-refused'), 15_000, () => JSON.stringify(tlsHits));
    expect(tlsHits).toContain('upgrade /live');
    expect(tlsHits).not.toContain('/ws-open');
    expect(plain.hits).toEqual([]);
    const refused = await log.waitFor((e: BrowserEvent) => e.type === 'blocked' && e.what === 'websocket');
    expect(refused).toMatchObject({ url: `ws://localhost:${plain.port}/live`, reason: expect.stringMatching(/^egress: plain http is not allowed/) });
    await session.close();
  });
});
