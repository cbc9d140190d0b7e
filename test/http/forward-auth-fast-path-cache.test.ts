import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { SessionUser } from '../../src/identity/index.js';
import { INSECURE_SESSION_COOKIE } from '../../src/http/session-cookie.js';
import { CLUSTER_BACKENDS, startTestCluster, type TestCluster } from '../support/cluster-nodes.js';
import { signedInUser } from '../support/forward-auth.js';
import { startTestServer, type TestServer } from '../support/server.js';

// The fast path answers a cached session from memory: the session cache's answer (one frozen object per cached
// record), and what the fast path derives from it (header lines, the gate's answer per host). Every change to a
// session must still show in the very next check on the node that made it, and within a second on every other
// node (the cache's published invalidation), however many times the session passed from memory before.

const RULES = { rules: [{ host: 'app.example.com', groups: ['ops'] }] };
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

async function check(url: string, cookieValue: string, host = 'app.example.com') {
  const res = await fetch(`${url}/authz`, { headers: { cookie: `${INSECURE_SESSION_COOKIE}=${cookieValue}`, 'x-forwarded-host': host } });
  await res.arrayBuffer();
  return { status: res.status, user: res.headers.get('x-webasset-user'), groups: res.headers.get('x-webasset-groups'), requestId: res.headers.get('x-request-id') };
}

describe('GET /authz fast path: answers from memory follow every change to the session', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ WEBASSET_TRUSTED_PROXIES: 'loopback', WEBASSET_FORWARD_AUTH: JSON.stringify(RULES) });
  });
  afterAll(async () => t?.stop());

  /** A member of `ops` whose session has passed twice from the fast path (so its answer is held in memory). */
  async function passingTwice(username: string) {
    const session = await signedInUser(t, { username, email: `${username}@example.com`, groups: ['ops', 'Site Reliability'] });
    const stats = t.services.forwardAuth.stats;
    const before = stats.allowedFast;
    const answers = [await check(t.url, session.cookieValue), await check(t.url, session.cookieValue)];
    expect(answers.map((a) => a.status)).toEqual([200, 200]);
    expect(stats.allowedFast - before).toBe(2);
    return { ...session, answers };
  }

  it('gives each answer its own request id, and the same identity headers', async () => {
    const { answers } = await passingTwice('rita');
    expect(answers[0]).toMatchObject({ user: 'rita', groups: 'Site%20Reliability,ops' });
    expect(answers[1]).toMatchObject({ user: 'rita', groups: 'Site%20Reliability,ops' });
    expect(answers[0]!.requestId).toMatch(UUID);
    expect(answers[1]!.requestId).toMatch(UUID);
    expect(answers[1]!.requestId).not.toBe(answers[0]!.requestId);
  });

  it('decides each host for itself: one without a rule is refused to a session that passed another from memory', async () => {
    const s = await passingTwice('hugo');
    expect((await check(t.url, s.cookieValue, 'other.example.com')).status).toBe(403);
    expect((await check(t.url, s.cookieValue)).status).toBe(200);
  });

  const changes: Array<{ name: string; change: (s: { cookieValue: string; sessionId: string; user: SessionUser }) => Promise<void>; expected: (s: { cookieValue: string }) => Promise<void> }> = [
    {
      name: 'a revocation',
      change: async (s) => void (await t.services.sessions.revoke(s.sessionId, null, 'test')),
      expected: async (s) => expect((await check(t.url, s.cookieValue)).status).toBe(401),
    },
    {
      name: 'logout everywhere',
      change: async (s) => void (await t.services.sessions.revokeAllForUser(s.user.id, null, 'test')),
      expected: async (s) => expect((await check(t.url, s.cookieValue)).status).toBe(401),
    },
    {
      name: 'a membership change that takes the group away',
      change: async (s) => t.services.sessions.refreshUser({ ...s.user, groups: [{ id: randomUUID(), name: 'sales' }] }),
      expected: async (s) => expect((await check(t.url, s.cookieValue)).status).toBe(403),
    },
    {
      name: 'a membership change that keeps the group',
      change: async (s) => t.services.sessions.refreshUser({ ...s.user, groups: [{ id: randomUUID(), name: 'ops' }] }),
      expected: async (s) => expect(await check(t.url, s.cookieValue)).toMatchObject({ status: 200, groups: 'ops' }),
    },
  ];

  for (const { name, change, expected } of changes) {
    it(`shows ${name} in the very next check`, async () => {
      const s = await passingTwice(`u-${randomUUID().slice(0, 8)}`);
      await change(s);
      await expected(s);
    });
  }

  it('refuses the old value at once after a rotation, and passes the new one from the fast path', async () => {
    const s = await passingTwice('rosa');
    const { cookieValue } = await t.services.sessions.rotate(s.cookieValue);
    expect((await check(t.url, s.cookieValue)).status).toBe(401);
    const before = t.services.forwardAuth.stats.allowedFast;
    expect(await check(t.url, cookieValue)).toMatchObject({ status: 200, user: 'rosa' });
    expect(await check(t.url, cookieValue)).toMatchObject({ status: 200, user: 'rosa' });
    expect(t.services.forwardAuth.stats.allowedFast - before).toBe(2);
  });
});

describe.skipIf(!CLUSTER_BACKENDS)('GET /authz fast path on two nodes (PostgreSQL + Redis): a change on one node reaches the other within a second', () => {
  let cluster: TestCluster;
  beforeAll(async () => {
    cluster = await startTestCluster({ both: { WEBASSET_TRUSTED_PROXIES: 'loopback', WEBASSET_FORWARD_AUTH: JSON.stringify(RULES) } });
  });
  afterAll(async () => cluster?.stop());

  const signIn = (username: string) => signedInUser({ services: cluster.a.services } as TestServer, { username, groups: ['ops'] });

  it('a revocation on A: B refuses a session it was passing from memory', async () => {
    const s = await signIn('bea');
    for (let i = 0; i < 2; i++) expect((await check(cluster.b.url, s.cookieValue)).status).toBe(200);
    await cluster.a.services.sessions.revoke(s.sessionId, null, 'test');
    await vi.waitFor(async () => expect((await check(cluster.b.url, s.cookieValue)).status).toBe(401), { timeout: 1000, interval: 5 });
  });

  it('a membership change on A: B answers with the new groups', async () => {
    const s = await signIn('ben');
    for (let i = 0; i < 2; i++) expect((await check(cluster.b.url, s.cookieValue)).status).toBe(200);
    await cluster.a.services.sessions.refreshUser({ ...s.user, groups: [{ id: randomUUID(), name: 'sales' }] });
    await vi.waitFor(async () => expect((await check(cluster.b.url, s.cookieValue)).status).toBe(403), { timeout: 1000, interval: 5 });
  });
});
