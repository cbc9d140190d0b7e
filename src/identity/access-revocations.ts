import type { Principal } from './principal.js';

/** A user's access ended: disabled, deleted, or left without any group. */
export interface AccessRevoked {
  userId: string;
  /** Who did it; null for the system (a provider's groups claim at sign-in). */
  by: Principal | null;
  /** Why, in a few words (`user disabled`, `removed from group`, ...); never a value. */
  reason: string;
  context?: { sourceIp?: string | undefined; userAgent?: string | undefined; requestId?: string | undefined } | undefined;
}

export type AccessRevokedListener = (event: AccessRevoked) => Promise<unknown>;

/** What Users and Groups tell when a user's access ends (after their web sessions have ended). */
export interface AccessRevokedPort {
  revoked(event: AccessRevoked): Promise<void>;
}

/**
 * The event that lets modules above identity (browser sessions) end what a
 * user still holds when their access ends, without identity importing them:
 * the composition root subscribes them. Created before they exist, since
 * users and groups are built first.
 */
export interface AccessRevocations extends AccessRevokedPort {
  /** Adds a listener; returns the function that removes it. */
  subscribe(listener: AccessRevokedListener): () => void;
}

/**
 * Listeners run one after another, each even when an earlier one failed; the
 * first failure is then thrown, so the change that caused it reports an
 * error and can be repeated (disabling a disabled user ends what is left).
 * `fallback` runs only while no listener is subscribed: a process that holds
 * no browser session (a CLI command against PostgreSQL) still ends the rows.
 */
export function createAccessRevocations(options: { fallback?: AccessRevokedListener | undefined } = {}): AccessRevocations {
  const listeners = new Set<AccessRevokedListener>();
  return {
    subscribe(listener) {
      if (typeof listener !== 'function') throw new TypeError('AccessRevocations.subscribe: a function is required');
      // A wrapper per call, so one function subscribed twice is removed once at a time.
      const entry: AccessRevokedListener = (event) => listener(event);
      listeners.add(entry);
      return () => void listeners.delete(entry);
    },
    async revoked(event) {
      const run = listeners.size > 0 ? [...listeners] : options.fallback ? [options.fallback] : [];
      let failure: { error: unknown } | undefined;
      for (const listener of run) {
        try {
          await listener(event);
        } catch (error) {
          failure ??= { error };
        }
      }
      if (failure) throw failure.error;
    },
  };
}
