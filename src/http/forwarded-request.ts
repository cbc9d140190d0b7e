import type { IncomingMessage } from 'node:http';

/** What a reverse proxy says about the request it is asking about (GET /authz). */
export interface ForwardedRequest {
  host: string | undefined;
  proto: string;
  uri: string | undefined;
  method: string | undefined;
}

/**
 * The original request's host, scheme, URI and method. X-Forwarded-* count
 * only when the direct peer is a trusted proxy; otherwise the request's own
 * Host and scheme, and no URI or method. Host and Proto take the last entry
 * of a list, as Fastify's request.host/protocol do (the nearest proxy's
 * word), so the full route and the fast path read the same facts.
 */
export function forwardedRequest(raw: IncomingMessage, trusted: boolean): ForwardedRequest {
  const headers = raw.headers;
  const forwardedHost = trusted ? lastEntry(headers['x-forwarded-host']) : undefined;
  const forwardedProto = trusted ? lastEntry(headers['x-forwarded-proto']) : undefined;
  const encrypted = (raw.socket as { encrypted?: boolean } | null)?.encrypted === true;
  return {
    // A trusted proxy that sends an empty X-Forwarded-Host names no host (denied), rather than ours.
    host: (forwardedHost ?? headers.host) || undefined,
    proto: forwardedProto ?? (encrypted ? 'https' : 'http'),
    uri: trusted ? single(headers['x-forwarded-uri']) : undefined,
    method: trusted ? single(headers['x-forwarded-method'])?.toUpperCase() : undefined,
  };
}

/** The last entry of a comma-separated header; undefined when the header is absent or empty (as Fastify). */
function lastEntry(value: string | string[] | undefined): string | undefined {
  if (typeof value !== 'string' || value === '') return undefined;
  const comma = value.lastIndexOf(',');
  return comma === -1 ? value.trim() : value.slice(comma + 1).trim();
}

function single(value: string | string[] | undefined): string | undefined {
  return typeof value === 'string' ? value : undefined;
}
