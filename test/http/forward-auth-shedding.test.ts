import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Principal, SessionUser } from '../../src/identity/index.js';
import { INSECURE_SESSION_COOKIE } from '../../src/http/session-cookie.js';
import { ManualClock } from '../support/manual-clock.js';
import { startTestServer, type TestServer } from '../support/server.js';

// Under CPU overload (the event loop running late on average), GET /authz refuses the checks that would read the
// session store and still passes the ones the per-node cache answers: a cached pass costs what a refusal does, a
// store read several times more. The loop is made late here by blocking it, as a node short of CPU would be.
// The manual clock keeps cache entries from expiring while the test runs.

const RULES = { rules: [{ host: 'app.example.com', groups: ['ops'] }] };

async function session(t: TestServer, username: string): Promise<string> {
  const by: Principal = { kind: 'user', id: randomUUID(), name: 'test', roles: ['admin'], groups: [], via: 'cli', mfa: true };
  const record = await t.services.users.create({ username, email: null, source: 'local', roles: ['operator'] }, by);
  const user: SessionUser = { id: record.id, username, name: username, email: null, kind: 'person', roles: ['operator'], groups: [{ id: randomUUID(), name: 'ops' }] };
  return (await t.services.sessions.create({ user, mfa: true, method: 'password', context: {} })).cookieValue;
}

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

  it('sheds checks that would read the session store, passes cached ones, and serves all again once the loop catches up', async () => {
    const cached = await session(t, 'cached');
    const uncached = await session(t, 'uncached');
    // The start (migrations, key files) itself holds the loop: first wait until it is on time, which caches `cached`.
    await vi.waitFor(async () => expect((await check(cached)).status).toBe(200), { timeout: 20_000, interval: 100 });
    const stats = t.services.forwardAuth.stats;
    const shedBefore = stats.shed;

    await starveLoop(200, 4);
    const [hit, miss] = await Promise.all([check(cached), check(uncached)]);
    expect(hit.status).toBe(200);
    expect(miss).toEqual({ status: 503, body: 'server_busy', retryAfter: '1' });
    expect(stats.shed - shedBefore).toBe(1);

    // Nothing was decided about the refused session: once the loop is on time again, it passes.
    await vi.waitFor(async () => expect((await check(uncached)).status).toBe(200), { timeout: 20_000, interval: 100 });
  });
});
