import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { base32Decode, systemClock, totp, type Clock } from '../core/index.js';
import { STATIC_FILES } from './assets.js';
import * as pages from './pages.js';
import { clearedCookie, createPortalSessions, sessionCookie, type PortalSession } from './sessions.js';

export interface DemoPortalOptions {
  username: string;
  password: string;
  /** Base32 seed: when given, `/login-totp` asks for its current code after the password. */
  totpSeed?: string | undefined;
  clock?: Clock;
}

export interface DemoPortal {
  /** Listens (port 0: any free port) and resolves to the base URL, e.g. `http://127.0.0.1:41234`. */
  start(port?: number, host?: string): Promise<string>;
  stop(): Promise<void>;
  /** Base URL once started. */
  readonly url: string | undefined;
  /** What the page scripts of the scripted variants reported (POST /spy): proof of what a page could read. */
  readonly observed: readonly string[];
  /** Files received by `/documents`, in order (name as sent, size in bytes). */
  readonly documents: ReadonlyArray<{ name: string; size: number }>;
}

const MAX_BODY = 16 * 1024;
/** A document sent to `/documents` (multipart). */
const MAX_DOCUMENT = 2 * 1024 * 1024;
const WRONG_CREDENTIALS = 'Wrong username or password.';
/** Self-only: no inline script or style, framing only by itself (the iframe variant). */
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; frame-ancestors 'self'; form-action 'self'; base-uri 'none'";

type Request = { method: string; path: string; query: URLSearchParams; session: PortalSession | undefined; body: Record<string, string>; rawBody: string; bytes: Buffer; req: IncomingMessage };
type Reply = { status?: number; html?: string; json?: unknown; redirect?: string; cookie?: string; text?: { type: string; body: string }; attachment?: { name: string; type: string; body: string } };

/** A small banking portal to try and test logins against (node:http, no framework: it stands in for someone else's site). */
export function createDemoPortal(options: DemoPortalOptions): DemoPortal {
  if (!options.username || !options.password) throw new TypeError('the demo portal needs a username and a password');
  const clock = options.clock ?? systemClock;
  const totpKey = options.totpSeed ? base32Decode(options.totpSeed.replace(/\s+/g, '')) : undefined;
  const passwordHash = createHash('sha256').update(options.password, 'utf8').digest('hex');
  const sessions = createPortalSessions();
  const observed: string[] = [];
  const documents: Array<{ name: string; size: number }> = [];
  let server: Server | undefined;
  let url: string | undefined;

  const credentialsMatch = (username: string | undefined, password: string | undefined) =>
    sameText(username ?? '', options.username) && sameText(password ?? '', options.password);
  const codeMatches = (code: string | undefined) => {
    if (!totpKey || !/^[0-9]{6}$/.test(code ?? '')) return false;
    const now = clock.now();
    // One step either side, as identity accepts, for clock drift and typing time.
    return [-30_000, 0, 30_000].some((offset) => sameText(code!, totp(totpKey, now + offset)));
  };
  /** A fresh session on every sign-in, so a session id seen before sign-in is worthless after. */
  const signIn = (request: Request, user: string): Reply => {
    if (request.session) sessions.delete(request.session.id);
    const session = sessions.create();
    session.user = user;
    return { redirect: '/accounts', cookie: sessionCookie(session.id) };
  };
  const pending = (request: Request, stage: 'totp' | 'password', username: string, to: string): Reply => {
    const session = request.session ?? sessions.create();
    session.pending = { stage, username };
    return { redirect: to, cookie: sessionCookie(session.id) };
  };
  const signedIn = (request: Request) => (request.session?.user ? request.session : undefined);

  const routes: Record<string, (request: Request) => Reply> = {
    'GET /': () => ({ html: pages.homePage() }),
    'GET /login': () => ({ html: pages.loginPage('/login') }),
    'POST /login': (r) => (credentialsMatch(r.body.username, r.body.password) ? signIn(r, options.username) : { status: 401, html: pages.loginPage('/login', WRONG_CREDENTIALS) }),
    'GET /login-totp': () => ({ html: pages.loginPage('/login-totp') }),
    'POST /login-totp': (r) => {
      if (!credentialsMatch(r.body.username, r.body.password)) return { status: 401, html: pages.loginPage('/login-totp', WRONG_CREDENTIALS) };
      return totpKey ? pending(r, 'totp', options.username, '/login-totp/code') : signIn(r, options.username);
    },
    'GET /login-totp/code': (r) => (r.session?.pending?.stage === 'totp' ? { html: pages.totpPage() } : { redirect: '/login-totp' }),
    'POST /login-totp/code': (r) => {
      if (r.session?.pending?.stage !== 'totp') return { redirect: '/login-totp' };
      return codeMatches(r.body.code) ? signIn(r, r.session.pending.username) : { status: 401, html: pages.totpPage('Wrong code.') };
    },
    'GET /login-two-page': () => ({ html: pages.twoPageUsername() }),
    // The username is not checked yet (portals do not say which part was wrong).
    'POST /login-two-page': (r) => (r.body.username ? pending(r, 'password', r.body.username, '/login-two-page/password') : { status: 400, html: pages.twoPageUsername('Enter your username.') }),
    'GET /login-two-page/password': (r) => (r.session?.pending?.stage === 'password' ? { html: pages.twoPagePassword(r.session.pending.username) } : { redirect: '/login-two-page' }),
    'POST /login-two-page/password': (r) => {
      const who = r.session?.pending?.stage === 'password' ? r.session.pending.username : undefined;
      if (who === undefined) return { redirect: '/login-two-page' };
      return credentialsMatch(who, r.body.password) ? signIn(r, who) : { status: 401, html: pages.twoPagePassword(who, WRONG_CREDENTIALS) };
    },
    'GET /login-iframe': (r) => ({ html: pages.iframeHost(r.query.has('error')) }),
    'GET /login-iframe/form': (r) => ({ html: pages.iframeForm(r.query.has('error')) }),
    'POST /login-iframe/form': (r) => (credentialsMatch(r.body.username, r.body.password) ? signIn(r, options.username) : { redirect: '/login-iframe?error=1' }),
    'GET /login-scripted': () => ({ html: pages.scriptedPage() }),
    'POST /login-scripted': (r) => (credentialsMatch(r.body.username, r.body.password) ? signIn(r, options.username) : { status: 401, html: pages.scriptedPage(WRONG_CREDENTIALS) }),
    'GET /login-json': () => ({ html: pages.jsonLoginPage() }),
    'GET /login-hashed': () => ({ html: pages.hashedPage() }),
    'POST /login-hashed': (r) =>
      sameText(r.body.username ?? '', options.username) && sameText(r.body.passwordHash ?? '', passwordHash)
        ? signIn(r, options.username)
        : { status: 401, html: pages.hashedPage(WRONG_CREDENTIALS) },
    'POST /api/login': (r) => {
      if (!credentialsMatch(r.body.username, r.body.password)) return { status: 401, json: { ok: false } };
      const reply = signIn(r, options.username);
      return { json: { ok: true }, cookie: reply.cookie };
    },
    'POST /spy': (r) => {
      if (observed.length < 1000) observed.push(r.rawBody);
      return { status: 204 };
    },
    'GET /accounts': (r) => {
      const session = signedIn(r);
      return session ? { html: pages.accountsPage(session.user!, pages.formatEuros(session.balanceCents), session.csrf) } : { redirect: '/login' };
    },
    // A careless page for the redaction tests: it prints the password (pages.carelessProfilePage).
    'GET /profile': (r) => {
      const session = signedIn(r);
      return session ? { html: pages.carelessProfilePage(session.user!, options.password, session.csrf) } : { redirect: '/login' };
    },
    'GET /transfer': (r) => {
      const session = signedIn(r);
      return session ? { html: pages.transferPage(session.csrf, pages.formatEuros(session.balanceCents)) } : { redirect: '/login' };
    },
    'POST /transfer': (r) => {
      const session = signedIn(r);
      if (!session || !sameText(r.body.csrf ?? '', session.csrf)) return { redirect: '/login' };
      const result = transfer(session, r.body.to ?? '', r.body.amount ?? '', r.body.purpose ?? '');
      return { status: result.ok ? 200 : 400, html: pages.transferPage(session.csrf, pages.formatEuros(session.balanceCents), result) };
    },
    'GET /statements/latest.csv': (r) => {
      const session = signedIn(r);
      return session ? { attachment: { name: 'statement-latest.csv', type: 'text/csv; charset=utf-8', body: pages.statementCsv(session.user!, pages.formatEuros(session.balanceCents)) } } : { redirect: '/login' };
    },
    'GET /documents': (r) => {
      const session = signedIn(r);
      return session ? { html: pages.documentsPage(session.csrf) } : { redirect: '/login' };
    },
    'POST /documents': (r) => {
      const session = signedIn(r);
      if (!session || !sameText(r.query.get('csrf') ?? '', session.csrf)) return { redirect: '/login' };
      const file = readMultipartFile(r.req.headers['content-type'] ?? '', r.bytes);
      if (file && documents.length < 1000) documents.push(file);
      return file ? { html: pages.documentsPage(session.csrf, file) } : { status: 400, html: pages.documentsPage(session.csrf) };
    },
    'GET /logout': (r) => (r.session ? { redirect: '/accounts' } : { html: pages.signedOutPage() }),
    'POST /logout': (r) => {
      if (r.session && sameText(r.body.csrf ?? '', r.session.csrf)) sessions.delete(r.session.id);
      return { html: pages.signedOutPage(), cookie: clearedCookie };
    },
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const target = new URL(req.url ?? '/', 'http://portal.invalid');
    const method = req.method ?? 'GET';
    const file = method === 'GET' ? STATIC_FILES[target.pathname] : undefined;
    const route = routes[`${method} ${target.pathname}`];
    if (!route && !file) return send(res, { status: 404, html: '<!doctype html><title>Not found</title><p>Not found.</p>' });
    if (file) return send(res, { text: file });
    const bytes = method === 'POST' ? await readBody(req, target.pathname === '/documents' ? MAX_DOCUMENT : MAX_BODY) : Buffer.alloc(0);
    if (bytes === undefined) return send(res, { status: 413, html: '<!doctype html><title>Too large</title>' });
    const rawBody = bytes.toString('utf8');
    const request: Request = { method, path: target.pathname, query: target.searchParams, session: sessions.fromCookie(req.headers.cookie), body: parseBody(req, rawBody), rawBody, bytes, req };
    send(res, route!(request));
  }

  return {
    get url() {
      return url;
    },
    observed,
    documents,
    async start(port = 0, host = '127.0.0.1') {
      if (server) throw new Error('the demo portal is already started');
      server = createServer((req, res) => {
        handle(req, res).catch(() => {
          if (!res.headersSent) res.writeHead(500);
          res.end();
        });
      });
      await new Promise<void>((resolve, reject) => {
        server!.once('error', reject);
        server!.listen(port, host, () => resolve());
      });
      const address = server.address() as AddressInfo;
      url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
      return url;
    },
    async stop() {
      const closing = server;
      server = undefined;
      url = undefined;
      if (!closing) return;
      closing.closeAllConnections();
      await new Promise<void>((resolve) => closing.close(() => resolve()));
    },
  };
}

function transfer(session: PortalSession, to: string, amount: string, purpose: string): { ok: boolean; text: string } {
  const iban = to.replace(/\s+/g, '').toUpperCase();
  if (!/^[A-Z]{2}[0-9]{2}[A-Z0-9]{10,30}$/.test(iban)) return { ok: false, text: 'Enter a valid IBAN.' };
  if (!/^\d{1,9}([.,]\d{1,2})?$/.test(amount.trim())) return { ok: false, text: 'Enter an amount such as 25.00.' };
  const cents = Math.round(Number(amount.trim().replace(',', '.')) * 100);
  if (cents <= 0 || cents > session.balanceCents) return { ok: false, text: 'The amount exceeds the available balance.' };
  session.balanceCents -= cents;
  const label = pages.PURPOSES.find(([value]) => value !== '' && value === purpose)?.[1];
  return { ok: true, text: `Sent ${pages.formatEuros(cents)} to ${iban}.${label ? ` Purpose: ${label}.` : ''}` };
}

function send(res: ServerResponse, reply: Reply): void {
  const headers: Record<string, string> = { 'content-security-policy': CSP, 'x-content-type-options': 'nosniff', 'cache-control': 'no-store' };
  if (reply.cookie) headers['set-cookie'] = reply.cookie;
  if (reply.redirect) {
    res.writeHead(303, { ...headers, location: reply.redirect }).end();
  } else if (reply.json !== undefined) {
    res.writeHead(reply.status ?? 200, { ...headers, 'content-type': 'application/json' }).end(JSON.stringify(reply.json));
  } else if (reply.attachment) {
    res.writeHead(reply.status ?? 200, { ...headers, 'content-type': reply.attachment.type, 'content-disposition': `attachment; filename="${reply.attachment.name}"` }).end(reply.attachment.body);
  } else if (reply.text) {
    res.writeHead(reply.status ?? 200, { ...headers, 'content-type': reply.text.type }).end(reply.text.body);
  } else {
    res.writeHead(reply.status ?? 200, reply.html === undefined ? headers : { ...headers, 'content-type': 'text/html; charset=utf-8' }).end(reply.html);
  }
}

async function readBody(req: IncomingMessage, max: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > max) return undefined;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** The first file of a multipart/form-data body: its name (as sent) and size in bytes; undefined when there is none. */
function readMultipartFile(contentType: string, body: Buffer): { name: string; size: number } | undefined {
  const boundary = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(contentType);
  if (!boundary) return undefined;
  const delimiter = Buffer.from(`--${boundary[1] ?? boundary[2]}`);
  let at = body.indexOf(delimiter);
  while (at !== -1) {
    const headersEnd = body.indexOf('\r\n\r\n', at);
    const next = body.indexOf(delimiter, at + delimiter.length);
    if (headersEnd === -1 || next === -1) return undefined;
    const name = /filename="([^"]*)"/.exec(body.subarray(at, headersEnd).toString('utf8'))?.[1];
    // The part's content ends with CRLF before the next delimiter.
    if (name) return { name, size: next - 2 - (headersEnd + 4) };
    at = next;
  }
  return undefined;
}

function parseBody(req: IncomingMessage, body: string): Record<string, string> {
  const type = req.headers['content-type'] ?? '';
  if (type.startsWith('application/x-www-form-urlencoded')) return Object.fromEntries(new URLSearchParams(body));
  if (type.startsWith('application/json')) {
    try {
      const parsed: unknown = JSON.parse(body);
      if (parsed && typeof parsed === 'object') return Object.fromEntries(Object.entries(parsed).filter((e): e is [string, string] => typeof e[1] === 'string'));
    } catch {
      return {};
    }
  }
  return {};
}

/** Constant-time comparison of two strings of any length (hash first, so lengths do not leak). */
function sameText(a: string, b: string): boolean {
  const digest = (text: string) => createHash('sha256').update(text, 'utf8').digest();
  return timingSafeEqual(digest(a), digest(b));
}
