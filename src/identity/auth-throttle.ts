import { createHash } from 'node:crypto';
import { AppError, type Clock } from '../core/index.js';
import type { RateLimiter, SharedState } from '../cluster/index.js';

/** The rate rule this throttle counts failures under. */
export const AUTH_FAILURE_RULE = 'auth.failure.ip';

/**
 * Slows guessing of credentials from one client: failures are counted per
 * subject (a client IP) on shared state, so every node sees the same count;
 * past the limit the subject is blocked until the window ends, and while
 * blocked even a correct credential is refused, so guessing learns nothing.
 */
export interface AuthThrottle {
  /** Rejects with `rate_limited` while `subject` is blocked. */
  assertAllowed(subject: string): Promise<void>;
  /** Counts one failure; when it crosses the limit the subject is blocked and `retryAfterSeconds` is set. */
  failed(subject: string): Promise<{ blocked: boolean; retryAfterSeconds: number }>;
  /**
   * True the first time `credential` (a token or cookie as presented; only its hash is kept) is
   * seen failing within {@link REPEATED_FAILURE_WINDOW_MS}, on any node; false for its repeats. One
   * atomic counter of the shared state, so two nodes never both count it first.
   */
  firstFailureOf(credential: string): Promise<boolean>;
}

/** How long a failing credential's repeats go unrecorded where they are expected (GET /authz). */
export const REPEATED_FAILURE_WINDOW_MS = 60_000;

export function createAuthThrottle(deps: { state: SharedState; limiter: RateLimiter<typeof AUTH_FAILURE_RULE>; clock: Clock }): AuthThrottle {
  const blockKey = (subject: string) => `authblock:${createHash('sha256').update(subject).digest('base64url').slice(0, 32)}`;
  return {
    async assertAllowed(subject) {
      const block = (await deps.state.get(blockKey(subject))) as { until?: unknown } | undefined;
      if (block && typeof block.until === 'number') {
        throw new AppError('rate_limited', { data: { retryAfterSeconds: Math.max(1, Math.ceil((block.until - deps.clock.now()) / 1000)) } });
      }
    },
    async firstFailureOf(credential) {
      const key = `authfail:seen:${createHash('sha256').update(credential).digest('base64url').slice(0, 32)}`;
      return (await deps.state.hit(key, REPEATED_FAILURE_WINDOW_MS, 1)).allowed;
    },
    async failed(subject) {
      try {
        await deps.limiter.check(AUTH_FAILURE_RULE, subject);
        return { blocked: false, retryAfterSeconds: 0 };
      } catch (error) {
        if (!(error instanceof AppError) || error.code !== 'rate_limited') throw error;
        const retryAfterSeconds = (error.data as { retryAfterSeconds: number }).retryAfterSeconds;
        await deps.state.set(blockKey(subject), { until: deps.clock.now() + retryAfterSeconds * 1000 }, retryAfterSeconds * 1000);
        return { blocked: true, retryAfterSeconds };
      }
    },
  };
}
