import type { FastifyRequest } from 'fastify';
import type { WebSessions } from '../identity/index.js';
import type { SessionCookies } from './session-cookie.js';

/**
 * At a sign-in, ends the session the browser still had: on a shared machine
 * the previous person's session must not stay alive behind the new cookie
 * (it would never be adopted, but it would not end either). Best effort:
 * the new session stands, and the old one still ends at its idle timeout.
 */
export async function endPreviousSession(
  request: FastifyRequest,
  deps: { cookies: SessionCookies; sessions: Pick<WebSessions, 'resolve' | 'revoke'> },
): Promise<void> {
  const previous = deps.cookies.read(request);
  if (!previous) return;
  try {
    const resolved = await deps.sessions.resolve(previous);
    const sessionId = resolved?.principal.sessionId;
    if (resolved && sessionId) await deps.sessions.revoke(sessionId, resolved.principal, 'signed_in_again');
  } catch (error) {
    request.log.warn({ err: error }, 'could not end the previous session at sign-in');
  }
}
