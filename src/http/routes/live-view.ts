import type { FastifyInstance } from 'fastify';
import type { AuditTrail } from '../../audit/index.js';
import { AppError } from '../../core/index.js';
import type { Principal, WebSessions } from '../../identity/index.js';
import { runLiveConnection } from '../live-view/connection.js';
import { createUpgradeOriginCheck } from '../live-view/origin.js';
import type { LiveViewRelay } from '../live-view/relay.js';
import { createViewerSlots } from '../live-view/viewer-slots.js';
import { createWatcherRoster } from '../live-view/watchers.js';
import type { LiveSessions } from '../live-view/ports.js';
import { contextOf } from '../request-context.js';
import { serveWebFolder } from '../static-files.js';

export interface LiveViewRouteDeps {
  /** Absent when this server runs no browser sessions: then no id exists. */
  sessions: LiveSessions | undefined;
  trail: AuditTrail;
  publicUrl?: string | undefined;
  corsOrigins: readonly string[];
  /** Several nodes: a view of a session held by another node is relayed there (live-view/relay.ts); absent: served here only. */
  relay?: LiveViewRelay | undefined;
  /** How often each viewer is pinged (WEBASSET_LIVE_VIEW_PING_SECONDS); unset: live-view/heartbeat.ts's default. */
  pingIntervalMs?: number | undefined;
  /** Web sessions, read by id (never through the cookie, which a read would rotate): each access check uses the viewer as they are now. */
  webSessions?: Pick<WebSessions, 'current'> | undefined;
}

const NO_SESSIONS: LiveSessions = {
  get: () => Promise.reject(new AppError('not_found')),
  attach: () => Promise.reject(new AppError('not_found')),
};

const sessionParams = {
  type: 'object',
  properties: { id: { type: 'string', minLength: 1, maxLength: 128 } },
  required: ['id'],
  additionalProperties: false,
} as const;

/**
 * The live view of a browser session: `GET /api/sessions/:id/live`
 * (WebSocket; wire format in live-view/messages.ts) and the minimal viewer
 * page `GET /sessions/:id/view` with its script and style sheet. Requires
 * registerWebSockets() on the root instance.
 */
export async function liveViewRoutes(app: FastifyInstance, deps: LiveViewRouteDeps): Promise<void> {
  const checkOrigin = createUpgradeOriginCheck({ publicUrl: deps.publicUrl, corsOrigins: deps.corsOrigins, trail: deps.trail });
  const slots = createViewerSlots();
  const roster = createWatcherRoster();
  // The minimal viewer: web/viewer/, its script and style sheet public at /viewer/*.
  const page = await serveWebFolder(app, { folder: 'viewer', page: 'viewer.html', assets: ['viewer.js', 'viewer.css', 'letterbox.js'] });

  app.route<{ Params: { id: string } }>({
    method: 'GET',
    url: '/api/sessions/:id/live',
    // The handshake's answer is written by ws, not by Fastify: a rotated session cookie would be lost, and the old one dead.
    config: { access: { kind: 'authenticated' }, sessionRotation: false },
    schema: { params: sessionParams },
    // Route hooks run after the global ones: the caller is identified by now, so a refusal is audited with their name.
    onRequest: async (request) => {
      if (request.ws) await checkOrigin(request);
    },
    // After the Origin check and authentication, so an anonymous or cross-site caller never makes this node call a peer.
    preHandler: async (request) => {
      if (deps.relay) await deps.relay.locate(request);
    },
    handler: async () => {
      throw new AppError('invalid_request', { publicMessage: 'This address is a WebSocket endpoint; open it with a WebSocket upgrade.' });
    },
    wsHandler: (socket, request) => {
      if (deps.relay?.take(socket, request)) return;
      const principal = request.principal!;
      runLiveConnection({
        socket,
        sessions: deps.sessions ?? NO_SESSIONS,
        // Authenticated routes always have a principal (route-access.ts refuses otherwise).
        principal,
        ...viewerLookup(principal, deps.webSessions),
        sessionId: request.params.id,
        context: contextOf(request),
        log: request.log,
        slots,
        roster,
        ...(deps.pingIntervalMs ? { pingIntervalMs: deps.pingIntervalMs } : {}),
      });
    },
  });

  if (deps.relay) app.addHook('onClose', async () => deps.relay!.close());

  app.get('/sessions/:id/view', { config: { access: { kind: 'authenticated' } }, schema: { params: sessionParams } }, async (_request, reply) =>
    reply.type('text/html; charset=utf-8').send(page),
  );
}

/**
 * A viewer signed in with a web session is checked as that session says now: refreshed groups and roles, and null once
 * it has ended, which closes the view. A bearer-token viewer has no session to follow; it keeps the principal of the upgrade.
 */
function viewerLookup(principal: Principal, webSessions: Pick<WebSessions, 'current'> | undefined): { currentViewer?: (active: boolean) => Promise<Principal | null> } {
  const sessionId = principal.sessionId;
  if (principal.via !== 'session' || sessionId === undefined || !webSessions) return {};
  return { currentViewer: (active) => webSessions.current(sessionId, { active }) };
}
