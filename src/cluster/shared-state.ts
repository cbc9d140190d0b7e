/**
 * What the modules above need from state shared by every node: rate-limit
 * counters, small session records with a lifetime, and a broadcast channel
 * (session revocation). Nothing more, so that a second backend stays small.
 */
export interface SharedState {
  /**
   * Counts one hit on `key` in a fixed window of `windowMs` that starts at the
   * key's first hit, atomically across nodes. A hit over `limit` is refused
   * (and still counted, which does not lengthen the window).
   */
  hit(key: string, windowMs: number, limit: number): Promise<HitResult>;
  /**
   * Takes one hit back from the counter at `key`, atomically across nodes (an attempt that was
   * counted before it ran and turned out not to count). Never below zero, never a new counter,
   * and the window is left as it is: once the window is over there is nothing to give back.
   */
  unhit(key: string): Promise<void>;
  /** The record stored under `key`, parsed from JSON, or undefined when absent or expired. */
  get(key: string): Promise<unknown>;
  /** Stores a JSON-serializable record for `ttlMs`; replaces any record and lifetime before. */
  set(key: string, value: unknown, ttlMs: number): Promise<void>;
  /** Removes a record; true when there was one. */
  delete(key: string): Promise<boolean>;
  /**
   * Replaces a record only while one exists, with a new lifetime; false (and
   * nothing written) when it is absent or expired. So a late write can never
   * bring back a record another node has just deleted (a revoked session).
   */
  replace(key: string, value: unknown, ttlMs: number): Promise<boolean>;
  /** Adds `member` to the set at `key` (sets live apart from records and counters); the set then lives `ttlMs` from now. */
  addMember(key: string, member: string, ttlMs: number): Promise<void>;
  /** Removes `member` from the set; true when it was there. */
  removeMember(key: string, member: string): Promise<boolean>;
  /** The members of the set at `key` (empty when absent or expired), in no particular order. */
  members(key: string): Promise<string[]>;
  /** Sends `message` to every subscriber of `channel` on every node (best effort, at most once). */
  publish(channel: string, message: string): Promise<void>;
  /** Calls `handler` for each message on `channel`; resolves once subscribed, to the function that unsubscribes. */
  subscribe(channel: string, handler: (message: string) => void): Promise<() => Promise<void>>;
  /** Stops timers and closes connections; later calls fail. Safe to call twice. */
  close(): Promise<void>;
}

export interface HitResult {
  allowed: boolean;
  /** Hits in the current window, this one included. */
  count: number;
  /** 0 when allowed; otherwise milliseconds until the window ends. */
  retryAfterMs: number;
}

/** Keys and channels: any non-empty string (backends add their own prefix). */
export function checkKey(key: string): void {
  if (typeof key !== 'string' || key.length === 0) throw new TypeError('shared state: a key must be a non-empty string');
}

/** Windows, limits and lifetimes: whole milliseconds or counts, above zero. */
export function checkPositiveInteger(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value <= 0) throw new TypeError(`shared state: ${name} must be a positive integer`);
}

/** A prefix is required: an empty one would let two deployments on one Redis read each other's sessions. */
export function checkKeyPrefix(prefix: string): void {
  if (typeof prefix !== 'string' || prefix.length === 0) throw new TypeError('shared state: keyPrefix must be a non-empty string');
}

/** Set members: non-empty strings. */
export function checkMember(member: string): void {
  if (typeof member !== 'string' || member.length === 0) throw new TypeError('shared state: a set member must be a non-empty string');
}

/** JSON text of a record; refuses a value JSON cannot hold at all (undefined, a function). */
export function recordText(value: unknown): string {
  const text = JSON.stringify(value);
  if (text === undefined) throw new TypeError('shared state: a record must be JSON-serializable');
  return text;
}
