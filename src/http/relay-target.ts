import type { FastifyRequest } from 'fastify';
import type { NodeRegistry } from '../cluster/index.js';
import type { Principal } from '../identity/index.js';
import { isRelayed, type RelaySigner } from './live-view/relay-signature.js';

/** Where a session lives, as the database says (sessions/ provides it; visibility checked as for the live view). */
export interface SessionLocator {
  get(id: string, principal: Principal): Promise<{ nodeId: string; state: string }>;
}

/** Another live node holding a session, and its internal address from the node registry (never from the request). */
export interface RelayTarget {
  nodeId: string;
  url: string;
}

export interface HolderLookupDeps {
  /** This node's id: a session held here is never relayed. */
  nodeId: string;
  /** Where the other nodes answer (cluster/node-registry.ts): the only source of a relay's target. */
  registry: Pick<NodeRegistry, 'lookup'>;
  sessions: SessionLocator;
  logger: { warn(details: object, message: string): void };
}

/** What both relays (the live view's and the HTTP session routes') are made from. */
export interface RelayDeps extends HolderLookupDeps {
  /** WEBASSET_CLUSTER_KEY (base64, 32 bytes). */
  clusterKey: string;
  logger: { warn(details: object, message: string): void; debug(details: object, message: string): void };
}

/**
 * The node to relay a request about session `id` to, shared by the live-view relay and the HTTP
 * session relay: only for an identified caller who may see the session, only for a request that
 * was not relayed already, only when another node holds it live and is announced in the registry.
 * Anything else (not found, not theirs, ended, held here, database or registry away): undefined,
 * and the route answers as it always did.
 */
export function createHolderLookup(deps: HolderLookupDeps): (request: FastifyRequest, id: string) => Promise<RelayTarget | undefined> {
  return async (request, id) => {
    if (!request.principal || isRelayed(request)) return undefined;
    let record: { nodeId: string; state: string };
    try {
      record = await deps.sessions.get(id, request.principal);
    } catch {
      return undefined;
    }
    if (record.state === 'ended' || record.nodeId === deps.nodeId) return undefined;
    const url = await deps.registry.lookup(record.nodeId).catch((error: unknown) => {
      deps.logger.warn({ err: error }, 'relay: the node registry could not be read');
      return undefined;
    });
    return url ? { nodeId: record.nodeId, url } : undefined;
  };
}

/**
 * The headers of a relayed request: the signed X-Forwarded-For/-Proto/-Host (the client as this
 * node determined it), the caller's Origin, and the caller's own headers named in `names`
 * (credentials, CSRF token, content type), so the holding node authenticates and authorizes
 * the caller itself. Nothing else of the request is passed on.
 */
export function relayHeaders(signer: RelaySigner, request: FastifyRequest, fromNode: string, method: string, path: string, names: readonly string[]): Record<string, string> {
  const origin = typeof request.headers.origin === 'string' ? request.headers.origin : undefined;
  const facts = { ip: request.ip, proto: request.protocol === 'https' ? ('https' as const) : ('http' as const), host: request.host };
  const headers: Record<string, string> = { ...signer.headers(method, path, origin ?? '', facts, fromNode) };
  if (origin !== undefined) headers.origin = origin;
  for (const name of names) {
    const value = request.headers[name];
    if (typeof value === 'string') headers[name] = value;
  }
  return headers;
}
