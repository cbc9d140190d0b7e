import { afterEach, expect, it } from 'vitest';
import { createRateLimiter, type SharedState } from '../../src/cluster/index.js';
import { AppError } from '../../src/core/index.js';

/** One fresh backend for one test, seen from two nodes. */
export interface SharedStateBackend {
  /** Node A. */
  a: SharedState;
  /** Node B on the same backend (for the in-process backend, "every node" is this process: the same instance). */
  b: SharedState;
  /** Lets `ms` of time pass: a manual clock in-process, a real wait on Redis. */
  advance: (ms: number) => Promise<void>;
  /** What the backend reported through onError. */
  errors: unknown[];
  teardown: () => Promise<void>;
}

// Short enough to wait for on Redis; every test that depends on the window finishes its hits well inside it.
const WINDOW_MS = 400;
const DELIVERY_MS = 1_000;

/** Polls until `check` holds, or fails after `timeoutMs` (never hangs). */
export async function waitFor(check: () => boolean, timeoutMs = DELIVERY_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/**
 * The compliance suite of the SharedState port: every backend runs it
 * unchanged (STYLE.md point 2), inside its own describe block.
 */
export function sharedStateSuite(setup: () => Promise<SharedStateBackend>): void {
  let backend: SharedStateBackend | undefined;
  const open = async (): Promise<SharedStateBackend> => (backend = await setup());
  afterEach(async () => {
    await backend?.teardown();
    backend = undefined;
  });

  it('counts hits in a window and refuses those over the limit, with the time left', async () => {
    const { a } = await open();
    const results = [];
    for (let i = 0; i < 4; i += 1) results.push(await a.hit('login:1', WINDOW_MS, 3));
    expect(results.slice(0, 3)).toEqual([1, 2, 3].map((count) => ({ allowed: true, count, retryAfterMs: 0 })));
    expect(results[3]).toMatchObject({ allowed: false, count: 4 });
    expect(results[3]!.retryAfterMs).toBeGreaterThan(0);
    expect(results[3]!.retryAfterMs).toBeLessThanOrEqual(WINDOW_MS);
  });

  it('starts a new window once the old one has passed, and refused hits do not lengthen it', async () => {
    const { a, advance } = await open();
    await a.hit('w', WINDOW_MS, 1);
    await advance(WINDOW_MS / 2);
    expect((await a.hit('w', WINDOW_MS, 1)).allowed).toBe(false);
    await advance(WINDOW_MS / 2 + 100);
    expect(await a.hit('w', WINDOW_MS, 1)).toEqual({ allowed: true, count: 1, retryAfterMs: 0 });
  });

  it('gives a hit back within its window, seen by every node, never below zero and never after the window', async () => {
    const { a, b, advance } = await open();
    await a.hit('give', WINDOW_MS, 2);
    await a.hit('give', WINDOW_MS, 2);
    expect((await a.hit('give', WINDOW_MS, 2)).allowed).toBe(false);
    await b.unhit('give');
    await b.unhit('give');
    expect(await a.hit('give', WINDOW_MS, 2)).toEqual({ allowed: true, count: 2, retryAfterMs: 0 });
    await Promise.all([a.unhit('give'), b.unhit('give'), a.unhit('give')]);
    expect((await a.hit('give', WINDOW_MS, 2)).count).toBe(1);
    // Nothing to give back to: no counter is made, and the next hit starts a fresh window at 1.
    await a.unhit('never-hit');
    expect((await a.hit('never-hit', WINDOW_MS, 2)).count).toBe(1);
    await advance(WINDOW_MS + 50);
    await a.unhit('give');
    expect((await a.hit('give', WINDOW_MS, 2)).count).toBe(1);
  });

  it('counts each key apart, and keeps counters apart from records of the same name', async () => {
    const { a } = await open();
    await a.set('same', { n: 1 }, 60_000);
    expect((await a.hit('same', WINDOW_MS, 5)).count).toBe(1);
    expect((await a.hit('other', WINDOW_MS, 5)).count).toBe(1);
    expect((await a.hit('same', WINDOW_MS, 5)).count).toBe(2);
    expect(await a.get('same')).toEqual({ n: 1 });
  });

  it('never allows more than the limit to many concurrent hits from two nodes', async () => {
    const { a, b } = await open();
    const results = await Promise.all(Array.from({ length: 60 }, (_, i) => (i % 2 === 0 ? a : b).hit('race', 10_000, 10)));
    expect(results.filter((r) => r.allowed)).toHaveLength(10);
    expect(results.map((r) => r.count).sort((x, y) => x - y)).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
    for (const r of results) expect(r.allowed).toBe(r.count <= 10);
  });

  it('stores, replaces and deletes JSON records, seen by every node', async () => {
    const { a, b } = await open();
    const record = { userId: 'u-1', roles: ['admin'], mfa: true, name: 'Zoë 🔐', nested: { at: 1_700_000_000_000 } };
    await a.set('session:s1', record, 60_000);
    record.roles.push('mutated after set');
    expect(await b.get('session:s1')).toEqual({ ...record, roles: ['admin'] });
    await b.set('session:s1', { userId: 'u-2' }, 60_000);
    expect(await a.get('session:s1')).toEqual({ userId: 'u-2' });
    expect(await a.get('session:none')).toBeUndefined();
    expect(await b.delete('session:s1')).toBe(true);
    expect(await a.delete('session:s1')).toBe(false);
    expect(await a.get('session:s1')).toBeUndefined();
  });

  it('forgets a record after its lifetime, and a new set gives it a new lifetime', async () => {
    const { a, advance } = await open();
    await a.set('short', 'x', WINDOW_MS);
    await a.set('renewed', 'y', WINDOW_MS);
    await advance(WINDOW_MS / 2);
    await a.set('renewed', 'y', WINDOW_MS);
    await advance(WINDOW_MS / 2 + 100);
    expect(await a.get('short')).toBeUndefined();
    expect(await a.delete('short')).toBe(false);
    expect(await a.get('renewed')).toBe('y');
  });

  it('replaces a record only while it exists, so a deleted record is never brought back', async () => {
    const { a, b, advance } = await open();
    expect(await a.replace('gone', { v: 1 }, 60_000)).toBe(false);
    expect(await b.get('gone')).toBeUndefined();
    await a.set('live', { v: 1 }, WINDOW_MS);
    await advance(WINDOW_MS / 2);
    expect(await b.replace('live', { v: 2 }, WINDOW_MS)).toBe(true);
    await advance(WINDOW_MS / 2 + 100);
    // The replacement started a new lifetime.
    expect(await a.get('live')).toEqual({ v: 2 });
    expect(await a.delete('live')).toBe(true);
    expect(await b.replace('live', { v: 3 }, 60_000)).toBe(false);
    expect(await a.get('live')).toBeUndefined();
    await a.set('short', 1, WINDOW_MS);
    await advance(WINDOW_MS + 100);
    expect(await a.replace('short', 2, 60_000)).toBe(false);
  });

  it('keeps sets of members, seen by every node, apart from records of the same name, with a lifetime', async () => {
    const { a, b, advance } = await open();
    expect(await a.members('user:1')).toEqual([]);
    await a.addMember('user:1', 'h1', 60_000);
    await b.addMember('user:1', 'h2', 60_000);
    await a.addMember('user:1', 'h1', 60_000);
    await a.set('user:1', 'a record', 60_000);
    expect((await b.members('user:1')).sort()).toEqual(['h1', 'h2']);
    expect(await b.removeMember('user:1', 'h1')).toBe(true);
    expect(await a.removeMember('user:1', 'h1')).toBe(false);
    expect(await a.members('user:1')).toEqual(['h2']);
    expect(await a.get('user:1')).toBe('a record');
    await a.addMember('short', 'x', WINDOW_MS);
    await advance(WINDOW_MS + 100);
    expect(await b.members('short')).toEqual([]);
    await expect(a.addMember('k', '', 1000)).rejects.toThrow(TypeError);
    await expect(a.addMember('k', 'm', 0)).rejects.toThrow(TypeError);
    await expect(a.replace('k', undefined, 1000)).rejects.toThrow(TypeError);
  });

  it('refuses bad arguments before touching the backend', async () => {
    const { a } = await open();
    await expect(a.hit('', WINDOW_MS, 1)).rejects.toThrow(TypeError);
    await expect(a.hit('k', 0, 1)).rejects.toThrow(TypeError);
    await expect(a.hit('k', WINDOW_MS, 1.5)).rejects.toThrow(TypeError);
    await expect(a.set('k', undefined, 1000)).rejects.toThrow(TypeError);
    await expect(a.set('k', 'v', -1)).rejects.toThrow(TypeError);
    await expect(a.subscribe('', () => undefined)).rejects.toThrow(TypeError);
  });

  it('delivers a message to subscribers on both nodes, and only on its channel', async () => {
    const { a, b } = await open();
    const onA: string[] = [];
    const onB: string[] = [];
    const onOther: string[] = [];
    await a.subscribe('revoked', (m) => onA.push(m));
    await b.subscribe('revoked', (m) => onB.push(m));
    await b.subscribe('other', (m) => onOther.push(m));
    const sent = Date.now();
    await a.publish('revoked', 'session-1');
    await waitFor(() => onA.length === 1 && onB.length === 1);
    // The goal: a revoked session is refused within 1 s on every node.
    expect(Date.now() - sent).toBeLessThan(DELIVERY_MS);
    expect([onA, onB]).toEqual([['session-1'], ['session-1']]);
    await b.publish('other', 'marker');
    await waitFor(() => onOther.length === 1);
    expect([onA, onB]).toEqual([['session-1'], ['session-1']]);
  });

  it('stops delivering to a handler once unsubscribed, and keeps the other handlers', async () => {
    const { a, b } = await open();
    const first: string[] = [];
    const second: string[] = [];
    const unsubscribeFirst = await b.subscribe('c', (m) => first.push(m));
    await b.subscribe('c', (m) => second.push(m));
    await a.publish('c', 'one');
    await waitFor(() => first.length === 1 && second.length === 1);
    await unsubscribeFirst();
    await unsubscribeFirst();
    await a.publish('c', 'two');
    await waitFor(() => second.length === 2);
    expect(first).toEqual(['one']);
    expect(second).toEqual(['one', 'two']);
  });

  it('reports a handler that throws and still calls the others', async () => {
    const { a, b, errors } = await open();
    const got: string[] = [];
    await b.subscribe('t', () => {
      throw new Error('handler failed');
    });
    await b.subscribe('t', (m) => got.push(m));
    await a.publish('t', 'm');
    await waitFor(() => got.length === 1 && errors.length === 1);
    expect((errors[0] as Error).message).toBe('handler failed');
  });

  it('can resubscribe to a channel after its last handler left', async () => {
    const { a, b } = await open();
    const got: string[] = [];
    const off = await b.subscribe('again', (m) => got.push(m));
    await off();
    await b.subscribe('again', (m) => got.push(m));
    await a.publish('again', 'back');
    await waitFor(() => got.length === 1);
  });

  it('refuses every operation after close, and closes twice without error', async () => {
    const { a, teardown } = await open();
    await a.subscribe('x', () => undefined);
    await teardown();
    backend = undefined;
    await expect(a.hit('k', WINDOW_MS, 1)).rejects.toThrow(/closed/);
    await expect(a.get('k')).rejects.toThrow(/closed/);
    await expect(a.set('k', 1, 1000)).rejects.toThrow(/closed/);
    await expect(a.delete('k')).rejects.toThrow(/closed/);
    await expect(a.replace('k', 1, 1000)).rejects.toThrow(/closed/);
    await expect(a.addMember('k', 'm', 1000)).rejects.toThrow(/closed/);
    await expect(a.members('k')).rejects.toThrow(/closed/);
    await expect(a.publish('x', 'm')).rejects.toThrow(/closed/);
    await expect(a.subscribe('x', () => undefined)).rejects.toThrow(/closed/);
    await a.close();
  });

  it('rate limits by named rule and subject across nodes, with the wait in seconds', async () => {
    const { a, b, advance } = await open();
    const rules = { 'signin.ip': { limit: 3, windowMs: WINDOW_MS }, 'api.token': { limit: 100, windowMs: WINDOW_MS } };
    const onA = createRateLimiter({ state: a, rules });
    const onB = createRateLimiter({ state: b, rules });
    expect(await onA.check('signin.ip', '192.0.2.1')).toEqual({ remaining: 2 });
    expect(await onB.check('signin.ip', '192.0.2.1')).toEqual({ remaining: 1 });
    expect(await onA.check('signin.ip', '192.0.2.1')).toEqual({ remaining: 0 });
    const refused = await onB.check('signin.ip', '192.0.2.1').catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(AppError);
    expect(refused).toMatchObject({ code: 'rate_limited', status: 429, data: { retryAfterSeconds: 1 } });
    // Another subject, and the same subject under another rule, have their own counts.
    expect(await onA.check('signin.ip', '192.0.2.2')).toEqual({ remaining: 2 });
    expect(await onA.check('api.token', '192.0.2.1')).toEqual({ remaining: 99 });
    await advance(WINDOW_MS + 100);
    expect(await onB.check('signin.ip', '192.0.2.1')).toEqual({ remaining: 2 });
  });

  it('refuses rate rules that are not positive integers', async () => {
    const { a } = await open();
    expect(() => createRateLimiter({ state: a, rules: { bad: { limit: 0, windowMs: 1000 } } })).toThrow(TypeError);
    expect(() => createRateLimiter({ state: a, rules: { bad: { limit: 1, windowMs: 0.5 } } })).toThrow(TypeError);
    const limiter = createRateLimiter({ state: a, rules: { ok: { limit: 1, windowMs: 1000 } } });
    await expect((limiter.check as (rule: string, subject: string) => Promise<unknown>)('unknown', 's')).rejects.toThrow(TypeError);
  });
}
