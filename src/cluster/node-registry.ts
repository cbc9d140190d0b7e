import type { SharedState } from './shared-state.js';

/**
 * Which serving node answers at which internal address, in shared state:
 * each node that others may reach announces `nodeId → URL` with a lifetime
 * and renews it (a heartbeat), so a node that died without a goodbye drops
 * out after one lifetime. The live view relays a viewer to the node holding
 * its session through this (http/live-view/relay.ts, decision 0020).
 */
export interface NodeRegistry {
  /** The internal base URL of `nodeId` while it is announced; undefined when unknown, expired, or not an http(s) URL. */
  lookup(nodeId: string): Promise<string | undefined>;
  /** Announces this node now and then every third of the lifetime (unref'd timer; it goes on when the first one fails); needs `url`. Safe to call twice. */
  start(): Promise<void>;
  /** Stops the heartbeat and withdraws this node's entry, so peers stop relaying to it at once. Safe to call twice. */
  stop(): Promise<void>;
}

export interface NodeRegistryOptions {
  state: SharedState;
  /** This node's id (WEBASSET_NODE_ID). */
  nodeId: string;
  /** This node's address as the other nodes reach it (WEBASSET_NODE_URL); unset: never announced, lookups only. */
  url?: string | undefined;
  /** Lifetime of an announcement; default 30 s. */
  ttlMs?: number;
  /** A failed heartbeat (Redis away): logged by the caller; the next beat tries again. */
  onError?: (error: unknown) => void;
}

const DEFAULT_TTL_MS = 30_000;
const KEY_PREFIX = 'cluster:node:';

/** An http(s) origin, nothing else: what the registry hands out is where a node opens a connection. */
export function isNodeUrl(value: unknown): value is string {
  if (typeof value !== 'string') return false;
  try {
    const u = new URL(value);
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.username === '' && u.password === '' && u.origin === value.replace(/\/$/, '');
  } catch {
    return false;
  }
}

export function createNodeRegistry(options: NodeRegistryOptions): NodeRegistry {
  const { state, nodeId } = options;
  if (!state) throw new TypeError('createNodeRegistry: state is required');
  if (typeof nodeId !== 'string' || nodeId === '') throw new TypeError('createNodeRegistry: nodeId is required');
  if (options.url !== undefined && !isNodeUrl(options.url)) throw new TypeError('createNodeRegistry: url must be an http(s) origin');
  const url = options.url?.replace(/\/$/, '');
  const ttlMs = options.ttlMs ?? DEFAULT_TTL_MS;
  if (!Number.isSafeInteger(ttlMs) || ttlMs < 3) throw new TypeError('createNodeRegistry: ttlMs must be a whole number of milliseconds, 3 or more');
  const onError = options.onError ?? (() => undefined);
  let timer: NodeJS.Timeout | undefined;
  let beating: Promise<void> = Promise.resolve();
  let stopped = false;

  const announce = () => state.set(KEY_PREFIX + nodeId, { url }, ttlMs);

  return {
    async lookup(id) {
      if (typeof id !== 'string' || id === '') return undefined;
      const record = await state.get(KEY_PREFIX + id);
      const found = record && typeof record === 'object' ? (record as { url?: unknown }).url : undefined;
      return isNodeUrl(found) ? found : undefined;
    },

    async start() {
      if (!url) throw new TypeError('createNodeRegistry: start() needs this node\'s url');
      if (timer || stopped) return;
      // The heartbeat runs first: a first announcement that fails (Redis away) is retried by it.
      timer = setInterval(() => {
        beating = announce().catch(onError);
      }, Math.floor(ttlMs / 3));
      timer.unref();
      await announce();
    },

    async stop() {
      if (stopped) return;
      stopped = true;
      if (!timer) return;
      clearInterval(timer);
      timer = undefined;
      await beating;
      await state.delete(KEY_PREFIX + nodeId).catch(onError);
    },
  };
}
