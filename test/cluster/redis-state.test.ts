import { randomBytes } from 'node:crypto';
import { createServer, type Socket } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { createRateLimiter, createRedisState, type SharedState } from '../../src/cluster/index.js';
import { AppError } from '../../src/core/index.js';
import { startTcpProxy } from '../support/tcp-proxy.js';
import { sharedStateSuite, waitFor } from './shared-state.suite.js';

/** Set by CI (redis://127.0.0.1:6379) to run the shared-state suite on Redis as well. */
const TEST_REDIS_URL = process.env.TEST_REDIS_URL;

/** A port on 127.0.0.1 that nothing listens on: listen on port 0, then close. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const elapsed = async (run: () => Promise<unknown>): Promise<{ error: unknown; ms: number }> => {
  const started = Date.now();
  const error = await run().then(
    () => undefined,
    (e: unknown) => e,
  );
  return { error, ms: Date.now() - started };
};

describe('Redis shared state, unreachable', () => {
  it('fails to open with shared_state_unavailable at once when nothing listens', async () => {
    const url = `redis://127.0.0.1:${await closedPort()}`;
    const { error, ms } = await elapsed(() => createRedisState({ url, keyPrefix: 'wa-test:', connectTimeoutMs: 500 }));
    expect(error).toBeInstanceOf(AppError);
    expect(error).toMatchObject({ code: 'shared_state_unavailable', status: 503 });
    expect(ms).toBeLessThan(2_000);
  });

  it('fails to open within the connect timeout when the server never answers', async () => {
    // Accepts the TCP connection and never says a word, as a hung Redis would.
    const sockets = new Set<Socket>();
    const silent = createServer((socket) => {
      sockets.add(socket);
      socket.resume();
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as { port: number };
    try {
      const { error, ms } = await elapsed(() =>
        createRedisState({ url: `redis://127.0.0.1:${port}`, keyPrefix: 'wa-test:', connectTimeoutMs: 300, commandTimeoutMs: 300 }),
      );
      expect(error).toMatchObject({ code: 'shared_state_unavailable' });
      expect(ms).toBeLessThan(3_000);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it('checks what it was given', async () => {
    await expect(createRedisState({ keyPrefix: 'p:' })).rejects.toThrow(TypeError);
    await expect(createRedisState({ url: 'redis://127.0.0.1:1', keyPrefix: '' })).rejects.toThrow(TypeError);
  });
});

describe.skipIf(!TEST_REDIS_URL)('Redis shared state', () => {
  // A prefix of this file's own: tests never see another run's keys, and afterAll deletes ours.
  const filePrefix = `wa-test:${process.pid}:${randomBytes(6).toString('hex')}:`;
  let testNumber = 0;
  const admin = TEST_REDIS_URL ? new Redis(TEST_REDIS_URL, { lazyConnect: true }) : undefined;

  afterAll(async () => {
    if (!admin) return;
    let cursor = '0';
    do {
      const [next, keys] = await admin.scan(cursor, 'MATCH', `${filePrefix}*`, 'COUNT', 1000);
      if (keys.length > 0) await admin.del(...keys);
      cursor = next;
    } while (cursor !== '0');
    expect(await admin.keys(`${filePrefix}*`)).toEqual([]);
    await admin.quit();
  });

  const open = async (keyPrefix: string, errors: unknown[]): Promise<SharedState> =>
    createRedisState({ url: TEST_REDIS_URL, keyPrefix, onError: (error) => errors.push(error) });

  sharedStateSuite(async () => {
    const keyPrefix = `${filePrefix}${(testNumber += 1)}:`;
    const errors: unknown[] = [];
    const a = await open(keyPrefix, errors);
    const b = await open(keyPrefix, errors);
    return {
      a,
      b,
      errors,
      advance: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
      teardown: async () => {
        await Promise.all([a.close(), b.close()]);
      },
    };
  });

  it('keeps deployments with other prefixes apart', async () => {
    const errors: unknown[] = [];
    const one = await open(`${filePrefix}one:`, errors);
    const two = await open(`${filePrefix}two:`, errors);
    try {
      await one.set('s', 1, 60_000);
      expect(await two.get('s')).toBeUndefined();
      expect((await two.hit('h', 60_000, 5)).count).toBe(1);
      expect((await one.hit('h', 60_000, 5)).count).toBe(1);
      const got: string[] = [];
      await two.subscribe('c', (m) => got.push(m));
      await one.publish('c', 'not for two');
      await two.publish('c', 'for two');
      await waitFor(() => got.length === 1);
      expect(got).toEqual(['for two']);
    } finally {
      await Promise.all([one.close(), two.close()]);
    }
  });

  it('uses a client it was given, and leaves it open on close', async () => {
    const client = new Redis(TEST_REDIS_URL!, { lazyConnect: true, enableOfflineQueue: false });
    try {
      const state = await createRedisState({ client, keyPrefix: `${filePrefix}given:` });
      await state.set('k', { v: 1 }, 60_000);
      expect(await client.get(`${filePrefix}given:rec:k`)).toBe('{"v":1}');
      const got: string[] = [];
      await state.subscribe('c', (m) => got.push(m));
      await state.publish('c', 'm');
      await waitFor(() => got.length === 1);
      await state.close();
      expect(await client.ping()).toBe('PONG');
    } finally {
      await client.quit();
    }
  });

  it('fails fast with shared_state_unavailable while Redis is cut off, never naming keys, and recovers', async () => {
    const target = new URL(TEST_REDIS_URL!);
    const proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 6379) });
    const errors: unknown[] = [];
    const state = await open(`${filePrefix}cut:`, errors);
    const limiter = createRateLimiter({ state, rules: { 'signin.ip': { limit: 5, windowMs: 60_000 } } });
    try {
      // The state above is direct; this one goes through the proxy.
      const viaProxy = await createRedisState({
        url: proxy.rewrite(TEST_REDIS_URL!),
        keyPrefix: `${filePrefix}cut:`,
        onError: (error) => errors.push(error),
      });
      const cutLimiter = createRateLimiter({ state: viaProxy, rules: { 'signin.ip': { limit: 5, windowMs: 60_000 } } });
      try {
        await viaProxy.set('session:secret-id-123', { token: 'canary-value' }, 60_000);
        proxy.cut();
        await waitFor(() => errors.length > 0, 2_000);
        for (const run of [
          () => viaProxy.get('session:secret-id-123'),
          () => viaProxy.set('session:secret-id-123', { token: 'canary-value' }, 60_000),
          () => viaProxy.hit('session:secret-id-123', 1000, 1),
          () => cutLimiter.check('signin.ip', '192.0.2.9'),
        ]) {
          const { error, ms } = await elapsed(run);
          expect(error).toMatchObject({ code: 'shared_state_unavailable', status: 503 });
          expect(ms).toBeLessThan(2_500);
          const text = `${(error as Error).message} ${(error as AppError).detail ?? ''}`;
          expect(text).not.toContain('secret-id-123');
          expect(text).not.toContain('canary-value');
        }
        // The direct node still works: the outage is the cut link only.
        expect(await limiter.check('signin.ip', '192.0.2.9')).toEqual({ remaining: 4 });
        proxy.restore();
        // ioredis reconnects on its own; poll until a read gets through again.
        let recovered: unknown;
        await waitFor(() => {
          void viaProxy.get('session:secret-id-123').then(
            (value) => (recovered = value),
            () => undefined,
          );
          return recovered !== undefined;
        }, 10_000);
        expect(recovered).toEqual({ token: 'canary-value' });
      } finally {
        await viaProxy.close();
      }
    } finally {
      await state.close();
      await proxy.close();
    }
  });
});
