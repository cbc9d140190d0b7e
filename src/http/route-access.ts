import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../core/index.js';
import type { Access, Permission } from '../access/index.js';
import type { AuditTrail } from '../audit/index.js';
import type { Principal } from '../identity/index.js';
import { isMcpPath, routePath, type ApiRateLimit } from './api-rate-limit.js';
import type { Authenticator } from './authenticate.js';
import { isSafeMethod, type CsrfGuard, type CsrfProblem } from './csrf.js';
import { contextOf } from './request-context.js';

/**
 * Who may call a route. Every route declares one in `config.access`; a route
 * without it stops the server from starting.
 */
export type RouteAccess =
  | { kind: 'public' }
  | { kind: 'authenticated' }
  | { kind: 'permission'; permission: Permission };

declare module 'fastify' {
  interface FastifyContextConfig {
    access?: RouteAccess;
  }
}

export interface RouteAccessDeps {
  authenticator: Authenticator;
  csrf: CsrfGuard;
  access: Access;
  trail: AuditTrail;
  rateLimit: ApiRateLimit;
}

const KINDS = new Set(['public', 'authenticated', 'permission']);

/**
 * Installs the route access convention on `app` (before any route is added):
 * an onRoute check that every route declares `config.access`, and one
 * onRequest step list that runs before body parsing and validation, so an
 * anonymous caller learns nothing about a route's rules:
 * rate limit by IP, same-origin check, identify, CSRF token, rate limit by
 * caller, token scope, permission.
 */
export function registerRouteAccess(app: FastifyInstance, deps: RouteAccessDeps): void {
  app.decorateRequest('principal', null);
  app.decorateRequest('sessionCsrfToken', null);

  app.addHook('onRoute', (route) => {
    const access = route.config?.access;
    if (!access || !KINDS.has(access.kind) || (access.kind === 'permission' && typeof access.permission !== 'string')) {
      const methods = Array.isArray(route.method) ? route.method.join(',') : route.method;
      throw new Error(`route ${methods} ${route.url} declares no valid config.access (public, authenticated or permission); every route must`);
    }
  });

  app.addHook('onRequest', async (request, reply) => {
    const access = request.routeOptions.config.access;
    if (!access) {
      // Only the 404 handler and the CORS preflight route (added before this hook, answered by @fastify/cors) get here.
      if (request.routeOptions.url === undefined || request.method === 'OPTIONS') return;
      throw new AppError('not_found');
    }
    await guard(deps, access, request, reply);
  });
}

async function guard(deps: RouteAccessDeps, access: RouteAccess, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const limited = deps.rateLimit.applies(request);
  if (limited) await deps.rateLimit.checkIp(request);

  const bearer = deps.authenticator.hasBearer(request);
  const unsafe = !isSafeMethod(request.method);
  // Bearer requests are exempt: a browser never attaches a token by itself. Everything else is checked, signed in or not
  // (a forged sign-in would log the victim into the attacker's account).
  if (unsafe && !bearer) {
    const problem = deps.csrf.checkOrigin(request);
    if (problem) await refuseCsrf(deps.trail, request, null, problem);
  }

  const required = access.kind !== 'public';
  const identified = await deps.authenticator.identify(request, reply, required);
  let principal: Principal | null = identified?.principal ?? null;
  if (identified?.via === 'cookie' && unsafe) {
    const problem = deps.csrf.checkToken(request, identified.csrfToken ?? '');
    if (problem) {
      // On a public route the caller just counts as anonymous; elsewhere the request is refused.
      if (required) await refuseCsrf(deps.trail, request, principal, problem);
      principal = null;
    }
  }
  request.principal = principal;
  request.sessionCsrfToken = principal && identified?.via === 'cookie' ? identified.currentCsrfToken : null;
  if (!principal) return;

  if (limited) await deps.rateLimit.checkPrincipal(principal);
  if (!required) return;
  await checkScope(deps, request, principal);
  if (access.kind === 'permission') await deps.access.authorize(principal, access.permission, contextOf(request));
}

/** Token scopes: `mcp` for /mcp; `api:read` to read and `api:write` to change on /api. No scopes (sessions, CLI): no limit. */
async function checkScope(deps: RouteAccessDeps, request: FastifyRequest, principal: Principal): Promise<void> {
  if (principal.via !== 'api_token' || principal.scopes === undefined) return;
  const needed = isMcpPath(routePath(request)) ? 'mcp' : isSafeMethod(request.method) ? 'api:read' : 'api:write';
  if (principal.scopes.includes(needed)) return;
  await deps.trail.record({
    actor: { kind: principal.kind, id: principal.id, name: principal.name },
    action: 'auth.denied',
    outcome: 'denied',
    details: { scope: needed, method: request.method, route: request.routeOptions.url ?? null },
    ...contextOf(request),
  });
  throw new AppError('insufficient_scope');
}

/**
 * Records `auth.csrf.failed` and refuses with `csrf_failed` (no record, no answer: the record comes first).
 * The one refusal of every cookie request from the wrong place, plain or WebSocket upgrade (live-view/origin.ts).
 */
export async function refuseCsrf(
  trail: AuditTrail,
  request: FastifyRequest,
  principal: Principal | null,
  reason: CsrfProblem | 'missing_origin',
  extra: Record<string, unknown> = {},
): Promise<never> {
  await trail.record({
    actor: principal ? { kind: principal.kind, id: principal.id, name: principal.name } : { kind: 'user', id: 'anonymous' },
    action: 'auth.csrf.failed',
    outcome: 'denied',
    // The route pattern, not the URL: a query string could carry anything.
    details: { reason, method: request.method, route: request.routeOptions.url ?? null, ...extra },
    ...contextOf(request),
  });
  throw new AppError('csrf_failed');
}
