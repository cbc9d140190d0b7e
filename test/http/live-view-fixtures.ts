import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import WebSocket from 'ws';
import type { TestServer } from '../support/server.js';
import { call, CLI, type Caller } from './admin-callers.js';

/** What opening a live view gave: the refusal (HTTP status and body), or the messages (frames as `<frame>`) and the socket's close. */
export interface LiveOpening {
  status?: number;
  body?: string;
  messages: string[];
  close?: { code: number; reason: string };
}

/** Opens a live view with raw headers and resolves with its refusal, or with its messages once the socket closes. */
export function openLiveSocket(url: string, headers: Record<string, string>): Promise<LiveOpening> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    const messages: string[] = [];
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
      res.on('end', () => resolve({ status: res.statusCode, body, messages }));
    });
    ws.on('message', (data: Buffer, isBinary) => messages.push(isBinary ? '<frame>' : data.toString('utf8')));
    ws.on('close', (code, reason) => resolve({ messages, close: { code, reason: reason.toString() } }));
    ws.on('error', (error) => {
      if (!String(error).includes('Unexpected server response')) reject(error);
    });
  });
}

/** A text message from the live view, parsed. */
export type LiveText = { type: string; [key: string]: unknown };

/** A real WebSocket client of the live view that records everything it gets; it acks frames only when told to. */
export class LiveClient {
  readonly texts: LiveText[] = [];
  readonly frames: Buffer[] = [];
  /** Every message in arrival order: 'frame' for a binary one, else its type. */
  readonly order: string[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  readonly opened: Promise<void>;
  private waiters: Array<() => void> = [];

  constructor(
    readonly ws: WebSocket,
    private readonly autoAck: boolean,
  ) {
    this.opened = once(ws, 'open').then(() => undefined);
    this.closed = new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
    ws.on('message', (data: Buffer, isBinary) => {
      if (isBinary) {
        this.frames.push(data);
        this.order.push('frame');
        if (this.autoAck) this.send({ type: 'ack' });
      } else {
        const message = JSON.parse(data.toString('utf8')) as LiveText;
        this.texts.push(message);
        this.order.push(message.type);
      }
      for (const wake of this.waiters.splice(0)) wake();
    });
    ws.on('close', () => this.waiters.splice(0).forEach((wake) => wake()));
  }

  static open(baseUrl: string, sessionId: string, cookie: string, options: { autoAck?: boolean } = {}): LiveClient {
    const ws = new WebSocket(`${baseUrl.replace(/^http/, 'ws')}/api/sessions/${encodeURIComponent(sessionId)}/live`, { headers: { cookie, origin: baseUrl } });
    return new LiveClient(ws, options.autoAck ?? true);
  }

  send(message: unknown): void {
    this.ws.send(typeof message === 'string' ? message : JSON.stringify(message));
  }

  /** Resolves once `check` holds (checked after every message); rejects if the socket closes first. */
  async until(check: () => boolean, what: string): Promise<void> {
    while (!check()) {
      if (this.ws.readyState === WebSocket.CLOSED) throw new Error(`socket closed while waiting for ${what}; got ${JSON.stringify(this.order)} ${JSON.stringify(this.texts)}`);
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  text(type: string): LiveText | undefined {
    return this.texts.find((m) => m.type === type);
  }

  close(): void {
    this.ws.close();
  }
}

/** A counter that changes every 40 ms (the screencast always has a new frame to send), and a link that opens a new tab. */
const CLOCK =
  '<div id="clock" style="position:absolute;left:20px;top:80px">0</div>' +
  '<a id="new-tab" href="/note" target="_blank" style="position:absolute;left:20px;top:120px;width:200px;height:30px;display:block">new tab</a>' +
  '<script>let n = 0; setInterval(() => { document.getElementById("clock").textContent = String(++n); }, 40);</script>';

/**
 * `open(caller, sessionId)`: a live view opened with the caller's session cookie, kept in `clients` so the test's
 * cleanup closes it. `server` is read at each call (the test server starts in beforeAll).
 */
export function liveViewOpener(server: () => TestServer, clients: LiveClient[]): (caller: Caller, sessionId: string) => LiveClient {
  return (caller, sessionId) => {
    const client = LiveClient.open(server().url, sessionId, caller.headers('GET').cookie!);
    clients.push(client);
    return client;
  };
}

export interface PortalSite {
  url: string;
  /** Held until release(): the login's POST waits, so the session stays `logging_in`. */
  holdLogins(): void;
  releaseLogins(): void;
  /** Resolves with the next note posted from the page. */
  nextNote(): Promise<string>;
  close(): Promise<void>;
}

/**
 * A small portal of our own: a login form (the automatic recipe fills it), then a page with one
 * focused text field at a known place, a form that posts it back here, and a ticking clock, so
 * the screencast always has new frames to send.
 */
export async function startPortalSite(credentials: { username: string; password: string }): Promise<PortalSite> {
  let held: Array<() => void> | null = null;
  let noteWaiters: Array<(note: string) => void> = [];
  const sockets = new Set<Socket>();
  const page = (res: ServerResponse, body: string, headers: Record<string, string> = {}) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', ...headers });
    res.end(`<!doctype html><html><head><meta charset="utf-8"><title>Live portal</title></head><body style="margin:0;font:16px sans-serif">${body}</body></html>`);
  };
  const readForm = async (req: IncomingMessage) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req as AsyncIterable<Buffer>) chunks.push(chunk);
    return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
  };
  const server: Server = createServer((req, res) => {
    void (async () => {
      const signedIn = (req.headers.cookie ?? '').includes('portal=yes');
      if (req.method === 'GET' && req.url === '/') {
        return page(res, '<form method="post" action="/login"><input name="username" type="text"><input name="password" type="password"><button type="submit">Sign in</button></form>');
      }
      if (req.method === 'POST' && req.url === '/login') {
        const form = await readForm(req);
        if (held) await new Promise<void>((resolve) => held!.push(resolve));
        const ok = form.get('username') === credentials.username && form.get('password') === credentials.password;
        res.writeHead(303, ok ? { location: '/note', 'set-cookie': 'portal=yes; Path=/' } : { location: '/' });
        return res.end();
      }
      if (req.method === 'GET' && req.url === '/note' && signedIn) {
        return page(
          res,
          '<form method="post" action="/note"><input id="note" name="note" autofocus autocomplete="off" style="position:absolute;left:20px;top:20px;width:400px;height:30px"></form>' + CLOCK,
        );
      }
      if (req.method === 'POST' && req.url === '/note' && signedIn) {
        const note = (await readForm(req)).get('note') ?? '';
        for (const wake of noteWaiters.splice(0)) wake(note);
        return page(res, `<p id="saved">Saved.</p>${CLOCK}`);
      }
      res.writeHead(303, { location: '/' }).end();
    })();
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    holdLogins: () => void (held = []),
    releaseLogins: () => {
      const waiting = held ?? [];
      held = null;
      waiting.forEach((go) => go());
    },
    nextNote: () => new Promise((resolve) => noteWaiters.push(resolve)),
    async close() {
      noteWaiters = [];
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The portal as an asset with its vault entry; `connect` for each of `owners`, `watch` for each of `watchers`. */
export async function addPortalAsset(
  ts: TestServer,
  site: PortalSite,
  options: { assetId: string; password: string; connect: Caller[]; watch?: Caller[]; idleTimeoutMinutes?: number; clipboard?: 'allow' | 'deny' },
): Promise<void> {
  const { vault, assets, grants } = ts.services;
  const entryId = `${options.assetId}-login`;
  await vault.set({ entryId, values: new Map([['username', Buffer.from('alice')], ['password', Buffer.from(options.password)]]) }, CLI);
  await assets.create({ id: options.assetId, name: 'Live portal', url: site.url, allowedHosts: ['127.0.0.1'], credential: entryId, allowInsecureHttp: true, policy: { idleTimeoutMinutes: options.idleTimeoutMinutes ?? 15, ...(options.clipboard ? { clipboardCopy: options.clipboard, clipboardPaste: options.clipboard } : {}) } }, CLI);
  for (const caller of options.connect) await grants.create({ subjectKind: 'user', subjectId: caller.userId!, assetId: options.assetId, actions: ['connect'] }, CLI);
  for (const caller of options.watch ?? []) await grants.create({ subjectKind: 'user', subjectId: caller.userId!, assetId: options.assetId, actions: ['watch'] }, CLI);
}

/** Starts a session through the REST API and returns its id once it is active. */
export async function startSession(ts: TestServer, owner: Caller, assetId: string): Promise<string> {
  const started = await call(ts, owner, 'POST', '/api/sessions', { assetId });
  if (started.status !== 201) throw new Error(`session start answered ${started.status}: ${started.text}`);
  return (started.json as { id: string }).id;
}

/**
 * An asset on the demo portal whose recipe signs in and ends on the accounts page (with the
 * statement link) or on `/documents` (the upload form); downloads and uploads both `policy`; its
 * own vault entry, so sessions of several assets can run at once.
 */
export async function addDemoTransferAsset(
  ts: TestServer,
  options: { id: string; portalUrl: string; username: string; password: string; policy: 'allow' | 'block'; endsOn: 'accounts' | 'documents'; connect: Caller[]; watch?: Caller[] },
): Promise<void> {
  await ts.services.vault.set({ entryId: `${options.id}-login`, values: new Map([['username', Buffer.from(options.username)], ['password', Buffer.from(options.password)]]) }, CLI);
  const steps = [{ fill: '#username', value: '{{username}}' }, { fill: '#password', value: '{{password}}' }, { click: '#sign-in' }, { waitFor: { selector: '#balance' } }];
  const documents = options.endsOn === 'documents';
  await ts.services.assets.create(
    {
      id: options.id,
      name: `Transfers ${options.id}`,
      url: `${options.portalUrl}/login`,
      credential: `${options.id}-login`,
      allowInsecureHttp: true,
      loginRecipe: { steps: documents ? [...steps, { goto: '/documents' }] : steps, injection: 'intercept' },
      successCheck: { selector: documents ? '#upload-form' : '#statement-link' },
      policy: { downloads: options.policy, uploads: options.policy },
    },
    CLI,
  );
  for (const caller of options.connect) await ts.services.grants.create({ subjectKind: 'user', subjectId: caller.userId!, assetId: options.id, actions: ['connect'] }, CLI);
  for (const caller of options.watch ?? []) await ts.services.grants.create({ subjectKind: 'user', subjectId: caller.userId!, assetId: options.id, actions: ['watch'] }, CLI);
}
