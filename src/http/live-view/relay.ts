import type { FastifyRequest } from 'fastify';
import WebSocket from 'ws';
import type { NodeRegistry } from '../../cluster/index.js';
import { DEFAULT_PING_INTERVAL_MS, keepAlive } from './heartbeat.js';
import { CLOSE, errorMessage, type LiveErrorCode } from './messages.js';
import { createHolderLookup, relayHeaders, type RelayTarget, type SessionLocator } from '../relay-target.js';
import { createRelaySigner, createRelayTrust, type RelaySigner } from './relay-signature.js';

export type { SessionLocator } from '../relay-target.js';

export interface LiveViewRelayDeps {
  /** This node's id: a session held here is never relayed. */
  nodeId: string;
  /** Where the other nodes answer (cluster/node-registry.ts): the only source of a relay's target. */
  registry: Pick<NodeRegistry, 'lookup'>;
  /** WEBASSET_CLUSTER_KEY (base64, 32 bytes). */
  clusterKey: string;
  sessions: SessionLocator;
  logger: { warn(details: object, message: string): void; debug(details: object, message: string): void };
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
  /** preHandler of the live-view route: finds the node holding the session when it is another live node. */
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
/** Client messages held while the holding node's handshake is under way (the viewer's first resize, acks). */
const EARLY_LIMIT = 64;

/**
 * The live view of a session held by another node (decision 0020): the
 * upgrade that reached this node is relayed to the holding node, found in
 * the node registry only (never from the request), with the client's
 * Cookie (and Authorization) and Origin, so the holding node authenticates
 * and authorizes the caller itself, and with X-Forwarded-* signed by the
 * cluster key, so its audit records the real client. Messages then pass
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
  const targets = new WeakMap<FastifyRequest, RelayTarget>();
  const pairs = new Set<{ client: WebSocket; upstream: WebSocket }>();

  const holderOf = createHolderLookup({ nodeId: deps.nodeId, registry: deps.registry, sessions: deps.sessions, logger: log });

  async function locate(request: FastifyRequest<{ Params: { id: string } }>): Promise<void> {
    // A relayed request is served here or not at all (the lookup never relays one on); not found, ended, held here or unannounced: the direct path answers as before.
    if (!request.ws) return;
    const target = await holderOf(request, request.params.id);
    if (target) targets.set(request, target);
  }

  function take(client: WebSocket, request: FastifyRequest<{ Params: { id: string } }>): boolean {
    const target = targets.get(request);
    if (!target) return false;
    targets.delete(request);
    if (pairs.size >= maxRelays) {
      refuse(client, 'unavailable');
      return true;
    }
    client.pause();
    // Each hop has its own heartbeat: a dead one is terminated (1006), and its close ends the other hop (closeOther).
    keepAlive(client, pingIntervalMs);
    const path = `/api/sessions/${encodeURIComponent(request.params.id)}/live`;
    // The route's Origin check refused a handshake without an Origin.
    const headers = relayHeaders(signer, request, deps.nodeId, 'GET', path, ['cookie', 'authorization', 'user-agent']);
    const upstream = new WebSocket(`${target.url.replace(/^http/, 'ws')}${path}`, { headers, perMessageDeflate: false, handshakeTimeout, followRedirects: false });
    const pair = { client, upstream };
    pairs.add(pair);
    const early: Array<{ data: WebSocket.RawData; isBinary: boolean }> = [];
    let upstreamStatus: number | null = null;
    let upstreamOpen = false;

    upstream.on('unexpected-response', (_req, res) => {
      upstreamStatus = res.statusCode ?? null;
      res.resume();
      upstream.terminate();
    });
    upstream.on('open', () => {
      upstreamOpen = true;
      keepAlive(upstream, pingIntervalMs);
      log.debug({ node: target.nodeId }, 'live view relayed to the holding node');
      for (const { data, isBinary } of early.splice(0)) upstream.send(data, { binary: isBinary });
      if (client.readyState === WebSocket.OPEN) client.resume();
    });
    upstream.on('error', (error) => {
      if (!upstreamOpen) log.warn({ err: error, node: target.nodeId, status: upstreamStatus }, 'live view relay: the holding node did not take the view');
    });
    client.on('message', (data, isBinary) => {
      if (upstream.readyState === WebSocket.OPEN) return forward(client, upstream, data, isBinary);
      if (upstream.readyState !== WebSocket.CONNECTING) return;
      if (early.length < EARLY_LIMIT) early.push({ data, isBinary });
      else client.send(JSON.stringify(errorMessage('busy')));
    });
    upstream.on('message', (data, isBinary) => forward(upstream, client, data, isBinary));
    client.on('close', (code, reason) => {
      pairs.delete(pair);
      closeOther(upstream, code, reason);
    });
    upstream.on('close', (code, reason) => {
      if (!upstreamOpen) {
        // The holding node refused the handshake or could not be reached: the viewer gets the usual answer.
        return refuse(client, upstreamStatus === 401 || upstreamStatus === 403 || upstreamStatus === 404 ? 'not_found' : 'unavailable');
      }
      closeOther(client, code, reason);
    });
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
