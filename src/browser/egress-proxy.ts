import { once } from 'node:events';
import { Agent, createServer, request as httpRequest, type ClientRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { connect, type LookupFunction, type AddressInfo, type Socket } from 'node:net';
import type { BlockedWhat } from './types.js';
import type { UrlGuard } from './url-guard.js';

export interface EgressProxy {
  /** `http://127.0.0.1:PORT`, for the context's proxy setting. */
  readonly server: string;
  close(): Promise<void>;
}

export interface EgressProxyDeps {
  guard: UrlGuard;
  block(what: BlockedWhat, url: string, reason: string): void;
  /** How names are resolved; default: the system resolver. */
  lookup?: LookupFunction | undefined;
}

const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-authorization', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade'];

/**
 * The last layer of the navigation lock: each context sends all its traffic through its own proxy
 * on 127.0.0.1, which connects only to the allowed hosts. It sees what the in-browser layers cannot:
 * WebSockets opened by workers, redirect hops in out-of-process iframes and in a popup's first
 * moments. Chromium proxies loopback too (Playwright adds `<-loopback>`), so nothing goes around it.
 * https and wss pass as opaque CONNECT tunnels: the host is checked and, unless the asset allows
 * plain http, the first byte must open a TLS handshake (Chromium tunnels ws:// too); nothing else is read.
 */
export async function startEgressProxy(deps: EgressProxyDeps): Promise<EgressProxy> {
  const sockets = new Set<Socket>();
  const agent = new Agent({ keepAlive: true, maxSockets: 64, ...(deps.lookup ? { lookup: deps.lookup } : {}) });
  const server = createServer((req, res) => forward(req, res, deps, agent));

  server.on('connect', (req: IncomingMessage, client: Socket, head: Buffer) => {
    const target = parseAuthority(req.url ?? '');
    const verdict = target ? deps.guard.check(authorityUrl(target)) : { ok: false as const, reason: 'malformed CONNECT' };
    if (!target || !verdict.ok) {
      deps.block('request', target ? authorityUrl(target) : 'about:blank', verdict.ok ? 'refused' : verdict.reason);
      client.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    // Chromium tunnels ws:// through CONNECT too: unless the asset allows plain http, a tunnel must carry TLS.
    const tlsOnly = !deps.guard.check(`http://${authorityOf(target)}/`).ok;
    const upstream = connect({ host: target.host, port: target.port, ...(deps.lookup ? { lookup: deps.lookup } : {}) });
    track(upstream);
    upstream.once('connect', () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      const splice = (first: Buffer) => {
        if (tlsOnly && first.length > 0 && first[0] !== TLS_HANDSHAKE) {
          const plain = describePlainTunnel(first, target);
          deps.block(plain.what, plain.url, 'plain http is not allowed for this asset (unencrypted data in a CONNECT tunnel)');
          client.destroy();
          upstream.destroy();
          return;
        }
        if (first.length > 0) upstream.write(first);
        upstream.pipe(client);
        client.pipe(upstream);
      };
      if (!tlsOnly || head.length > 0) return splice(head);
      // Nothing reaches the host before the client's first bytes are judged.
      client.once('data', (first: Buffer) => {
        client.pause();
        splice(first);
      });
    });
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
    client.on('close', () => upstream.destroy());
  });
  // A plain ws:// through a proxy arrives as an absolute-form Upgrade: the lock's WebSocket route
  // already judged it in pages; here it is only ever refused or tunnelled like any other request.
  server.on('upgrade', (req: IncomingMessage, client: Socket) => {
    deps.block('websocket', req.url ?? '', 'plain WebSocket upgrades through the proxy are not forwarded');
    client.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n');
  });
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  };
  server.on('connection', track);

  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    server: `http://127.0.0.1:${port}`,
    async close() {
      for (const socket of sockets) socket.destroy();
      agent.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * A kept-alive connection to the site can be closed by the site just as the next request is
 * written on it (its idle timeout and our reuse cross). Nothing was processed then, and a browser
 * talking to the site itself would retry on a new connection; behind this proxy it would show an
 * empty 502 instead ("unable to handle this request", seen under load). So a request whose
 * connection was a reused one and failed before any answer is sent again, on the next connection,
 * as long as its body was small enough to keep (REPLAY_BODY_LIMIT).
 */
const REPLAY_BODY_LIMIT = 1024 * 1024;
/** Each free kept-alive socket may be stale; after this many, the last try is on whatever comes. */
const MAX_TRIES = 4;
const CLOSED_UNDER_US = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED']);

function forward(req: IncomingMessage, res: ServerResponse, deps: EgressProxyDeps, agent: Agent): void {
  const url = req.url ?? '';
  const verdict = /^http:\/\//i.test(url) ? deps.guard.check(url) : { ok: false as const, reason: 'not an absolute http URL' };
  if (!verdict.ok) {
    deps.block(isNavigation(req) ? 'navigation' : 'request', url, verdict.reason);
    // No answer at all: a 403 would be shown as the other host's page; a dropped connection is a network error.
    req.socket.destroy();
    return;
  }
  const target = new URL(url);
  const headers = { ...req.headers };
  for (const name of HOP_BY_HOP) delete headers[name];
  const options = { agent, host: target.hostname, port: target.port || 80, method: req.method, path: `${target.pathname}${target.search}`, headers };
  const length = Number(req.headers['content-length'] ?? 0);
  const keepsBody = req.headers['transfer-encoding'] === undefined && Number.isSafeInteger(length) && length >= 0 && length <= REPLAY_BODY_LIMIT;

  let upstream: ClientRequest | undefined;
  // The browser hung up (a cancelled download, a stopped load): the site's answer is not read on.
  res.on('close', () => {
    if (!res.writableFinished) upstream?.destroy();
  });

  const send = (tries: number, body: Buffer | undefined): void => {
    const attempt = httpRequest(options, (answer) => {
      const out = { ...answer.headers };
      for (const name of HOP_BY_HOP) delete out[name];
      res.writeHead(answer.statusCode ?? 502, answer.statusMessage, out);
      // The site hung up inside the body: the browser is cut off too (pipe would leave it waiting for
      // the rest forever, a download among it), and fails or retries as it would without a proxy.
      answer.once('error', () => res.destroy());
      answer.pipe(res);
    });
    upstream = attempt;
    attempt.on('error', (error: NodeJS.ErrnoException) => {
      const stale = attempt.reusedSocket && CLOSED_UNDER_US.has(error.code ?? '') && !res.headersSent && !res.destroyed;
      if (stale && body !== undefined && tries < MAX_TRIES) return send(tries + 1, body);
      if (!res.headersSent) res.writeHead(502).end();
      else res.destroy();
    });
    if (body === undefined) req.pipe(attempt);
    else attempt.end(body);
  };

  if (!keepsBody) return send(1, undefined);
  // A small body is read first, so that it can be sent again; most requests (GET) have none.
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.once('end', () => send(1, Buffer.concat(chunks)));
  req.once('error', () => res.destroy());
}

function parseAuthority(authority: string): { host: string; port: number } | undefined {
  const match = /^(\[[0-9a-fA-F:.]+\]|[^:[\]/@\s]+):(\d{1,5})$/.exec(authority);
  if (!match) return undefined;
  const port = Number(match[2]);
  if (port < 1 || port > 65535) return undefined;
  return { host: match[1]!.replace(/^\[|\]$/g, ''), port };
}

function authorityOf(target: { host: string; port: number }): string {
  return `${target.host.includes(':') ? `[${target.host}]` : target.host}:${target.port}`;
}

function authorityUrl(target: { host: string; port: number }): string {
  return `https://${authorityOf(target)}/`;
}

/** The first byte of every TLS connection (a handshake record: the ClientHello). */
const TLS_HANDSHAKE = 0x16;

/** What a refused plain tunnel was for, from its first bytes: a WebSocket handshake (ws://) or another request. */
function describePlainTunnel(first: Buffer, target: { host: string; port: number }): { what: BlockedWhat; url: string } {
  const text = first.subarray(0, 4096).toString('latin1');
  const line = /^[A-Z]{3,10} (\/\S*) HTTP\/1\.[01]\r\n/.exec(text);
  if (!line) return { what: 'request', url: `http://${authorityOf(target)}/` };
  const websocket = /\r\nupgrade:\s*websocket\s*\r\n/i.test(text);
  return { what: websocket ? 'websocket' : 'request', url: `${websocket ? 'ws' : 'http'}://${authorityOf(target)}${line[1]}` };
}

/** Chromium marks navigations (redirect hops included) with Sec-Fetch-Mode (secure origins) or Upgrade-Insecure-Requests (all). */
function isNavigation(req: IncomingMessage): boolean {
  return req.headers['sec-fetch-mode'] === 'navigate' || req.headers['upgrade-insecure-requests'] === '1';
}
