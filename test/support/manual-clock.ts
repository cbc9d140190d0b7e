import type { Clock } from '../../src/core/index.js';

/** A clock the test moves by hand (timeouts without waiting). */
export class ManualClock implements Clock {
  constructor(private time = Date.UTC(2026, 0, 5, 9, 0, 0)) {}
  now(): number {
    return this.time;
  }
  advance(ms: number): void {
    this.time += ms;
  }
}
