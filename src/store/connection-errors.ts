/** Error codes of the socket layer that mean "the database cannot be reached". */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);
/** SQLSTATEs of a server that is going away, refusing connections or out of resources (class 53). */
const UNAVAILABLE_SQLSTATES = new Set(['57P01', '57P02', '57P03']);
const MESSAGES = [/connection terminated/i, /timeout exceeded when trying to connect/i, /connection error/i, /query read timeout/i, /not queryable/i, /pool after calling end/i];

/**
 * True when an error means the database is unreachable or out of resources
 * (as opposed to a query it refused). Only such errors send audit events to the local spool;
 * any other error is a bug and must surface.
 */
export function isConnectionError(error: unknown): boolean {
  if (!error || typeof error !== 'object') return false;
  const { code, message } = error as { code?: unknown; message?: unknown };
  if (typeof code === 'string') {
    if (NETWORK_CODES.has(code) || UNAVAILABLE_SQLSTATES.has(code) || code.startsWith('08') || code.startsWith('53')) return true;
  }
  return typeof message === 'string' && MESSAGES.some((m) => m.test(message));
}
