import type { FastifyRequest } from 'fastify';

/**
 * Query parameters that carry a credential or a one-time secret in a URL:
 * the OAuth callback's code and state, a logout's id_token_hint, tokens of
 * links. Their values never reach a log line; the rest of the URL does.
 */
const SECRET_QUERY_PARAMS = /^(code|state|nonce|token|id_token|id_token_hint|access_token|refresh_token|session_state|code_verifier|client_secret|ticket|bearer|api_key|apikey|password|secret)$/i;

/** The URL as logged: secret query values replaced by `[REDACTED]`. */
export function loggableUrl(url: string): string {
  const q = url.indexOf('?');
  if (q === -1) return url;
  const params = url
    .slice(q + 1)
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      const name = eq === -1 ? pair : pair.slice(0, eq);
      let decoded = name;
      try {
        decoded = decodeURIComponent(name);
      } catch {
        // an undecodable name is logged as sent, its value redacted below
        return `${name}=[REDACTED]`;
      }
      return eq !== -1 && SECRET_QUERY_PARAMS.test(decoded) ? `${name}=[REDACTED]` : pair;
    });
  return `${url.slice(0, q)}?${params.join('&')}`;
}

/** Fastify's request log view, with {@link loggableUrl}. */
export function requestLogView(request: FastifyRequest): Record<string, unknown> {
  return {
    method: request.method,
    url: loggableUrl(request.url),
    host: request.host,
    remoteAddress: request.ip,
    remotePort: request.socket?.remotePort,
  };
}
