import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Access, ForwardAuthGate, ReturnUrlPolicy } from '../access/index.js';
import { AppError } from '../core/index.js';
import type { AuditService, AuditTrail } from '../audit/index.js';
import type { ApiTokens, AuthThrottle, OidcSignIn, WebSessions } from '../identity/index.js';
import type { SharedState } from '../cluster/index.js';
import type { Enrolment, LocalSignIn, Mfa } from '../identity/index.js';
import cookie from '@fastify/cookie';
import { createApiRateLimit } from './api-rate-limit.js';
import { createAuthenticator } from './authenticate.js';
import { createCsrfGuard } from './csrf.js';
import { registerRouteAccess } from './route-access.js';
import { registerSecurityHeaders } from './security-headers.js';
import { createSessionCookies } from './session-cookie.js';
import { sessionRoutes } from './routes/session.js';
import { enrolmentRoutes } from './routes/enrolment.js';
import { signInRoutes } from './routes/sign-in.js';
import { oidcRoutes } from './routes/oidc.js';
import { requestLogView } from './request-log.js';
import { registerErrorHandling } from './errors.js';
import { auditRoutes } from './routes/audit.js';
import { adminRoutes, type AdminRouteDeps } from './routes/admin.js';
import { recordRouteTable } from './route-table.js';
import { adminTokenRoutes } from './routes/admin-tokens.js';
import { adminVaultRoutes } from './routes/admin-vault.js';
import type { Vault } from '../vault/index.js';
import { healthRoutes } from './routes/health.js';
import { forwardAuthRoutes, registerForwardAuthShedding, type ForwardAuthStats } from './routes/authz.js';
import { createProxyTrust } from './proxy-trust.js';
import { registerWebSockets } from './live-view/websocket-plugin.js';
import type { LiveSessions } from './live-view/ports.js';
import type { LiveViewRelay } from './live-view/relay.js';
import type { SessionRelay } from './session-relay.js';
import { liveViewRoutes } from './routes/live-view.js';
import { sessionsRoutes } from './routes/sessions.js';
import { sessionTransferRoutes } from './routes/session-transfers.js';
import type { BrowserSessions } from '../sessions/index.js';
import type { RecordingExporter, Recordings } from '../recording/index.js';
import { recordingRoutes } from './routes/recordings.js';
import { recordingEvidenceRoutes } from './routes/recordings-evidence.js';
import { createLoadShedder, type LoadShedOptions } from './load-shed.js';
import { createForwardAuthFastPath } from './forward-auth-fast-path.js';
import { serverWithFastPath } from './node-server.js';
import { requestIdOf } from './request-id.js';
import { authOptionsRoutes } from './routes/auth-options.js';
import { myAssetsRoutes } from './routes/my-assets.js';
import { webUiRoutes } from './routes/web-ui.js';
import { mcpRoutes } from './routes/mcp.js';
import type { McpTools } from '../mcp/index.js';

export interface HttpDeps {
  logger: Logger;
  trail: AuditTrail;
  auditService: AuditService;
  tokens: ApiTokens;
  access: Access;
  throttle: AuthThrottle;
  sessions: WebSessions;
  /** Local accounts: sign-in, enrolment links, one's own MFA (routes are added when given). */
  accounts?: { signIn: LocalSignIn; enrolment: Enrolment; mfa: Mfa } | undefined;
  /** The lockout policy of local accounts, stated by the sign-in page (GET /api/auth/options). */
  lockout?: { threshold: number; minutes: number } | undefined;
  /** The built web UI; default web/app/dist (routes/web-ui.ts). */
  webUiDir?: URL | undefined;
  /** /api/admin: users, groups, memberships, assets, permissions (routes are added when given). */
  admin?: AdminRouteDeps | undefined;
  /** Rate-limit counters (in-process or Redis). */
  state: SharedState;
  /** /api/admin/vault: write-only credential administration (routes are added when given). */
  vault?: Vault | undefined;
  /** WEBASSET_PUBLIC_URL: https there makes the session cookie Secure (`__Host-webasset`). */
  publicUrl?: string | undefined;
  /** Origins allowed by CORS (and by the same-origin check); empty: closed. */
  corsOrigins?: readonly string[];
  /** Requests per minute to /api and /mcp, per client IP and per caller. */
  apiRateLimit: number;
  /** For sessions from OIDC: the provider's logout URL (RP-initiated logout); set by the OIDC wiring. */
  /** Single sign-on; null or absent when OIDC_ISSUER is unset (its routes then answer sso_not_configured). */
  oidc?: OidcSignIn | null;
  oidcLogoutUrl?: (oidc: { idTokenHint?: string | undefined; sid?: string | undefined }) => Promise<string | null>;
  /** Proxies whose X-Forwarded-For is believed; empty: the direct peer is the client. */
  trustedProxies: readonly string[];
  ping(): Promise<void>;
  pingState(): Promise<void>;
  isShuttingDown(): boolean;
  /** Browser sessions as the live view sees them (sessions/ provides them); absent: every live view id is not found. */
  liveSessions?: LiveSessions | undefined;
  /** Several nodes (WEBASSET_CLUSTER_KEY with Redis): live views of sessions held by other nodes are relayed there. */
  liveViewRelay?: LiveViewRelay | undefined;
  /** How often live views are pinged (WEBASSET_LIVE_VIEW_PING_SECONDS); unset: live-view/heartbeat.ts's default. */
  liveViewPingMs?: number | undefined;
  /** Several nodes: downloads, uploads and MCP tool calls about sessions held by other nodes are served there. */
  sessionRelay?: SessionRelay | undefined;
  /** /api/sessions: governed browser sessions (routes are added when given). */
  browserSessions?: BrowserSessions | undefined;
  /** /api/recordings and the replay page /recordings/:id/replay (routes are added when given). */
  recordings?: Recordings | undefined;
  /** Video downloads of recordings (GET /api/recordings/:id/export): the process's one exporter and a folder for its files. */
  recordingExport?: { exporter: RecordingExporter; dir: string } | undefined;
  /** The MCP endpoint /mcp and its protected-resource metadata (routes are added when given). */
  mcp?: { tools: McpTools; allowedOrigins: readonly string[]; version: string } | undefined;
  /** Largest accepted request body. */
  bodyLimit?: number;
  /** GET /authz (ForwardAuth): host rules, return-URL allowlist, sign-in URL, counters, load shedding. */
  forwardAuth: {
    gate: ForwardAuthGate;
    returnUrls: ReturnUrlPolicy;
    signInUrl: string | undefined;
    stats: ForwardAuthStats;
    shedding: LoadShedOptions;
    /** false: every check goes through Fastify (the fast path's equivalence test compares both). Default on. */
    fastPath?: boolean;
  };
}

/** Builds the HTTP server; the caller listens and closes it. Nothing starts on import. */
export async function createHttpServer(deps: HttpDeps): Promise<FastifyInstance> {
  // Widened so the instance has Fastify's default logger type, which plugins expect.
  // Request lines are logged without secret query values (an OAuth callback's code, a logout's id_token_hint).
  const isTrustedProxy = createProxyTrust(deps.trustedProxies);
  const loggerInstance: FastifyBaseLogger = deps.logger.child({}, { serializers: { req: requestLogView } });
  const shedder = createLoadShedder(deps.forwardAuth.shedding);
  const cookies = createSessionCookies({ publicUrl: deps.publicUrl });
  const fastPath =
    deps.forwardAuth.fastPath === false
      ? null
      : createForwardAuthFastPath({
          gate: deps.forwardAuth.gate,
          sessions: deps.sessions,
          isTrustedProxy,
          cookies,
          stats: deps.forwardAuth.stats,
          shedder,
          isShuttingDown: () => deps.isShuttingDown(),
          logger: deps.logger,
        });
  const app = Fastify({
    ...(fastPath ? { serverFactory: serverWithFastPath(fastPath) } : {}),
    loggerInstance,
    bodyLimit: deps.bodyLimit ?? 1024 * 1024,
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    requestIdHeader: false,
    genReqId: requestIdOf,
    // Only idle keep-alive sockets are cut at close; in-flight requests finish.
    forceCloseConnections: 'idle',
    // Our own hook answers during shutdown, so the body has the usual error shape.
    return503OnClosing: false,
    // Never `true`: a client could then name any address it likes in X-Forwarded-For.
    // The same ranges as X-Forwarded-Uri/-Method (proxy-trust.ts), answered from memory after the first request of a peer.
    trustProxy: deps.trustedProxies.length > 0 ? (address: string) => isTrustedProxy(address) : false,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: true, allErrors: true } },
  });
  // First: WebSocket upgrades then run every hook below, and a refused upgrade's socket is closed (live-view/websocket-plugin.ts).
  await registerWebSockets(app);
  // Before every hook that records or counts a client: a request another node relayed, signed, keeps its client's address.
  const relay = deps.liveViewRelay;
  if (relay) app.addHook('onRequest', (request) => relay.trust(request));
  app.addHook('onRequest', async (request, reply) => {
    void reply.header('x-request-id', request.id);
    void reply.header('cache-control', 'no-store');
    if (deps.isShuttingDown()) {
      void reply.header('connection', 'close');
      throw new AppError('shutting_down');
    }
  });
  registerErrorHandling(app);
  recordRouteTable(app);
  await app.register(cookie);
  await registerSecurityHeaders(app, { corsOrigins: deps.corsOrigins ?? [], isSecure: (request) => cookies.isSecure(request) });
  // Before the route-access guard, so that a shed /authz check costs no session lookup.
  registerForwardAuthShedding(app, { shedder, stats: deps.forwardAuth.stats });
  // From here on every route must declare config.access (route-access.ts).
  registerRouteAccess(app, {
    authenticator: createAuthenticator({ tokens: deps.tokens, sessions: deps.sessions, trail: deps.trail, throttle: deps.throttle, cookies }),
    csrf: createCsrfGuard({ publicUrl: deps.publicUrl, trustedOrigins: deps.corsOrigins ?? [] }),
    access: deps.access,
    trail: deps.trail,
    rateLimit: createApiRateLimit({ state: deps.state, perMinute: deps.apiRateLimit }),
  });
  await app.register(healthRoutes, { ping: () => deps.ping(), pingState: () => deps.pingState(), trail: deps.trail, isShuttingDown: () => deps.isShuttingDown() });
  await app.register(auditRoutes, { service: deps.auditService, trail: deps.trail });
  await app.register(oidcRoutes, { oidc: deps.oidc ?? null, cookies, sessions: deps.sessions });
  await app.register(sessionRoutes, { sessions: deps.sessions, cookies, oidcLogoutUrl: deps.oidcLogoutUrl });
  if (deps.accounts) {
    await app.register(signInRoutes, { signIn: deps.accounts.signIn, cookies, sessions: deps.sessions });
    await app.register(enrolmentRoutes, { enrolment: deps.accounts.enrolment, mfa: deps.accounts.mfa, signIn: deps.accounts.signIn, throttle: deps.throttle });
  }
  if (deps.admin) await app.register(adminRoutes, deps.admin);
  await app.register(adminTokenRoutes, { tokens: deps.tokens });
  if (deps.vault) await app.register(adminVaultRoutes, { vault: deps.vault });
  if (deps.browserSessions) {
    await app.register(sessionsRoutes, { sessions: deps.browserSessions, assets: deps.admin?.assets });
    await app.register(sessionTransferRoutes, { sessions: deps.browserSessions, relay: deps.sessionRelay });
  }
  if (deps.recordings) {
    await app.register(recordingRoutes, { recordings: deps.recordings, access: deps.access, trail: deps.trail, state: deps.state, videoExport: deps.recordingExport });
    if (deps.recordingExport) {
      const evidence = { recordings: deps.recordings, access: deps.access, trail: deps.trail, audit: deps.auditService.evidence, dir: deps.recordingExport.dir };
      await app.register(recordingEvidenceRoutes, evidence);
    }
  }
  if (deps.mcp) await app.register(mcpRoutes, { ...deps.mcp, trail: deps.trail, publicUrl: deps.publicUrl, relay: deps.sessionRelay });
  if (deps.sessionRelay) app.addHook('onClose', async () => deps.sessionRelay!.close());
  await app.register(liveViewRoutes, { sessions: deps.liveSessions, trail: deps.trail, publicUrl: deps.publicUrl, corsOrigins: deps.corsOrigins ?? [], relay: deps.liveViewRelay, pingIntervalMs: deps.liveViewPingMs, webSessions: deps.sessions });
  await app.register(authOptionsRoutes, { localAccounts: deps.accounts !== undefined, sso: Boolean(deps.oidc), lockout: deps.lockout ?? null });
  await app.register(myAssetsRoutes, { access: deps.access });
  await app.register(webUiRoutes, { dir: deps.webUiDir });
  await app.register(forwardAuthRoutes, {
    gate: deps.forwardAuth.gate,
    returnUrls: deps.forwardAuth.returnUrls,
    signInUrl: deps.forwardAuth.signInUrl,
    isTrustedProxy,
    stats: deps.forwardAuth.stats,
  });
  return app;
}
