import { describe, expect, it } from 'vitest';
import { createWriteLane } from '../../src/recording/write-lane.js';

describe('write lane', () => {
  it('runs tasks one at a time, in order; a failed task is its caller\'s and the next one still runs', async () => {
    const lane = createWriteLane();
    const log: string[] = [];
    let running = 0;
    const task = (name: string, fail = false) => async () => {
      running++;
      expect(running).toBe(1);
      log.push(`${name} start`);
      await new Promise((resolve) => setTimeout(resolve, 2));
      log.push(`${name} end`);
      running--;
      if (fail) throw new Error(`${name} failed`);
      return name;
    };
    const results = await Promise.allSettled([lane.run(task('a')), lane.run(task('b', true)), lane.run(task('c'))]);
    expect(results.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message))).toEqual(['a', 'b failed', 'c']);
    expect(log).toEqual(['a start', 'a end', 'b start', 'b end', 'c start', 'c end']);
  });

  it('starts each task in a turn of the event loop of its own, so other callbacks run between two tasks', async () => {
    // Tasks that finish at once (as a query of the embedded database does, on this thread) would otherwise
    // follow one another in one turn, and a request waiting for its turn would wait for all of them.
    const lane = createWriteLane();
    const log: string[] = [];
    const tasks = [1, 2, 3].map((n) =>
      lane.run(async () => {
        log.push(`task ${n}`);
        setImmediate(() => log.push(`other after ${n}`));
      }),
    );
    await Promise.all(tasks);
    await new Promise((resolve) => setImmediate(resolve));
    expect(log).toEqual(['task 1', 'other after 1', 'task 2', 'other after 2', 'task 3', 'other after 3']);
  });
});
