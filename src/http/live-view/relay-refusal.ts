import { AppError, ERROR_CODES, type ErrorCode } from '../../core/index.js';

/** Longest refusal body read from the holding node (ours is a one-line JSON error). */
export const MAX_REFUSAL_BODY_BYTES = 4096;
const MAX_MESSAGE_CHARS = 500;

/**
 * What the viewer of a relayed live view gets when the holding node refused the relayed handshake
 * with `status` and `body`, so that it gets what a direct upgrade gets:
 * - a client error the holding node answered with one of our error codes (`401 unauthenticated`
 *   for a sign-in that expired or was revoked meanwhile, `403 csrf_failed`, `429 rate_limited`,
 *   ...): the same error, thrown before this node's upgrade, so the same HTTP answer;
 * - a 401/403/429 without a body we know: the catalog's error of that status;
 * - anything else (5xx: stopping, overloaded; a body that is not ours): `unavailable` after the
 *   upgrade (4503, the web UI tries again), and a 404 `not_found` (4404), as before.
 * Only a known code with its own status, a short printable public message (the holding node's own,
 * such as "The session has ended; sign in again.") and a rate limit's wait cross; nothing else of
 * the answer is passed on.
 */
export function relayedRefusal(status: number | null, body: string): AppError | 'not_found' | 'unavailable' {
  const known = knownError(status, body);
  if (known) return known;
  if (status === 401) return new AppError('unauthenticated');
  if (status === 403) return new AppError('forbidden');
  if (status === 429) return new AppError('rate_limited');
  return status === 404 ? 'not_found' : 'unavailable';
}

function knownError(status: number | null, body: string): AppError | null {
  if (status === null || status < 400 || status > 499) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return null;
  }
  const error = (parsed as { error?: { code?: unknown; message?: unknown; details?: unknown } } | null)?.error;
  const code = error?.code;
  if (typeof code !== 'string' || !Object.hasOwn(ERROR_CODES, code)) return null;
  const entry = ERROR_CODES[code as ErrorCode];
  // A code that does not go with the status is not an answer of ours.
  if (entry.status !== status) return null;
  // A 404 after an upgrade stays the live view's not_found close (as for an unknown or someone else's session).
  if (code === 'not_found') return null;
  const message = typeof error?.message === 'string' && error.message.length <= MAX_MESSAGE_CHARS && /^[\x20-\x7e]+$/.test(error.message) ? error.message : undefined;
  const retryAfter = (error?.details as { retryAfterSeconds?: unknown } | undefined)?.retryAfterSeconds;
  const data = code === 'rate_limited' && Number.isSafeInteger(retryAfter) ? { retryAfterSeconds: retryAfter } : undefined;
  return new AppError(code as ErrorCode, { ...(message ? { publicMessage: message } : {}), ...(data ? { data } : {}) });
}
