/**
 * Runs browser operations one at a time, in arrival order (a key's down
 * must reach the page before its up), with a bound on how many may wait:
 * a client flooding the socket gets `false` back instead of a growing queue.
 */
export interface OpQueue {
  /** Queues `op`; false when the queue is full (the op is dropped). */
  push(op: () => Promise<void>): boolean;
  /** Resolves when everything queued so far has run. */
  idle(): Promise<void>;
  readonly pending: number;
}

export function createOpQueue(options: { limit: number; onError(error: unknown): void }): OpQueue {
  let tail: Promise<void> = Promise.resolve();
  let pending = 0;
  return {
    get pending() {
      return pending;
    },
    push(op) {
      if (pending >= options.limit) return false;
      pending++;
      tail = tail
        .then(op)
        .catch((error: unknown) => options.onError(error))
        .finally(() => {
          pending--;
        });
      return true;
    },
    idle: () => tail,
  };
}
