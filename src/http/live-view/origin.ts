import type { FastifyRequest } from 'fastify';
import type { AuditTrail } from '../../audit/index.js';
import { createCsrfGuard } from '../csrf.js';
import { refuseCsrf } from '../route-access.js';

/**
 * Cross-site WebSocket hijacking: a browser attaches our cookie to a
 * WebSocket opened by any page, and neither CORS nor a CSRF header applies
 * to the handshake. `Origin` is the one thing the browser tells us, and it
 * always sends it on a WebSocket handshake, so here a missing Origin is
 * refused too (unlike for plain requests). Allowed: this server's own
 * origin, WEBASSET_PUBLIC_URL's, and the CORS allowlist.
 */
export function createUpgradeOriginCheck(options: { publicUrl?: string | undefined; corsOrigins: readonly string[]; trail: AuditTrail }) {
  const guard = createCsrfGuard({ publicUrl: options.publicUrl, trustedOrigins: options.corsOrigins });
  return async function checkUpgradeOrigin(request: FastifyRequest): Promise<void> {
    const origin = request.headers.origin;
    const reason = typeof origin !== 'string' || origin === '' ? 'missing_origin' : guard.checkOrigin(request);
    if (reason === null) return;
    // The refused origin is not recorded (it is the other site's to choose).
    await refuseCsrf(options.trail, request, request.principal, reason, { websocket: true });
  };
}
