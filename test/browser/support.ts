import { once } from 'node:events';
import { readdirSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, LookupFunction, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { createBrowserPool, DEFAULT_LAUNCH_ARGS, findChromium, type BrowserEvent, type BrowserPool, type ContextSpec } from '../../src/browser/index.js';

/**
 * Every host name resolves to 127.0.0.1 inside the test browser, so the allowlist is checked on
 * real names (portal.test, evil.test, portal.test.evil.test) while nothing leaves the machine.
 */
export const TEST_LAUNCH_ARGS = [...DEFAULT_LAUNCH_ARGS, '--host-resolver-rules=MAP * 127.0.0.1'];

/** The same mapping for the sessions' egress proxies, which resolve names themselves. */
export const loopbackLookup: LookupFunction = (_hostname, options, callback) => {
  if (options.all) callback(null, [{ address: '127.0.0.1', family: 4 }]);
  else callback(null, '127.0.0.1', 4);
};

export const silentLogger = pino({ level: 'silent' });

export function startTestPool(): BrowserPool {
  return createBrowserPool({ chromiumPath: findChromium(undefined), logger: silentLogger, launchArgs: TEST_LAUNCH_ARGS, lookup: loopbackLookup });
}

export type Handler = (req: IncomingMessage, res: ServerResponse, site: Site) => void;

export interface Site {
  port: number;
  /** `http://<host>:<port><path>` */
  url(host: string, path?: string): string;
  /** Requests received, as `host path` (host without port). */
  readonly hits: string[];
  close(): Promise<void>;
}

/** A small HTTP server on 127.0.0.1, port 0, serving every test host name (the Host header tells them apart). */
export async function startSite(handler: Handler, onUpgrade?: (req: IncomingMessage, socket: Socket) => boolean): Promise<Site> {
  const hits: string[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((req, res) => {
    hits.push(`${(req.headers.host ?? '').replace(/:\d+$/, '')} ${req.url ?? ''}`);
    handler(req, res, site);
  });
  // WebSocket handshakes count as hits too; only those `onUpgrade` takes are accepted.
  server.on('upgrade', (req: IncomingMessage, socket: Socket) => {
    hits.push(`${(req.headers.host ?? '').replace(/:\d+$/, '')} ${req.url ?? ''}`);
    if (!onUpgrade?.(req, socket)) socket.destroy();
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  const site: Site = {
    port,
    url: (host, path = '/') => `http://${host}:${port}${path}`,
    hits,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return site;
}

export function html(res: ServerResponse, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', ...headers });
  res.end(`<!doctype html><html><head><title>test</title></head><body>${body}</body></html>`);
}

/** Pages report what they received by requesting /echo?v=...: keeps the value in `echoes` and answers 204. */
export function answerEcho(url: URL, res: ServerResponse, echoes: string[]): void {
  echoes.push(url.searchParams.get('v') ?? '');
  res.writeHead(204);
  res.end();
}

/** Collects a session's events; `waitFor` polls until one matches (a deadline, not a timing assertion). */
export function eventLog() {
  const events: BrowserEvent[] = [];
  return {
    events,
    onEvent: (event: BrowserEvent) => {
      events.push(event);
    },
    async waitFor<T extends BrowserEvent = BrowserEvent>(predicate: (event: BrowserEvent) => boolean, timeoutMs = 15_000): Promise<T> {
      return waitUntil(() => events.find(predicate) as T | undefined, timeoutMs, () => `no matching event; got ${JSON.stringify(events)}`);
    },
  };
}

export async function waitUntil<T>(probe: () => T | undefined | false, timeoutMs = 15_000, describe: () => string = () => 'condition not met'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(describe());
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

export function spec(overrides: Partial<ContextSpec> & Pick<ContextSpec, 'onEvent'>): ContextSpec {
  return {
    sessionId: `s-${Math.random().toString(36).slice(2, 10)}`,
    allowedHosts: ['portal.test', '*.portal.test'],
    allowInsecureHttp: true,
    policy: { downloads: 'block', uploads: 'block', clipboardCopy: 'deny', clipboardPaste: 'deny' },
    ...overrides,
  };
}

/** A session's own folders of kept downloads (src/browser/transfers.ts: kept-<session id>-*, in a pool's downloads folder under the system temp folder). */
export function keptFolders(sessionId: string): string[] {
  return readdirSync(tmpdir())
    .filter((name) => name.startsWith('webasset-downloads-'))
    .flatMap((name) => {
      try {
        return readdirSync(join(tmpdir(), name)).filter((inner) => inner.startsWith(`kept-${sessionId}-`));
      } catch {
        return [];
      }
    });
}
