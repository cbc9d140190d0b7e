import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { INSECURE_SESSION_COOKIE } from '../../src/http/session-cookie.js';
import { ManualClock } from '../support/manual-clock.js';
import { signedInUser } from '../support/forward-auth.js';
import { startTestServer, type TestServer } from '../support/server.js';

// Under CPU overload (the event loop running late on average), GET /authz refuses the checks that would read the
// session store and still passes the ones the per-node cache answers: a cached pass costs what a refusal does, a
// store read several times more. The loop is made late here by blocking it, as a node short of CPU would be.
// The manual clock keeps cache entries from expiring while the test runs.

const RULES = { rules: [{ host: 'app.example.com', groups: ['ops'] }] };

/** Holds the event loop for `ms`, `times` times, letting timers run (late) in between. */
async function starveLoop(ms: number, times: number): Promise<void> {
  for (let i = 0; i < times; i++) {
    const until = performance.now() + ms;
    while (performance.now() < until) {
      // busy: no timer can run
    }
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

describe('GET /authz while the event loop is behind', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer(
      { WEBASSET_TRUSTED_PROXIES: 'loopback', WEBASSET_FORWARD_AUTH: JSON.stringify(RULES), WEBASSET_FORWARD_AUTH_SHED_DELAY_MS: '40' },
      { clock: new ManualClock() },
    );
  });
  afterAll(async () => t?.stop());

  const check = async (cookie: string) => {
    const res = await fetch(`${t.url}/authz`, { headers: { cookie: `${INSECURE_SESSION_COOKIE}=${cookie}`, 'x-forwarded-host': 'app.example.com' } });
    return { status: res.status, body: res.status === 503 ? ((await res.json()) as { error: { code: string } }).error.code : await res.text(), retryAfter: res.headers.get('retry-after') };
  };

  it('sheds checks that would read the session store (beyond a trickle), passes cached ones, and serves all again once the loop catches up', async () => {
    const cached = (await signedInUser(t, { username: 'cached', roles: ['operator'], groups: ['ops'] })).cookieValue;
    // More sessions than the reads let through per tenth of a second while behind (10): some must be refused.
    const uncached = await Promise.all(Array.from({ length: 30 }, async (_, i) => (await signedInUser(t, { username: `u${i}`, roles: ['operator'], groups: ['ops'] })).cookieValue));
    // The start (migrations, key files) itself holds the loop: first wait until it is on time, which caches `cached`.
    await vi.waitFor(async () => expect((await check(cached)).status).toBe(200), { timeout: 20_000, interval: 100 });
    const stats = t.services.forwardAuth.stats;
    const shedBefore = stats.shed;

    await starveLoop(200, 4);
    const [hit, ...misses] = await Promise.all([check(cached), ...uncached.map(check)]);
    expect(hit.status).toBe(200);
    const refused = misses.filter((m) => m.status === 503);
    expect(refused.length).toBeGreaterThan(0);
    for (const m of refused) expect(m).toEqual({ status: 503, body: 'server_busy', retryAfter: '1' });
    expect(misses.every((m) => m.status === 200 || m.status === 503)).toBe(true);
    expect(stats.shed - shedBefore).toBe(refused.length);

    // Nothing was decided about the refused sessions: once the loop is on time again, they pass.
    const again = uncached[misses.indexOf(refused[0]!)]!;
    await vi.waitFor(async () => expect((await check(again)).status).toBe(200), { timeout: 20_000, interval: 100 });
  });
});
