import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/core/index.js';
import { relayedRefusal } from '../../src/http/live-view/relay-refusal.js';

const body = (code: string, message = 'Some message.', details?: unknown) => JSON.stringify({ error: { code, message, requestId: 'req-1', details } });
const asAnswer = (refusal: ReturnType<typeof relayedRefusal>) =>
  refusal instanceof AppError ? { status: refusal.status, code: refusal.code, message: refusal.publicMessage, data: refusal.data } : refusal;

describe('relayedRefusal: what the viewer of a relayed live view gets when the holding node refuses the handshake', () => {
  it('gives the holding node\'s own client error, as a direct upgrade would answer it (before the upgrade)', () => {
    // Signed out, expired or revoked (sign-in or token) between the two nodes' checks.
    expect(asAnswer(relayedRefusal(401, body('unauthenticated', 'The session has ended; sign in again.')))).toEqual({
      status: 401,
      code: 'unauthenticated',
      message: 'The session has ended; sign in again.',
      data: undefined,
    });
    expect(asAnswer(relayedRefusal(401, body('unauthenticated', 'The token is invalid, revoked or expired.')))).toMatchObject({ status: 401, message: 'The token is invalid, revoked or expired.' });
    expect(asAnswer(relayedRefusal(403, body('csrf_failed')))).toMatchObject({ status: 403, code: 'csrf_failed' });
    expect(asAnswer(relayedRefusal(403, body('account_disabled')))).toMatchObject({ status: 403, code: 'account_disabled' });
    expect(asAnswer(relayedRefusal(429, body('rate_limited', 'Too many attempts; try again later.', { retryAfterSeconds: 12 })))).toMatchObject({
      status: 429,
      code: 'rate_limited',
      data: { retryAfterSeconds: 12 },
    });
  });

  it('never passes on more than a known code with its own status, a short plain message and a rate limit\'s wait', () => {
    // A code whose status is not the answer's, an unknown code, no JSON: the catalog's error of that status.
    expect(asAnswer(relayedRefusal(401, body('forbidden')))).toEqual({ status: 401, code: 'unauthenticated', message: 'Authentication is required.', data: undefined });
    expect(asAnswer(relayedRefusal(403, body('made_up')))).toMatchObject({ status: 403, code: 'forbidden', message: 'You are not allowed to do this.' });
    expect(asAnswer(relayedRefusal(401, '<html>no</html>'))).toMatchObject({ status: 401, code: 'unauthenticated' });
    expect(asAnswer(relayedRefusal(429, ''))).toMatchObject({ status: 429, code: 'rate_limited', data: undefined });
    // A message too long or with control characters is replaced by the catalog's; other details are dropped.
    expect(asAnswer(relayedRefusal(401, body('unauthenticated', 'x'.repeat(501))))).toMatchObject({ message: 'Authentication is required.' });
    expect(asAnswer(relayedRefusal(401, body('unauthenticated', 'line\nbreak')))).toMatchObject({ message: 'Authentication is required.' });
    expect(asAnswer(relayedRefusal(400, body('invalid_request', 'The request is invalid; see details.', [{ field: 'x' }])))).toMatchObject({ code: 'invalid_request', data: undefined });
    expect(asAnswer(relayedRefusal(429, body('rate_limited', 'Too many attempts; try again later.', { retryAfterSeconds: '12; evil' })))).toMatchObject({ data: undefined });
    expect(relayedRefusal(401, JSON.stringify({ error: { code: '__proto__' } }))).toBeInstanceOf(AppError);
  });

  it('keeps the close codes of before for the rest: 404 not_found (4404), anything else unavailable (4503, the UI tries again)', () => {
    expect(relayedRefusal(404, body('not_found', 'Not found.'))).toBe('not_found');
    expect(relayedRefusal(404, '')).toBe('not_found');
    expect(relayedRefusal(503, body('shutting_down', 'The server is shutting down.'))).toBe('unavailable');
    expect(relayedRefusal(500, body('internal'))).toBe('unavailable');
    expect(relayedRefusal(302, '')).toBe('unavailable');
    expect(relayedRefusal(null, '')).toBe('unavailable');
  });
});
