import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import { AppError } from '../core/index.js';
import {
  checkKey,
  checkKeyPrefix,
  checkMember,
  checkPositiveInteger,
  recordText,
  type HitResult,
  type SharedState,
} from './shared-state.js';

export interface RedisStateOptions {
  /** `redis://` or `rediss://` URL; the state opens and closes its own connections. */
  url?: string;
  /**
   * An existing client instead of `url`. The caller owns it (close() leaves it
   * open); it should have `enableOfflineQueue: false` so an outage fails fast.
   */
  client?: Redis;
  /** Put before every key and channel, e.g. `webasset:`; lets several deployments share one Redis. */
  keyPrefix: string;
  /** Default 2000 ms. */
  connectTimeoutMs?: number;
  /** Default 2000 ms: a Redis that accepts the connection but never answers must not hang a request. */
  commandTimeoutMs?: number;
  /** Background errors: connection loss of either connection, or a subscriber's handler that throws. */
  onError?: (error: unknown) => void;
}

/** Key kinds live apart, so a counter and a record can never read each other's value. */
const KEY_SPACE = { hit: 'hit:', record: 'rec:', set: 'set:', channel: 'chan:' } as const;

// Fixed window from the first hit: INCR, and give the key its lifetime when it has none yet.
// One script, so two nodes can never both see the count before the other's increment.
const HIT_SCRIPT = `
local count = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {count, ttl}
`;
const HIT_SHA = createHash('sha1').update(HIT_SCRIPT).digest('hex');
// DECR alone would create a counter without a lifetime (-1) once the window is over; DECR keeps the key's lifetime.
const UNHIT_SCRIPT = `
local count = tonumber(redis.call('GET', KEYS[1]) or '0')
if count > 0 then
  return redis.call('DECR', KEYS[1])
end
return count
`;
const UNHIT_SHA = createHash('sha1').update(UNHIT_SCRIPT).digest('hex');

/**
 * Shared state in Redis, for several nodes. Commands are never queued while
 * Redis is unreachable: they fail at once with `shared_state_unavailable`
 * (503), and ioredis reconnects in the background. Pub/sub uses a second
 * connection, opened on the first subscribe. Keys and values never appear in
 * error details (a key can hold a session id).
 *
 * Resolves once connected; rejects with `shared_state_unavailable` when Redis
 * cannot be reached within the connect timeout.
 */
export async function createRedisState(options: RedisStateOptions): Promise<SharedState> {
  checkKeyPrefix(options.keyPrefix);
  if ((options.url === undefined) === (options.client === undefined)) {
    throw new TypeError('createRedisState: give exactly one of url or client');
  }
  const connectTimeout = options.connectTimeoutMs ?? 2_000;
  const commandTimeout = options.commandTimeoutMs ?? 2_000;
  checkPositiveInteger('connectTimeoutMs', connectTimeout);
  checkPositiveInteger('commandTimeoutMs', commandTimeout);
  const onError = options.onError ?? (() => undefined);
  const prefix = options.keyPrefix;

  const ownsClient = options.client === undefined;
  const client =
    options.client ??
    new Redis(options.url!, {
      lazyConnect: true,
      connectTimeout,
      commandTimeout,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
    });
  // Without a listener ioredis prints every reconnect failure to the console.
  const forward = (error: unknown): void => onError(error);
  if (ownsClient) client.on('error', forward);
  await connect(client, 'connect', ownsClient, connectTimeout);

  let closed = false;
  let subscriber: Promise<Redis> | undefined;
  const channels = new Map<string, { handlers: Set<(message: string) => void>; ready: Promise<unknown> }>();

  const open = (): void => {
    if (closed) throw new Error('shared state: closed');
  };
  const call = async <T>(operation: string, run: () => Promise<T>): Promise<T> => {
    open();
    try {
      return await run();
    } catch (error) {
      throw unavailable(operation, error);
    }
  };

  const dispatch = (prefixedChannel: string, message: string): void => {
    const entry = channels.get(prefixedChannel);
    if (!entry) return;
    for (const handler of [...entry.handlers]) {
      try {
        handler(message);
      } catch (error) {
        onError(error);
      }
    }
  };
  const openSubscriber = async (): Promise<Redis> => {
    // Same options as the main connection; a subscribed connection can run nothing else.
    const sub = client.duplicate({ lazyConnect: true, enableOfflineQueue: false, connectTimeout, commandTimeout });
    sub.on('error', forward);
    sub.on('message', dispatch);
    try {
      await connect(sub, 'subscribe', true, connectTimeout);
    } catch (error) {
      sub.disconnect();
      throw error;
    }
    return sub;
  };

  return {
    async hit(key, windowMs, limit): Promise<HitResult> {
      checkKey(key);
      checkPositiveInteger('windowMs', windowMs);
      checkPositiveInteger('limit', limit);
      const k = prefix + KEY_SPACE.hit + key;
      const [count, ttl] = await call('hit', async () => {
        try {
          return (await client.evalsha(HIT_SHA, 1, k, windowMs)) as [number, number];
        } catch (error) {
          // First use on this Redis (or after SCRIPT FLUSH): send the text once, it is cached from then on.
          if (!String((error as Error).message).startsWith('NOSCRIPT')) throw error;
          return (await client.eval(HIT_SCRIPT, 1, k, windowMs)) as [number, number];
        }
      });
      const allowed = count <= limit;
      return { allowed, count, retryAfterMs: allowed ? 0 : Math.max(1, ttl) };
    },

    async unhit(key) {
      checkKey(key);
      const k = prefix + KEY_SPACE.hit + key;
      await call('unhit', async () => {
        try {
          return await client.evalsha(UNHIT_SHA, 1, k);
        } catch (error) {
          if (!String((error as Error).message).startsWith('NOSCRIPT')) throw error;
          return client.eval(UNHIT_SCRIPT, 1, k);
        }
      });
    },

    async get(key) {
      checkKey(key);
      const text = await call('get', () => client.get(prefix + KEY_SPACE.record + key));
      return text === null ? undefined : (JSON.parse(text) as unknown);
    },

    async set(key, value, ttlMs) {
      checkKey(key);
      checkPositiveInteger('ttlMs', ttlMs);
      const text = recordText(value);
      await call('set', () => client.set(prefix + KEY_SPACE.record + key, text, 'PX', ttlMs));
    },

    async delete(key) {
      checkKey(key);
      return (await call('delete', () => client.del(prefix + KEY_SPACE.record + key))) > 0;
    },

    async replace(key, value, ttlMs) {
      checkKey(key);
      checkPositiveInteger('ttlMs', ttlMs);
      const text = recordText(value);
      // XX: only when the key exists, atomically; a record deleted meanwhile stays deleted.
      return (await call('replace', () => client.set(prefix + KEY_SPACE.record + key, text, 'PX', ttlMs, 'XX'))) === 'OK';
    },

    async addMember(key, member, ttlMs) {
      checkKey(key);
      checkMember(member);
      checkPositiveInteger('ttlMs', ttlMs);
      const k = prefix + KEY_SPACE.set + key;
      const results = await call('addMember', () => client.multi().sadd(k, member).pexpire(k, ttlMs).exec());
      const failed = results?.find(([error]) => error);
      if (!results || failed) throw unavailable('addMember', failed?.[0] ?? new Error('transaction aborted'));
    },

    async removeMember(key, member) {
      checkKey(key);
      checkMember(member);
      return (await call('removeMember', () => client.srem(prefix + KEY_SPACE.set + key, member))) > 0;
    },

    async members(key) {
      checkKey(key);
      return call('members', () => client.smembers(prefix + KEY_SPACE.set + key));
    },

    async publish(channel, message) {
      checkKey(channel);
      await call('publish', () => client.publish(prefix + KEY_SPACE.channel + channel, message));
    },

    async subscribe(channel, handler) {
      checkKey(channel);
      const name = prefix + KEY_SPACE.channel + channel;
      const wrapped = (message: string): void => handler(message);
      const sub = await call('subscribe', () => (subscriber ??= openSubscriber().catch((error: unknown) => {
        subscriber = undefined;
        throw error;
      })));
      let entry = channels.get(name);
      if (!entry) {
        entry = { handlers: new Set(), ready: sub.subscribe(name) };
        channels.set(name, entry);
      }
      entry.handlers.add(wrapped);
      try {
        // Later subscribers of a channel wait for the first one's SUBSCRIBE, so none resolves early.
        await call('subscribe', () => entry.ready);
      } catch (error) {
        if (channels.get(name) === entry) channels.delete(name);
        throw error;
      }
      return async () => {
        const current = channels.get(name);
        if (!current?.handlers.delete(wrapped) || current.handlers.size > 0) return;
        channels.delete(name);
        if (!closed) await call('unsubscribe', () => sub.unsubscribe(name));
      };
    },

    async close() {
      if (closed) return;
      closed = true;
      channels.clear();
      const sub = await subscriber?.catch(() => undefined);
      await Promise.all([sub && quit(sub), ownsClient && quit(client)]);
      if (ownsClient) client.off('error', forward);
    },
  };
}

async function connect(redis: Redis, operation: string, owned: boolean, timeoutMs: number): Promise<void> {
  if (redis.status === 'ready') return;
  try {
    if (redis.status === 'wait') void redis.connect().catch(() => undefined);
    await readyWithin(redis, timeoutMs);
  } catch (error) {
    // Stop ioredis from reconnecting forever behind a start-up that has already failed.
    if (owned && redis.status !== 'end') redis.disconnect();
    throw unavailable(operation, error);
  }
}

/**
 * Ready (connected and past the ready check) within the deadline. ioredis's
 * connectTimeout covers only the TCP connect: a server that accepts and then
 * stays silent would otherwise hang the start for ever.
 */
async function readyWithin(redis: Redis, timeoutMs: number): Promise<void> {
  let settle: (() => void) | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('not ready within the connect timeout')), timeoutMs);
      const onReady = (): void => resolve();
      // A refused connection goes to 'reconnecting' at once; no need to wait out the deadline.
      const onClose = (): void => reject(new Error('connection closed before ready'));
      redis.once('ready', onReady);
      redis.once('close', onClose);
      settle = () => {
        clearTimeout(timer);
        redis.off('ready', onReady);
        redis.off('close', onClose);
      };
    });
  } finally {
    settle?.();
  }
}

async function quit(redis: Redis): Promise<void> {
  try {
    await redis.quit();
  } catch {
    // Already gone (Redis down): drop the socket and the reconnect timer.
    redis.disconnect();
  }
}

/** Only the operation and the error's name and code: an ioredis message can carry a reply, never trust it with values. */
function unavailable(operation: string, error: unknown): AppError {
  if (error instanceof AppError) return error;
  const e = error as { name?: unknown; code?: unknown } | null;
  const what = [e?.name, e?.code].filter((part) => typeof part === 'string').join(' ');
  return new AppError('shared_state_unavailable', { detail: `redis ${operation} failed${what ? ` (${what})` : ''}`, cause: error });
}
