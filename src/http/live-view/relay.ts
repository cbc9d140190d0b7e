import type { Socket } from 'node:net';
import type { FastifyRequest } from 'fastify';
import WebSocket from 'ws';
import { DEFAULT_PING_INTERVAL_MS, keepAlive } from './heartbeat.js';
import { CLOSE, errorMessage, type LiveErrorCode } from './messages.js';
import { MAX_REFUSAL_BODY_BYTES, relayedRefusal } from './relay-refusal.js';
import { createHolderLookup, relayHeaders, type RelayDeps, type RelayTarget } from '../relay-target.js';
import { createRelaySigner, createRelayTrust, type RelaySigner } from './relay-signature.js';

export type { SessionLocator } from '../relay-target.js';

export interface LiveViewRelayDeps extends RelayDeps {
  /** Relayed views this node carries at once; past it a viewer gets `unavailable`. */
  maxRelays?: number;
  /** Longest wait for the holding node's answer to the relayed handshake. */
  handshakeTimeoutMs?: number;
  /** How often each hop (viewer and holding node) is pinged; a hop that misses a pong until the next ping is cut, and the other with it. */
  pingIntervalMs?: number;
}

export interface LiveViewRelay {
  /** Global onRequest hook, before authentication: a request relayed to this node with a valid signature keeps its client's address. */
  trust(request: FastifyRequest): Promise<void>;
  /**
   * preHandler of the live-view route: finds the node holding the session when it is another live node and opens the view
   * there; throws the holding node's refusal of the viewer (an AppError), so the viewer gets the HTTP answer of a direct upgrade.
   */
  locate(request: FastifyRequest<{ Params: { id: string } }>): Promise<void>;
  /** In the wsHandler: true when the socket was taken by a relay (then the route does nothing more). */
  take(socket: WebSocket, request: FastifyRequest<{ Params: { id: string } }>): boolean;
  /** Relayed views open now. */
  readonly open: number;
  /** Cuts every relayed view (server close). */
  close(): void;
}

export const DEFAULT_MAX_RELAYS = 256;
/** Bytes queued towards one side past which the other side is no longer read (backpressure), and below which it is read again. */
const HIGH_WATER = 1024 * 1024;
const LOW_WATER = 256 * 1024;

/**
 * The live view of a session held by another node (decision 0020): the
 * upgrade that reached this node is relayed to the holding node, found in
 * the node registry only (never from the request), with the client's
 * Cookie (and Authorization) and Origin, so the holding node authenticates
 * and authorizes the caller itself, and with X-Forwarded-* signed by the
 * cluster key, so its audit records the real client. That handshake
 * comes first, before this node accepts the viewer's upgrade, so a refusal
 * reaches the viewer as the same HTTP answer as on a direct upgrade.
 * Messages then pass
 * both ways unchanged (text stays text, frames stay binary), each side read
 * only while the other keeps up, and a close on either side closes the
 * other with the same code and reason.
 */
export function createLiveViewRelay(deps: LiveViewRelayDeps): LiveViewRelay {
  for (const key of ['registry', 'sessions', 'logger'] as const) if (!deps[key]) throw new TypeError(`createLiveViewRelay: ${key} is required`);
  if (typeof deps.nodeId !== 'string' || deps.nodeId === '') throw new TypeError('createLiveViewRelay: nodeId is required');
  const signer: RelaySigner = createRelaySigner({ clusterKey: deps.clusterKey });
  const maxRelays = deps.maxRelays ?? DEFAULT_MAX_RELAYS;
  const handshakeTimeout = deps.handshakeTimeoutMs ?? 10_000;
  const pingIntervalMs = deps.pingIntervalMs ?? DEFAULT_PING_INTERVAL_MS;
  const log = deps.logger;
  /** Relays whose holding node has answered, by request: the open upstream socket, or how to refuse the viewer after the upgrade. */
  const ready = new WeakMap<FastifyRequest, WebSocket | 'not_found' | 'unavailable'>();
  /** Upstream sockets opened, not yet paired with their viewer. */
  const waiting = new Set<WebSocket>();
  /** Stops watching the viewer's connection for an early end, once its socket is paired (holdUntilTaken). */
  const upstreamGone = new WeakMap<WebSocket, () => void>();
  const pairs = new Set<{ client: WebSocket; upstream: WebSocket }>();

  const holderOf = createHolderLookup({ nodeId: deps.nodeId, registry: deps.registry, sessions: deps.sessions, logger: log });

  /**
   * The relayed handshake runs here, before this node answers the viewer's upgrade: when the holding
   * node refuses it (the viewer's sign-in expired or was revoked meanwhile, ...), the viewer gets
   * that refusal as an HTTP answer, as a direct upgrade does (relay-refusal.ts), not a close code.
   */
  async function locate(request: FastifyRequest<{ Params: { id: string } }>): Promise<void> {
    // A relayed request is served here or not at all (the lookup never relays one on); not found, ended, held here or unannounced: the direct path answers as before.
    if (!request.ws) return;
    const target = await holderOf(request, request.params.id);
    if (!target) return;
    if (pairs.size + waiting.size >= maxRelays) return void ready.set(request, 'unavailable');
    const opened = await openUpstream(target, request);
    if (opened instanceof WebSocket) {
      log.debug({ node: target.nodeId }, 'live view relayed to the holding node');
      return holdUntilTaken(opened, request);
    }
    const refusal = relayedRefusal(opened.status, opened.body);
    log.debug({ node: target.nodeId, status: opened.status }, 'live view relay: the holding node refused the view');
    if (typeof refusal !== 'string') throw refusal;
    ready.set(request, refusal);
  }

  function openUpstream(target: RelayTarget, request: FastifyRequest<{ Params: { id: string } }>): Promise<WebSocket | { status: number | null; body: string }> {
    const path = `/api/sessions/${encodeURIComponent(request.params.id)}/live`;
    // The route's Origin check refused a handshake without an Origin.
    const headers = relayHeaders(signer, request, deps.nodeId, 'GET', path, ['cookie', 'authorization', 'user-agent']);
    const upstream = new WebSocket(`${target.url.replace(/^http/, 'ws')}${path}`, { headers, perMessageDeflate: false, handshakeTimeout, followRedirects: false });
    waiting.add(upstream);
    return new Promise((resolve) => {
      let status: number | null = null;
      let body = '';
      upstream.on('unexpected-response', (_req, res) => {
        status = res.statusCode ?? null;
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          body += chunk;
          if (body.length >= MAX_REFUSAL_BODY_BYTES) res.destroy();
        });
        res.on('close', () => upstream.terminate());
      });
      let opened = false;
      upstream.on('open', () => {
        opened = true;
        // Nothing is read from the holding node until the viewer is there to get it (take()).
        upstream.pause();
        resolve(upstream);
      });
      upstream.on('error', (error) => {
        if (!opened && status === null) log.warn({ err: error, node: target.nodeId }, 'live view relay: the holding node did not take the view');
      });
      upstream.on('close', () => {
        waiting.delete(upstream);
        resolve({ status, body: body.slice(0, MAX_REFUSAL_BODY_BYTES) });
      });
    });
  }

  /** Until the route takes the viewer's socket; a viewer that goes away during its upgrade takes the upstream socket with it. */
  function holdUntilTaken(upstream: WebSocket, request: FastifyRequest<{ Params: { id: string } }>): void {
    const socket = request.raw.socket as Socket | undefined;
    const gone = () => {
      if (waiting.delete(upstream)) upstream.terminate();
    };
    // Gone already while the holding node answered: its close event has passed.
    if (socket?.destroyed) return gone();
    socket?.once('close', gone);
    ready.set(request, upstream);
    upstreamGone.set(upstream, () => socket?.off('close', gone));
  }

  function take(client: WebSocket, request: FastifyRequest<{ Params: { id: string } }>): boolean {
    const got = ready.get(request);
    if (!got) return false;
    ready.delete(request);
    if (typeof got === 'string') {
      refuse(client, got);
      return true;
    }
    const upstream = got;
    upstreamGone.get(upstream)?.();
    waiting.delete(upstream);
    if (upstream.readyState !== WebSocket.OPEN) {
      // The holding node went away between its answer and this node's.
      refuse(client, 'unavailable');
      return true;
    }
    const pair = { client, upstream };
    pairs.add(pair);
    // Each hop has its own heartbeat: a dead one is terminated (1006), and its close ends the other hop (closeOther).
    keepAlive(client, pingIntervalMs);
    keepAlive(upstream, pingIntervalMs);
    client.on('message', (data, isBinary) => forward(client, upstream, data, isBinary));
    upstream.on('message', (data, isBinary) => forward(upstream, client, data, isBinary));
    client.on('close', (code, reason) => {
      pairs.delete(pair);
      closeOther(upstream, code, reason);
    });
    upstream.on('close', (code, reason) => closeOther(client, code, reason));
    upstream.resume();
    return true;
  }

  return {
    trust: createRelayTrust(signer),
    locate,
    take,
    get open() {
      return pairs.size;
    },
    close() {
      for (const upstream of waiting) upstream.terminate();
      waiting.clear();
      for (const { client, upstream } of pairs) {
        upstream.terminate();
        client.terminate();
      }
      pairs.clear();
    },
  };
}

/** Sends one message to the other side; stops reading this side while the other side's queue is long. */
function forward(from: WebSocket, to: WebSocket, data: WebSocket.RawData, isBinary: boolean): void {
  if (to.readyState !== WebSocket.OPEN) return;
  to.send(data, { binary: isBinary }, () => {
    if (from.isPaused && to.bufferedAmount <= LOW_WATER && from.readyState === WebSocket.OPEN) from.resume();
  });
  if (to.bufferedAmount > HIGH_WATER && !from.isPaused) from.pause();
}

/** Close codes a peer may send (RFC 6455 7.4; 1005 and 1006 are only ever reported, never sent). */
function isSendable(code: number): boolean {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
}

function closeOther(ws: WebSocket, code: number, reason: Buffer): void {
  if (ws.readyState === WebSocket.CLOSING || ws.readyState === WebSocket.CLOSED) return;
  if (ws.readyState === WebSocket.CONNECTING || code === 1006) return ws.terminate();
  if (isSendable(code)) ws.close(code, reason);
  else ws.close();
}

function refuse(client: WebSocket, code: LiveErrorCode): void {
  if (client.readyState !== WebSocket.OPEN) return;
  // Read again, so the viewer's answer to the close is heard.
  if (client.isPaused) client.resume();
  client.send(JSON.stringify(errorMessage(code)));
  client.close(code === 'not_found' ? CLOSE.notFound : CLOSE.unavailable, code === 'not_found' ? 'not found' : 'unavailable');
}
