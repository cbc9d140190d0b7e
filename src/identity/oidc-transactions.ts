import { createHash } from 'node:crypto';
import type { Clock, IdGenerator } from '../core/index.js';
import type { SharedState } from '../cluster/index.js';

/** What a sign-in must remember between the redirect to the provider and the callback. Never sent to the browser. */
export interface OidcTransaction {
  state: string;
  nonce: string;
  codeVerifier: string;
  /** Same-origin path to land on after sign-in (already checked). */
  returnTo: string;
  createdAtMs: number;
}

export interface OidcTransactions {
  /** Stores a transaction; resolves to the random id the browser carries in a short-lived cookie. */
  save(tx: OidcTransaction): Promise<string>;
  /**
   * The transaction for `id`, removed at once: a second call with the same id
   * (a replayed callback, a second node racing) gets null.
   */
  take(id: string): Promise<OidcTransaction | null>;
}

/** 256 bits, base64url: the only shape `take` looks up. */
const ID_SHAPE = /^[A-Za-z0-9_-]{43}$/;

/**
 * Sign-in transactions in shared state (in-process or Redis), so the
 * callback may land on any node. The key is a hash of the id, so whoever can
 * read Redis cannot pick up a transaction from a key name.
 */
export function createOidcTransactions(deps: { state: SharedState; ids: IdGenerator; clock: Clock; ttlMs: number }): OidcTransactions {
  const keyOf = (id: string) => `oidc:tx:${createHash('sha256').update(id).digest('base64url')}`;
  return {
    async save(tx) {
      const id = deps.ids.token(32);
      await deps.state.set(keyOf(id), tx, deps.ttlMs);
      return id;
    },
    async take(id) {
      if (!ID_SHAPE.test(id)) return null;
      const key = keyOf(id);
      const record = (await deps.state.get(key)) as Partial<OidcTransaction> | undefined;
      if (!record) return null;
      // Only the caller whose delete removed the record may use it: one callback per transaction, across nodes.
      if (!(await deps.state.delete(key))) return null;
      if (
        typeof record.state !== 'string' ||
        typeof record.nonce !== 'string' ||
        typeof record.codeVerifier !== 'string' ||
        typeof record.returnTo !== 'string' ||
        typeof record.createdAtMs !== 'number'
      ) {
        return null;
      }
      if (deps.clock.now() - record.createdAtMs > deps.ttlMs) return null;
      return record as OidcTransaction;
    },
  };
}
