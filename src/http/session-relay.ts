import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../core/index.js';
import { createRelaySigner, type RelaySigner } from './live-view/relay-signature.js';
import { createHolderLookup, relayHeaders, type RelayDeps, type RelayTarget } from './relay-target.js';

export interface SessionRelayDeps extends RelayDeps {
  /** Requests this node relays at once; past it the caller gets `node_unavailable`. */
  maxInFlight?: number;
  /** Longest wait for a connection to the holding node. */
  connectTimeoutMs?: number;
  /** Longest silence of the holding node (no byte either way) before the relay is cut. */
  idleTimeoutMs?: number;
}

/** What one relayed request sends: the path on the holding node (built from validated values), the caller's headers to pass on, the body. */
export interface RelayedRequest {
  method: 'GET' | 'POST' | 'DELETE';
  path: string;
  /** The caller's headers passed on, besides Origin and the signed X-Forwarded-*. */
  headers: readonly string[];
  /** The request's own body stream (an upload, unread), a body already parsed and serialized again (MCP), or none. */
  body?: { stream: Readable } | { bytes: Buffer } | undefined;
}

export interface SessionRelay {
  /** The holding node when another live, announced node holds session `id` and the caller may see it; undefined otherwise (served here). */
  holderOf(request: FastifyRequest, id: string): Promise<RelayTarget | undefined>;
  /**
   * Sends the request to `target` and its answer (status, end-to-end headers, body streamed) into `reply`; resolves once the
   * answer is being sent (then the route does nothing more); rejects `node_unavailable` when the holding node did not answer.
   */
  forward(request: FastifyRequest, reply: FastifyReply, target: RelayTarget, relayed: RelayedRequest): Promise<void>;
  /** Relayed requests under way now. */
  readonly inFlight: number;
  /** Cuts every relayed request (server close). */
  close(): void;
}

export const DEFAULT_MAX_IN_FLIGHT = 128;
/** Headers that belong to one connection, never passed on (RFC 9110 7.6.1), and ours to set. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

/**
 * Session-bound HTTP requests (downloads, uploads, MCP tool calls) served by
 * the node holding the session (decision 0029 addendum): one request to the
 * address the node registry gives, with the caller's own credentials so the
 * holding node authenticates, authorizes, limits and audits it as if it had
 * come straight there, and X-Forwarded-* under the cluster signature so its
 * records name the real client. Bodies stream both ways; a relayed request
 * is never relayed again (the holder lookup refuses it).
 */
export function createSessionRelay(deps: SessionRelayDeps): SessionRelay {
  for (const key of ['registry', 'sessions', 'logger'] as const) if (!deps[key]) throw new TypeError(`createSessionRelay: ${key} is required`);
  if (typeof deps.nodeId !== 'string' || deps.nodeId === '') throw new TypeError('createSessionRelay: nodeId is required');
  const signer: RelaySigner = createRelaySigner({ clusterKey: deps.clusterKey });
  const maxInFlight = deps.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT;
  const connectTimeout = deps.connectTimeoutMs ?? 5_000;
  const idleTimeout = deps.idleTimeoutMs ?? 60_000;
  const log = deps.logger;
  const agents = {
    'http:': new http.Agent({ keepAlive: true, maxSockets: maxInFlight }),
    'https:': new https.Agent({ keepAlive: true, maxSockets: maxInFlight }),
  };
  const open = new Set<http.ClientRequest>();
  const holderOf = createHolderLookup({ nodeId: deps.nodeId, registry: deps.registry, sessions: deps.sessions, logger: log });

  async function forward(request: FastifyRequest, reply: FastifyReply, target: RelayTarget, relayed: RelayedRequest): Promise<void> {
    if (open.size >= maxInFlight) {
      log.warn({ node: target.nodeId, inFlight: open.size }, 'session relay: as many requests relayed as allowed; refused');
      throw new AppError('node_unavailable');
    }
    const url = new URL(relayed.path, target.url);
    const headers = relayHeaders(signer, request, deps.nodeId, relayed.method, relayed.path, relayed.headers);
    if (relayed.body && 'bytes' in relayed.body) headers['content-length'] = String(relayed.body.bytes.length);
    const upstreamRes = await send(url, relayed, headers, target, reply);
    void reply.status(upstreamRes.statusCode ?? 502);
    const named = new Set((String(upstreamRes.headers.connection ?? '')).toLowerCase().split(',').map((n) => n.trim()));
    for (const [name, value] of Object.entries(upstreamRes.headers)) {
      if (value === undefined || HOP_BY_HOP.has(name) || named.has(name)) continue;
      void reply.header(name, value);
    }
    if (request.method === 'HEAD' || upstreamRes.statusCode === 204 || upstreamRes.statusCode === 304) {
      upstreamRes.resume();
      void reply.send();
      return;
    }
    // Not awaited: a reply is thenable, and settles only once the whole answer went out.
    void reply.send(upstreamRes);
  }

  function send(url: URL, relayed: RelayedRequest, headers: Record<string, string>, target: RelayTarget, reply: FastifyReply): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      const client = url.protocol === 'https:' ? https : http;
      const upstream = client.request(url, { method: relayed.method, headers, agent: agents[url.protocol as 'http:' | 'https:'], timeout: idleTimeout });
      open.add(upstream);
      // The caller went away (before or during the answer): the relayed request goes too.
      const callerGone = () => {
        if (!reply.raw.writableFinished) upstream.destroy(new Error('caller gone'));
      };
      reply.raw.once('close', callerGone);
      upstream.once('close', () => reply.raw.off('close', callerGone));
      let answered = false;
      let connectTimer: NodeJS.Timeout | undefined;
      const fail = (why: string, error?: unknown) => {
        clearTimeout(connectTimer);
        if (answered) return;
        answered = true;
        log.warn({ node: target.nodeId, err: error, why }, 'session relay: the holding node did not answer');
        reject(new AppError('node_unavailable', { cause: error }));
      };
      upstream.on('socket', (socket) => {
        if (!socket.connecting) return;
        connectTimer = setTimeout(() => upstream.destroy(new Error('connect timeout')), connectTimeout);
        socket.once('connect', () => clearTimeout(connectTimer));
      });
      upstream.on('timeout', () => upstream.destroy(new Error('idle timeout')));
      upstream.on('error', (error) => fail('request failed', error));
      upstream.on('close', () => {
        open.delete(upstream);
        fail('closed before an answer');
      });
      upstream.on('response', (res) => {
        clearTimeout(connectTimer);
        answered = true;
        log.debug({ node: target.nodeId, status: res.statusCode }, 'session request relayed to the holding node');
        resolve(res);
      });
      const body = relayed.body;
      if (!body) upstream.end();
      else if ('bytes' in body) upstream.end(body.bytes);
      else {
        body.stream.pipe(upstream);
        // The caller's upload broke off: so does the relayed one.
        body.stream.once('error', (error) => upstream.destroy(error));
        body.stream.once('aborted', () => upstream.destroy(new Error('caller aborted')));
      }
    });
  }

  return {
    holderOf,
    forward,
    get inFlight() {
      return open.size;
    },
    close() {
      for (const upstream of open) upstream.destroy();
      open.clear();
      agents['http:'].destroy();
      agents['https:'].destroy();
    },
  };
}
