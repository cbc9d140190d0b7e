import { randomUUID } from 'node:crypto';
import { describe } from 'vitest';
import { createMemoryState, createRedisState } from '../../src/cluster/index.js';
import { createSharedStateSessionStore } from '../../src/identity/index.js';
import { useTestDatabase } from '../support/databases.js';
import { webSessionsSuite } from './web-sessions.suite.js';

const TEST_REDIS_URL = process.env.TEST_REDIS_URL;
const INDEX_TTL = 12 * 3_600_000;

describe('web sessions on in-process shared state', () => {
  const fresh = useTestDatabase();
  webSessionsSuite(fresh, async (clock) => {
    const state = createMemoryState({ clock });
    return {
      sweeps: false,
      store: () => createSharedStateSessionStore({ state, kind: 'memory', indexTtlMs: INDEX_TTL, now: () => clock.now() }),
      teardown: () => state.close(),
    };
  });
});

describe.runIf(TEST_REDIS_URL)('web sessions in Redis (two connections: two nodes)', () => {
  const fresh = useTestDatabase();
  webSessionsSuite(fresh, async (clock) => {
    const keyPrefix = `wa-test-${randomUUID()}:`;
    // One connection per node, as two servers would have.
    const nodes = await Promise.all([0, 1].map(() => createRedisState({ url: TEST_REDIS_URL!, keyPrefix, connectTimeoutMs: 10_000 })));
    let next = 0;
    return {
      sweeps: false,
      store: () => createSharedStateSessionStore({ state: nodes[next++ % nodes.length]!, kind: 'redis', indexTtlMs: INDEX_TTL, now: () => clock.now() }),
      teardown: async () => {
        for (const state of nodes) await state.close();
      },
    };
  });
});
