/** Runs the recordings' database writes one at a time, each in a turn of the event loop of its own. */
export interface WriteLane {
  /** Runs `task` after the tasks queued before it; its outcome is the caller's (a failure does not stop the lane). */
  run<T>(task: () => Promise<T>): Promise<T>;
}

/**
 * The embedded database runs each query on this thread, and Node hands every finished file write
 * (a chunk's or a manifest's fsync) back in one batch: without the lane, 20 sessions ending
 * together chain their 20 seals' transactions into one long turn and no request is answered
 * meanwhile (docs/decisions/0024-recording-format.md, "Ending together"). Here a task starts from
 * `setImmediate`, only when the one before it has settled, so other I/O runs between two of them.
 */
export function createWriteLane(): WriteLane {
  let tail: Promise<unknown> = Promise.resolve();
  return {
    run<T>(task: () => Promise<T>): Promise<T> {
      const result = tail.then(() => new Promise<void>((resolve) => setImmediate(resolve))).then(task);
      tail = result.catch(() => undefined);
      return result;
    },
  };
}
