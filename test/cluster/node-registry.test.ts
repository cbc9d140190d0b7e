import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { createMemoryState, createNodeRegistry, createRedisState, type SharedState } from '../../src/cluster/index.js';
import { TEST_REDIS_URL } from '../support/server.js';

/** Two nodes' views of one shared state: the same instance in-process, two connections on Redis. */
interface Backend {
  name: string;
  open(): Promise<{ a: SharedState; b: SharedState; advance: (ms: number) => Promise<void>; close: () => Promise<void> }>;
}

const memory: Backend = {
  name: 'in-process',
  async open() {
    let now = 1_700_000_000_000;
    const state = createMemoryState({ clock: { now: () => now } });
    return {
      a: state,
      b: state,
      advance: async (ms) => {
        now += ms;
      },
      close: () => state.close(),
    };
  },
};

const redis: Backend = {
  name: 'Redis',
  async open() {
    const keyPrefix = `wa-registry-${randomUUID()}:`;
    const a = await createRedisState({ url: TEST_REDIS_URL!, keyPrefix });
    const b = await createRedisState({ url: TEST_REDIS_URL!, keyPrefix });
    return {
      a,
      b,
      // Redis keeps real time: wait it out.
      advance: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
      close: async () => {
        await a.close();
        await b.close();
      },
    };
  },
};

for (const backend of TEST_REDIS_URL ? [memory, redis] : [memory]) {
  describe(`node registry (${backend.name})`, () => {
    const closers: Array<() => Promise<void>> = [];
    afterEach(async () => {
      for (const close of closers.splice(0).reverse()) await close();
    });
    const open = async () => {
      const opened = await backend.open();
      closers.push(() => opened.close());
      return opened;
    };

    it('announces a node to the others, and withdraws it when the node stops', async () => {
      const { a, b } = await open();
      const nodeA = createNodeRegistry({ state: a, nodeId: 'node-a', url: 'http://10.0.0.5:8080' });
      const seenFromB = createNodeRegistry({ state: b, nodeId: 'node-b' });
      closers.push(() => nodeA.stop());
      expect(await seenFromB.lookup('node-a')).toBeUndefined();
      await nodeA.start();
      await nodeA.start(); // twice: one heartbeat
      expect(await seenFromB.lookup('node-a')).toBe('http://10.0.0.5:8080');
      expect(await seenFromB.lookup('node-c')).toBeUndefined();
      expect(await seenFromB.lookup('')).toBeUndefined();
      await nodeA.stop();
      await nodeA.stop();
      expect(await seenFromB.lookup('node-a')).toBeUndefined();
      // A stopped registry does not come back.
      await nodeA.start();
      expect(await seenFromB.lookup('node-a')).toBeUndefined();
    });

    it('forgets a node that stopped renewing (crashed) after its lifetime', async () => {
      const { a, b, advance } = await open();
      // A crashed node: its entry was written once, then nothing renewed it.
      await a.set('cluster:node:node-a', { url: 'https://node-a.internal:8443' }, 200);
      const seenFromB = createNodeRegistry({ state: b, nodeId: 'node-b' });
      expect(await seenFromB.lookup('node-a')).toBe('https://node-a.internal:8443');
      await advance(400);
      expect(await seenFromB.lookup('node-a')).toBeUndefined();
    });

    it('keeps a live node announced past its lifetime (heartbeat)', async () => {
      const { a, b } = await open();
      const nodeA = createNodeRegistry({ state: a, nodeId: 'node-a', url: 'http://127.0.0.1:9000/', ttlMs: 300 });
      closers.push(() => nodeA.stop());
      await nodeA.start();
      const seenFromB = createNodeRegistry({ state: b, nodeId: 'node-b' });
      // Several lifetimes of real time: the heartbeat (every 100 ms) keeps renewing it.
      for (let i = 0; i < 6; i++) {
        await new Promise((resolve) => setTimeout(resolve, 150));
        expect(await seenFromB.lookup('node-a')).toBe('http://127.0.0.1:9000');
      }
    });

    it('hands out only http(s) origins, whatever the shared state holds', async () => {
      const { a, b } = await open();
      const seenFromB = createNodeRegistry({ state: b, nodeId: 'node-b' });
      for (const url of ['javascript:alert(1)', 'http://user:pw@10.0.0.5', 'http://10.0.0.5/path', 'file:///etc/passwd', 42, null]) {
        await a.set('cluster:node:odd', { url }, 10_000);
        expect(await seenFromB.lookup('odd')).toBeUndefined();
      }
      await a.set('cluster:node:odd', 'http://10.0.0.5', 10_000);
      expect(await seenFromB.lookup('odd')).toBeUndefined();
    });

    it('checks what it was given', async () => {
      const { a } = await open();
      expect(() => createNodeRegistry({ state: a, nodeId: '' })).toThrow(TypeError);
      expect(() => createNodeRegistry({ state: a, nodeId: 'n', url: 'ftp://x' })).toThrow(TypeError);
      expect(() => createNodeRegistry({ state: a, nodeId: 'n', url: 'http://x', ttlMs: 0 })).toThrow(TypeError);
      await expect(createNodeRegistry({ state: a, nodeId: 'n' }).start()).rejects.toThrow(TypeError);
    });
  });
}
