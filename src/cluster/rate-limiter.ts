import { createHash } from 'node:crypto';
import { AppError } from '../core/index.js';
import type { SharedState } from './shared-state.js';

/** At most `limit` hits per `windowMs` for one subject (an IP, an account, a token). */
export interface RateRule {
  limit: number;
  windowMs: number;
}

export interface RateLimiterOptions<R extends string> {
  state: SharedState;
  /** Named rules, e.g. `{ 'signin.ip': { limit: 10, windowMs: 15 * 60_000 } }`. */
  rules: Record<R, RateRule>;
}

export interface RateLimiter<R extends string> {
  /**
   * Counts one hit of `subject` under `rule`. Resolves with what is left in
   * the window; rejects with `rate_limited` (429, `data.retryAfterSeconds`)
   * when over the limit, or `shared_state_unavailable` from the state.
   */
  check(rule: R, subject: string): Promise<{ remaining: number }>;
}

/** Rate limits by named rule over shared state, so every node counts against the same limit. */
export function createRateLimiter<R extends string>(options: RateLimiterOptions<R>): RateLimiter<R> {
  const { state, rules } = options;
  if (typeof state?.hit !== 'function') throw new TypeError('createRateLimiter: a shared state is required');
  const table = new Map<string, RateRule>();
  for (const [name, rule] of Object.entries<RateRule>(rules)) {
    if (!Number.isSafeInteger(rule.limit) || rule.limit <= 0 || !Number.isSafeInteger(rule.windowMs) || rule.windowMs <= 0) {
      throw new TypeError(`createRateLimiter: rule ${name} needs a positive integer limit and windowMs`);
    }
    table.set(name, { limit: rule.limit, windowMs: rule.windowMs });
  }

  return {
    async check(name, subject) {
      const rule = table.get(name);
      if (!rule) throw new TypeError(`rate limiter: unknown rule ${name}`);
      const result = await state.hit(`rate:${name}:${subjectKey(subject)}`, rule.windowMs, rule.limit);
      if (!result.allowed) {
        throw new AppError('rate_limited', {
          detail: `rule ${name}`,
          data: { retryAfterSeconds: Math.max(1, Math.ceil(result.retryAfterMs / 1000)) },
        });
      }
      return { remaining: rule.limit - result.count };
    },
  };
}

// Subjects are client-controlled (a typed account name): hashed, the key has a fixed length and no
// personal data sits in Redis in the clear.
function subjectKey(subject: string): string {
  return createHash('sha256').update(subject, 'utf8').digest('base64url').slice(0, 32);
}
