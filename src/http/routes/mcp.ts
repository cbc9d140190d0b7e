import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AuditTrail } from '../../audit/index.js';
import { AppError } from '../../core/index.js';
import { createMcpProtocol, toolErrorResult, type McpTools } from '../../mcp/index.js';
import { contextOf } from '../request-context.js';
import type { RouteAccess } from '../route-access.js';
import type { SessionRelay } from '../session-relay.js';
import { UUID_PATTERN } from './admin-common.js';

export interface McpRouteDeps {
  tools: McpTools;
  trail: AuditTrail;
  /** WEBASSET_PUBLIC_URL: the resource's identifier and the one browser origin always allowed. */
  publicUrl: string | undefined;
  /** WEBASSET_MCP_ALLOWED_ORIGINS. */
  allowedOrigins: readonly string[];
  version: string;
  /** Several nodes: a tool call on a session another node holds is answered by that node (session-relay.ts); absent: here only. */
  relay?: SessionRelay | undefined;
}

/** Where the protected-resource metadata of /mcp is published (RFC 9728, section 3.1: the resource's path after the well-known name). */
const METADATA_PREFIX = '/.well-known/oauth-protected-resource';
export const MCP_METADATA_PATH = `${METADATA_PREFIX}/mcp`;
/** host[:port], a name or an IPv4 or bracketed IPv6 address: nothing that could end a quoted header parameter. */
const AUTHORITY = /^(?:[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.?|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

const authenticated: { access: RouteAccess } = { access: { kind: 'authenticated' } };
const publicRoute: { access: RouteAccess } = { access: { kind: 'public' } };
/** Query parameters that would carry a token in a URL, where logs and proxies keep it: refused, never read. */
const QUERY_TOKEN = /^(access_token|token|bearer|api_key|apikey)$/i;
const UUID = new RegExp(UUID_PATTERN);
/** What the holding node's /mcp needs of the caller's request besides Origin and the signed X-Forwarded-* (the token above all). */
const PASSED_ON = ['authorization', 'user-agent', 'content-type', 'accept', 'mcp-protocol-version'] as const;

const metadataSchema = {
  type: 'object',
  properties: {
    resource: { type: 'string' },
    resource_name: { type: 'string' },
    bearer_methods_supported: { type: 'array', items: { type: 'string' } },
    scopes_supported: { type: 'array', items: { type: 'string' } },
  },
} as const;

/**
 * The MCP endpoint (Streamable HTTP, stateless: one protocol server per
 * request, so an MCP session id never stands for anyone) and its protected-
 * resource metadata. The route guard has identified the caller and checked
 * the `mcp` scope; this plugin adds what only /mcp asks: a bearer token and
 * nothing else (not a web session, never a token in the URL), an allowed
 * Origin, and the `WWW-Authenticate` pointer to the metadata on every 401.
 */
export async function mcpRoutes(app: FastifyInstance, deps: McpRouteDeps): Promise<void> {
  const { tools, trail } = deps;
  const protocol = createMcpProtocol(tools, deps.version);
  const allowedOrigins = new Set(deps.allowedOrigins);
  if (deps.publicUrl) allowedOrigins.add(new URL(deps.publicUrl).origin);
  /**
   * This server's address as clients reach it: WEBASSET_PUBLIC_URL, else the request's own (Host, or X-Forwarded-Host from a
   * trusted proxy). A Host that is not a plain authority is not echoed into a header or the metadata (undefined).
   */
  const baseOf = (request: FastifyRequest): string | undefined => {
    if (deps.publicUrl) return deps.publicUrl.replace(/\/+$/, '');
    return AUTHORITY.test(request.host) ? `${request.protocol}://${request.host}` : undefined;
  };

  app.addHook('onSend', async (request, reply, payload) => {
    const base = baseOf(request);
    const pointer = base === undefined ? [] : [`resource_metadata="${base}${MCP_METADATA_PATH}"`];
    const challenge = (params: string[]) => `Bearer ${params.join(', ')}`.trimEnd();
    if (reply.statusCode === 401) void reply.header('www-authenticate', challenge(pointer));
    else if (reply.statusCode === 403 && typeof payload === 'string' && payload.includes('"insufficient_scope"')) {
      void reply.header('www-authenticate', challenge(['error="insufficient_scope"', 'scope="mcp"', ...pointer]));
    }
    // Built from the request's Host: a shared cache must neither keep it nor give it to a request for another name.
    if (!deps.publicUrl && request.routeOptions.url?.startsWith(METADATA_PREFIX)) void reply.header('cache-control', 'no-store').header('vary', 'host');
    return payload;
  });

  /** The steps only /mcp adds, in order: no token in the URL, a bearer token only, an allowed Origin. */
  const guard = async (request: FastifyRequest) => {
    await refuseQueryToken(request);
    const principal = request.principal;
    if (!principal || principal.via !== 'api_token') {
      throw new AppError('unauthenticated', { publicMessage: 'The MCP endpoint takes an agent token in the Authorization header (Bearer); a web session does not count.' });
    }
    await checkOrigin(request);
  };

  async function refuseQueryToken(request: FastifyRequest): Promise<void> {
    const query = request.query as Record<string, unknown> | undefined;
    if (!query || !Object.keys(query).some((name) => QUERY_TOKEN.test(name))) return;
    await trail.record({
      actor: request.principal ? { kind: request.principal.kind, id: request.principal.id, name: request.principal.name } : { kind: 'user', id: 'anonymous' },
      action: 'auth.token.failed',
      outcome: 'failure',
      details: { reason: 'token in the query string (never accepted)', route: request.routeOptions.url ?? null },
      ...contextOf(request),
    });
    throw new AppError('unauthenticated', { publicMessage: 'Tokens are never accepted in the URL; send it in the Authorization header (Bearer), and revoke the one you put in a URL.' });
  }

  async function checkOrigin(request: FastifyRequest): Promise<void> {
    const origin = request.headers.origin;
    // No Origin: not a browser. A browser page of another site (or a DNS-rebound name) sends its own and is refused.
    if (origin === undefined || allowedOrigins.has(origin)) return;
    const p = request.principal!;
    await trail.record({
      actor: { kind: p.kind, id: p.id, name: p.name },
      action: 'auth.denied',
      outcome: 'denied',
      details: { reason: 'origin_not_allowed', origin: origin.slice(0, 256), route: request.routeOptions.url ?? null, via: p.via },
      ...contextOf(request),
    });
    throw new AppError('forbidden', { publicMessage: 'This Origin may not call the MCP endpoint (WEBASSET_MCP_ALLOWED_ORIGINS).' });
  }

  const metadata = (request: FastifyRequest, resourcePath: string) => {
    const base = baseOf(request);
    if (base === undefined) throw new AppError('invalid_request', { publicMessage: 'The Host header is not a host name or address; set WEBASSET_PUBLIC_URL.' });
    return {
      resource: `${base}${resourcePath}`,
      resource_name: 'WebAsset Controller MCP server',
      bearer_methods_supported: ['header'],
      scopes_supported: ['mcp'],
    };
  };
  app.get(MCP_METADATA_PATH, { config: publicRoute, schema: { response: { 200: metadataSchema } } }, async (request) => metadata(request, '/mcp'));
  app.get('/.well-known/oauth-protected-resource', { config: publicRoute, schema: { response: { 200: metadataSchema } } }, async (request) => metadata(request, '/mcp'));

  /**
   * One `tools/call` (not a batch) naming a session another live node holds: the whole request goes there, same token,
   * same JSON, and its answer comes back unchanged; that node rate-limits, runs, records and audits the call.
   */
  async function relayToolCall(request: FastifyRequest, reply: FastifyReply): Promise<boolean> {
    const body = request.body as { method?: unknown; id?: unknown; params?: { arguments?: { session?: unknown } } } | null;
    if (!deps.relay || !body || typeof body !== 'object' || Array.isArray(body) || body.method !== 'tools/call') return false;
    if (typeof body.id !== 'string' && typeof body.id !== 'number') return false;
    const session = body.params?.arguments?.session;
    if (typeof session !== 'string' || !UUID.test(session)) return false;
    const target = await deps.relay.holderOf(request, session);
    if (!target) return false;
    try {
      await deps.relay.forward(request, reply, target, { method: 'POST', path: '/mcp', headers: PASSED_ON, body: { bytes: Buffer.from(JSON.stringify(body), 'utf8') } });
    } catch (error) {
      if (!(error instanceof AppError) || error.code !== 'node_unavailable') throw error;
      // As a tool error, which an agent reads, rather than a transport failure: nothing reached the session.
      void reply.type('application/json').send({ jsonrpc: '2.0', id: body.id, result: toolErrorResult(error) });
    }
    return true;
  }

  app.post('/mcp', { config: authenticated, preHandler: guard }, async (request, reply) => {
    if (await relayToolCall(request, reply)) return reply;
    const transport = new WebStandardStreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
    const server = protocol.serverFor(request.principal!, contextOf(request));
    try {
      await server.connect(transport);
      const response = await transport.handleRequest(toWebRequest(request), { parsedBody: request.body });
      return await sendWebResponse(reply, response);
    } finally {
      await server.close();
    }
  });

  // Stateless: no stream for server-initiated messages and no MCP session to end (the protocol's answer is 405).
  const notAllowed = async (_request: FastifyRequest, reply: FastifyReply) => {
    void reply.header('allow', 'POST');
    throw new AppError('method_not_allowed', { publicMessage: 'This MCP server is stateless: send JSON-RPC messages with POST.' });
  };
  app.get('/mcp', { config: authenticated, preHandler: guard }, notAllowed);
  app.delete('/mcp', { config: authenticated, preHandler: guard }, notAllowed);
}

/** The parts of the request the SDK reads (method, headers); the body goes as already parsed. */
function toWebRequest(request: FastifyRequest): Request {
  const headers = new Headers();
  for (const [name, value] of Object.entries(request.headers)) {
    // The token stays here: the protocol layer has no use for it.
    if (value === undefined || name === 'authorization' || name === 'cookie') continue;
    headers.set(name, Array.isArray(value) ? value.join(', ') : value);
  }
  return new Request(`http://mcp.invalid${request.url}`, { method: request.method, headers });
}

async function sendWebResponse(reply: FastifyReply, response: Response): Promise<FastifyReply> {
  void reply.status(response.status);
  response.headers.forEach((value, name) => {
    if (name !== 'content-length') void reply.header(name, value);
  });
  const body = await response.text();
  return reply.send(body === '' ? undefined : body);
}
