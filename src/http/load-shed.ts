import { performance } from 'node:perf_hooks';

/**
 * Refuses work early when this process is saturated, so that a proxy in
 * front sees fast 503s instead of every request slowing down until all of
 * them time out. Two signals: requests in flight on the guarded routes
 * (work waiting on I/O piles up there), and how late the event loop runs a
 * timer (CPU work: every request on this process waits at least that long).
 * The first refuses by itself; the second only tells the caller, which
 * knows which of its requests are the expensive ones worth refusing.
 */
export interface LoadShedder {
  /** False when the caller should answer 503 now (too many in flight); otherwise call `leave()` when the request ends. */
  enter(): boolean;
  /** True while the averaged event-loop delay is past `maxEventLoopDelayMs` (never when that is 0). */
  behind(): boolean;
  /**
   * While behind: whether one more expensive request may still go ahead in
   * this tenth of a second (at most `behindAllowance` of them). A cache kept
   * warm by a trickle of store reads keeps serving; refusing every read
   * would empty it, and then refuse everyone.
   */
  allowWhileBehind(): boolean;
  /** Counts a request the caller refused because the loop is behind. */
  countShed(): void;
  leave(): void;
  /** Requests refused so far. */
  readonly shed: number;
  readonly inFlight: number;
  /** The averaged event-loop delay (ms). */
  readonly eventLoopDelayMs: number;
  close(): void;
}

export interface LoadShedOptions {
  /** Most requests in flight at once on the guarded routes. */
  maxInFlight: number;
  /**
   * Past this event-loop delay (ms), averaged over about a quarter of a
   * second, `behind()` is true until it falls again. Averaged because one
   * late timer (a GC pause, a synchronous PGlite query) is not overload.
   * 0: off. A machine starved of CPU by other processes also delays the
   * loop: refusing every request then would turn a slow node into a dead
   * one, which is why the caller refuses only its expensive requests.
   */
  maxEventLoopDelayMs: number;
  /** How often the delay is sampled (ms). */
  sampleIntervalMs?: number;
  /** Expensive requests let through per 100 ms while behind; default 10. */
  behindAllowance?: number;
}

const ALLOWANCE_WINDOW_MS = 100;

/** Weight of the newest sample in the moving average: with 50 ms samples, about 250 ms of memory. */
const SMOOTHING = 0.2;

export function createLoadShedder(options: LoadShedOptions): LoadShedder {
  const interval = options.sampleIntervalMs ?? 50;
  let inFlight = 0;
  let shed = 0;
  let delayMs = 0;
  let expected = performance.now() + interval;
  const allowance = options.behindAllowance ?? 10;
  let windowStart = 0;
  let allowed = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    delayMs += SMOOTHING * (Math.max(0, now - expected) - delayMs);
    expected = now + interval;
  }, interval);
  timer.unref();
  return {
    enter() {
      if (inFlight >= options.maxInFlight) {
        shed += 1;
        return false;
      }
      inFlight += 1;
      return true;
    },
    behind: () => options.maxEventLoopDelayMs > 0 && delayMs > options.maxEventLoopDelayMs,
    allowWhileBehind() {
      const now = performance.now();
      if (now - windowStart >= ALLOWANCE_WINDOW_MS) {
        windowStart = now;
        allowed = 0;
      }
      if (allowed >= allowance) return false;
      allowed += 1;
      return true;
    },
    countShed() {
      shed += 1;
    },
    leave() {
      inFlight -= 1;
    },
    get shed() {
      return shed;
    },
    get inFlight() {
      return inFlight;
    },
    get eventLoopDelayMs() {
      return delayMs;
    },
    close() {
      clearInterval(timer);
    },
  };
}
