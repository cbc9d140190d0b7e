import { spawnSync } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createMemoryState } from '../../src/cluster/index.js';
import { sharedStateSuite } from './shared-state.suite.js';

function manualClock(start = 1_700_000_000_000) {
  let now = start;
  return {
    now: () => now,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

describe('in-process shared state', () => {
  sharedStateSuite(async () => {
    const clock = manualClock();
    const errors: unknown[] = [];
    const state = createMemoryState({ clock, onError: (error) => errors.push(error) });
    // One process is every node there is: both nodes are the same instance.
    return { a: state, b: state, errors, advance: async (ms) => clock.advance(ms), teardown: () => state.close() };
  });

  it('sweeps expired entries that are never read again', async () => {
    const clock = manualClock();
    const state = createMemoryState({ clock, sweepIntervalMs: 10 });
    try {
      await state.set('gone', 'v', 1000);
      await state.hit('gone', 1000, 1);
      clock.advance(1001);
      await new Promise((r) => setTimeout(r, 30));
      // Moving the clock back shows whether the entries were swept or only hidden by lazy expiry.
      clock.advance(-1001);
      expect(await state.get('gone')).toBeUndefined();
      expect((await state.hit('gone', 1000, 1)).count).toBe(1);
    } finally {
      await state.close();
    }
  });

  it('does not keep the process alive when nobody closes it', () => {
    const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
    const script = `
      import { createMemoryState } from './src/cluster/index.ts';
      const state = createMemoryState({ clock: { now: () => Date.now() } });
      await state.set('k', 1, 3_600_000);
      await state.subscribe('c', () => {});
    `;
    const started = Date.now();
    const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: root, timeout: 20_000 });
    expect(child.status, String(child.stderr)).toBe(0);
    expect(Date.now() - started).toBeLessThan(20_000);
  });

  it('checks what it was given', () => {
    expect(() => createMemoryState({} as never)).toThrow(TypeError);
    expect(() => createMemoryState({ clock: { now: () => 0 }, sweepIntervalMs: 0 })).toThrow(TypeError);
  });
});
