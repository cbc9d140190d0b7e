import type { FastifyRequest } from 'fastify';
import type { RequestContext } from '../access/index.js';

/** The request facts every audit event carries. */
export function contextOf(request: FastifyRequest): RequestContext {
  const ua = request.headers['user-agent'];
  return { sourceIp: request.ip, userAgent: typeof ua === 'string' ? ua : undefined, requestId: request.id };
}
