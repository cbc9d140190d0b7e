import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Access } from '../access/index.js';
import { AppError } from '../core/index.js';
import type { AuditService, AuditTrail } from '../audit/index.js';
import type { ApiTokens, AuthThrottle } from '../identity/index.js';
import { createAuthenticate } from './authenticate.js';
import { registerErrorHandling } from './errors.js';
import { auditRoutes } from './routes/audit.js';
import { healthRoutes } from './routes/health.js';

export interface HttpDeps {
  logger: Logger;
  trail: AuditTrail;
  auditService: AuditService;
  tokens: ApiTokens;
  access: Access;
  throttle: AuthThrottle;
  /** Proxies whose X-Forwarded-For is believed; empty: the direct peer is the client. */
  trustedProxies: readonly string[];
  ping(): Promise<void>;
  pingState(): Promise<void>;
  isShuttingDown(): boolean;
  /** Largest accepted request body. */
  bodyLimit?: number;
}

/** An incoming request id is kept only if it is short and plain, so it cannot inject into logs. */
const SAFE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;

/** Builds the HTTP server; the caller listens and closes it. Nothing starts on import. */
export async function createHttpServer(deps: HttpDeps): Promise<FastifyInstance> {
  // Widened so the instance has Fastify's default logger type, which plugins expect.
  const loggerInstance: FastifyBaseLogger = deps.logger;
  const app = Fastify({
    loggerInstance,
    bodyLimit: deps.bodyLimit ?? 1024 * 1024,
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    requestIdHeader: false,
    genReqId: (req) => {
      const incoming = req.headers['x-request-id'];
      return typeof incoming === 'string' && SAFE_REQUEST_ID.test(incoming) ? incoming : randomUUID();
    },
    // Only idle keep-alive sockets are cut at close; in-flight requests finish.
    forceCloseConnections: 'idle',
    // Our own hook answers during shutdown, so the body has the usual error shape.
    return503OnClosing: false,
    // Never `true`: a client could then name any address it likes in X-Forwarded-For.
    trustProxy: deps.trustedProxies.length > 0 ? [...deps.trustedProxies] : false,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: true, allErrors: true } },
  });
  app.decorateRequest('principal', null);
  app.addHook('onRequest', async (request, reply) => {
    void reply.header('x-request-id', request.id);
    void reply.header('cache-control', 'no-store');
    if (deps.isShuttingDown()) {
      void reply.header('connection', 'close');
      throw new AppError('shutting_down');
    }
  });
  registerErrorHandling(app);
  const authenticate = createAuthenticate({ tokens: deps.tokens, trail: deps.trail, throttle: deps.throttle });
  await app.register(healthRoutes, { ping: () => deps.ping(), pingState: () => deps.pingState(), trail: deps.trail, isShuttingDown: () => deps.isShuttingDown() });
  await app.register(auditRoutes, { service: deps.auditService, access: deps.access, authenticate });
  return app;
}
