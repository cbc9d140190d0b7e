import cors from '@fastify/cors';
import helmet from '@fastify/helmet';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { CSRF_HEADER } from './csrf.js';

/** One year, as the HSTS preload list asks; sent only over TLS, where browsers heed it. */
export const HSTS = 'max-age=31536000; includeSubDomains';

/**
 * Response headers of every answer: a strict Content-Security-Policy (no
 * inline script or style, no framing), no MIME sniffing, no referrer,
 * isolated browsing context; HSTS only when the request came over TLS; and
 * CORS closed unless origins are allowlisted. Register before the routes.
 */
export async function registerSecurityHeaders(
  app: FastifyInstance,
  options: { corsOrigins: readonly string[]; isSecure: (request: FastifyRequest) => boolean },
): Promise<void> {
  await app.register(helmet, {
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", 'data:'],
        fontSrc: ["'self'"],
        connectSrc: ["'self'"],
        objectSrc: ["'none'"],
        baseUri: ["'none'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
      },
    },
    // Helmet would send it on plain HTTP too; see the hook below.
    strictTransportSecurity: false,
    referrerPolicy: { policy: 'no-referrer' },
    crossOriginOpenerPolicy: { policy: 'same-origin' },
    crossOriginResourcePolicy: { policy: 'same-origin' },
    frameguard: { action: 'deny' },
  });
  app.addHook('onRequest', async (request, reply) => {
    if (options.isSecure(request)) void reply.header('strict-transport-security', HSTS);
  });

  if (options.corsOrigins.length === 0) return; // Closed: no Access-Control-* header is ever sent.
  const allowed = new Set(options.corsOrigins);
  await app.register(cors, {
    // Exact match only; anything else gets no CORS headers, so the browser withholds the response.
    origin: (origin, callback) => callback(null, origin !== undefined && allowed.has(origin)),
    credentials: true,
    methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
    allowedHeaders: ['authorization', 'content-type', CSRF_HEADER, 'x-request-id'],
    exposedHeaders: ['x-request-id', 'retry-after'],
    maxAge: 600,
  });
}
