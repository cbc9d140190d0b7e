import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/** An incoming request id is kept only if it is short and plain, so it cannot inject into logs. */
const SAFE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;

/** The id of a request: the caller's X-Request-Id when it is safe to repeat, else a new UUID. */
export function requestIdOf(req: IncomingMessage): string {
  const incoming = req.headers['x-request-id'];
  return typeof incoming === 'string' && SAFE_REQUEST_ID.test(incoming) ? incoming : randomUUID();
}
