import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, ERROR_CODES, type ErrorCode } from '../core/index.js';
import { isConnectionError } from '../store/index.js';

const UNAVAILABLE_BY_DESIGN: ReadonlySet<ErrorCode> = new Set<ErrorCode>(['shutting_down', 'server_busy']);

/** The one body every error response has. */
export interface ErrorBody {
  error: { code: ErrorCode; message: string; requestId: string; details?: unknown };
}

/**
 * Maps every error to `{ error: { code, message, requestId } }` in one place.
 * AppErrors carry their own status and public message; Fastify's own client
 * errors (validation, body size, content type) become stable codes; anything
 * else is logged in full and answered with a generic 500.
 */
export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError | AppError, request, reply) => {
    const mapped = toAppError(error);
    // A node that is stopping or shedding load refuses by design: one line with the code, not an error with a stack per request.
    if (UNAVAILABLE_BY_DESIGN.has(mapped.code)) request.log.warn({ code: mapped.code }, 'request refused');
    else if (mapped.status >= 500) request.log.error({ err: error }, 'request failed');
    else request.log.info({ code: mapped.code }, 'request refused');
    return send(reply, request, mapped);
  });
  app.setNotFoundHandler((request, reply) => send(reply, request, new AppError('not_found')));
}

function send(reply: FastifyReply, request: FastifyRequest, error: AppError): FastifyReply {
  const body: ErrorBody = { error: { code: error.code, message: error.publicMessage, requestId: request.id } };
  if (error.data !== undefined && error.status < 500) body.error.details = error.data;
  if (error.code === 'unauthenticated') void reply.header('www-authenticate', 'Bearer realm="webasset"');
  const retryAfter = (error.data as { retryAfterSeconds?: unknown } | undefined)?.retryAfterSeconds;
  if (error.code === 'rate_limited' && typeof retryAfter === 'number') void reply.header('retry-after', String(retryAfter));
  return reply.status(error.status).type('application/json; charset=utf-8').send(body);
}

function toAppError(error: FastifyError | AppError): AppError {
  if (error instanceof AppError) return error;
  const fe = error;
  if (fe.validation) {
    const fields = fe.validation.map((v) => {
      const params: Record<string, unknown> = v.params;
      const unknown = typeof params.additionalProperty === 'string' ? params.additionalProperty : undefined;
      const missing = typeof params.missingProperty === 'string' ? params.missingProperty : undefined;
      const name = v.instancePath.replace(/^\//, '').replaceAll('/', '.') || missing || unknown;
      // ajv messages name the rule ("must be integer"), never the value sent.
      const problem = unknown ? 'unknown parameter' : (v.message ?? 'invalid');
      return { field: `${fe.validationContext ?? 'request'}${name ? `.${name}` : ''}`, problem };
    });
    return new AppError('invalid_request', { publicMessage: 'The request is invalid; see details.', data: fields });
  }
  switch (fe.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new AppError('payload_too_large');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new AppError('unsupported_media_type');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new AppError('invalid_request');
  }
  // Body parse errors (malformed JSON, prototype poisoning) are the client's mistake.
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    const code: ErrorCode = fe.statusCode === 404 ? 'not_found' : fe.statusCode === 405 ? 'method_not_allowed' : 'invalid_request';
    return new AppError(code, { publicMessage: code === 'invalid_request' ? 'The request could not be read.' : ERROR_CODES[code].message });
  }
  if (isConnectionError(error)) return new AppError('database_unavailable', { detail: fe.message, cause: error });
  return new AppError('internal', { detail: fe.message, cause: error });
}
