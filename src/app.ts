import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { createAccess, type Access } from './access/index.js';
import { createAudit, type Actor, type Audit } from './audit/index.js';
import type { Config } from './config/index.js';
import { loadOrCreateKeyFile, randomIds, systemClock, type Clock, type IdGenerator, type Redactor } from './core/index.js';
import { createDetect, type Detect } from './detect/index.js';
import { createHttpServer } from './http/index.js';
import { createApiTokens, createAuthThrottle, AUTH_FAILURE_RULE, type ApiTokens, type AuthThrottle } from './identity/index.js';
import { createUsers, type Users, type UserSessionsPort } from './identity/index.js';
import { createMemoryState, createRateLimiter, createRedisState, type SharedState } from './cluster/index.js';
import { openDatabase, type Database } from './store/index.js';

/**
 * The composition root's wiring: one small function per module, each taking
 * what it needs explicitly. `src/main.ts` and the CLI call these; nothing
 * here runs at import time.
 */
export interface AppContext {
  config: Config;
  logger: Logger;
  redactor: Redactor;
  version: string;
  clock?: Clock;
  ids?: IdGenerator;
}

export interface Services {
  config: Config;
  logger: Logger;
  version: string;
  database: Database;
  audit: Audit;
  tokens: ApiTokens;
  /** Local and provisioned accounts. */
  users: Users;
  access: Access;
  /** Shared state: in-process, or Redis with REDIS_URL (every node then counts and sees the same). */
  state: SharedState;
  throttle: AuthThrottle;
  /** Brute-force detection and alerts (audit + signed webhooks). */
  detect: Detect;
  /** The actor that system events (start, stop) are recorded under. */
  systemActor: Actor;
  /** Settles the audit trail and closes the database. */
  close(): Promise<void>;
}

export async function openServices(ctx: AppContext): Promise<Services> {
  const clock = ctx.clock ?? systemClock;
  const ids = ctx.ids ?? randomIds;
  const database = await wireStore(ctx);
  let state: SharedState | undefined;
  try {
    state = await wireCluster(ctx, clock);
    const audit = await wireAudit(ctx, database, clock, ids);
    const tokens = createApiTokens({ db: database.db, trail: audit.trail, clock, ids });
    const access = createAccess({ trail: audit.trail });
    const users = wireUsers(ctx, database, audit, clock, ids, pendingWebSessions);
    const limiter = createRateLimiter({ state, rules: { [AUTH_FAILURE_RULE]: { limit: ctx.config.authFailureLimit, windowMs: 60_000 } } });
    const throttle = createAuthThrottle({ state, limiter, clock });
    const detect = wireDetect(ctx, audit, state, clock, ids);
    const shared = state;
    return {
      config: ctx.config,
      logger: ctx.logger,
      version: ctx.version,
      database,
      audit,
      tokens,
      users,
      access,
      state: shared,
      throttle,
      detect,
      systemActor: { kind: 'system', id: ctx.config.nodeId, name: 'webasset' },
      async close() {
        // Webhook deliveries in flight may still record alert.delivery_failed: before the trail closes.
        await detect.close();
        await audit.trail.close();
        await shared.close();
        await database.close();
      },
    };
  } catch (error) {
    await state?.close();
    await database.close();
    throw error;
  }
}

/** Where enrolment links point: WEBASSET_PUBLIC_URL, else the address this node listens on. */
export function publicBaseUrl(config: Config): string {
  if (config.publicUrl) return config.publicUrl;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  return `http://${host}:${config.port}`;
}

// Until web sessions (helper A) are wired in, no session exists, so there is none to end.
const pendingWebSessions: UserSessionsPort = { revokeAllForUser: async () => 0 };

function wireUsers(ctx: AppContext, database: Database, audit: Audit, clock: Clock, ids: IdGenerator, sessions: UserSessionsPort): Users {
  return createUsers({ db: database.db, trail: audit.trail, clock, ids, sessions, publicUrl: publicBaseUrl(ctx.config) });
}

async function wireCluster(ctx: AppContext, clock: Clock): Promise<SharedState> {
  const { config, logger } = ctx;
  const onError = (error: unknown) => logger.warn({ err: error }, 'shared state error');
  if (!config.redisUrl) return createMemoryState({ clock, onError });
  const state = await createRedisState({ url: config.redisUrl, keyPrefix: config.redisKeyPrefix, onError });
  logger.info({ keyPrefix: config.redisKeyPrefix }, 'shared state: Redis');
  return state;
}

function wireDetect(ctx: AppContext, audit: Audit, state: SharedState, clock: Clock, ids: IdGenerator): Detect {
  const { config, logger, redactor } = ctx;
  // The path of a chat webhook URL is often its credential: never in a log line or audit event.
  for (const url of config.alertWebhookUrls) redactor.addSecret(url);
  return createDetect({
    trail: audit.trail,
    state,
    clock,
    ids,
    logger,
    actor: { kind: 'system', id: config.nodeId, name: 'webasset' },
    webhooks: { urls: config.alertWebhookUrls, secret: config.alertWebhookSecret },
    userAgent: `webasset/${ctx.version}`,
  });
}

async function wireStore(ctx: AppContext): Promise<Database> {
  const { config, logger } = ctx;
  const database = await openDatabase({
    databaseUrl: config.databaseUrl,
    dataDir: config.dataDir,
    poolMax: config.databasePoolMax,
    onBackgroundError: (error) => logger.warn({ err: error }, 'database connection error'),
  });
  try {
    const applied = await database.migrate();
    if (applied.length > 0) logger.info({ migrations: applied }, 'database migrated');
  } catch (error) {
    await database.close();
    throw error;
  }
  logger.info({ database: database.kind, dataDir: database.kind === 'pglite' ? config.dataDir : undefined }, 'database ready');
  return database;
}

async function wireAudit(ctx: AppContext, database: Database, clock: Clock, ids: IdGenerator): Promise<Audit> {
  const { config, logger } = ctx;
  const audit = createAudit({
    db: database.db,
    copyOut: database.copyOut,
    dataDir: config.dataDir,
    signingKey: resolveSigningKey(ctx, database),
    trustedPublicKeys: config.auditTrustedKeys,
    nodeId: config.nodeId,
    clock,
    ids,
    redactor: ctx.redactor,
    logger,
    batchMax: config.auditBatchMax,
    checkpointEvery: config.auditCheckpointEvery,
    checkpointSeconds: config.auditCheckpointSeconds,
    pageMax: config.auditPageMax,
  });
  await audit.trail.start();
  return audit;
}

function resolveSigningKey(ctx: AppContext, database: Database): string {
  const { config, logger, redactor } = ctx;
  if (config.auditSigningKey) return config.auditSigningKey;
  const path = join(config.dataDir, 'keys', 'audit-signing.key');
  const { key, created } = loadOrCreateKeyFile(path);
  redactor.addSecret(key);
  if (created) {
    logger.warn({ path }, 'DEVELOPMENT DEFAULT: created an audit signing key file; production must set WEBASSET_AUDIT_SIGNING_KEY(_FILE)');
  }
  if (database.kind === 'postgres') {
    logger.warn('WEBASSET_AUDIT_SIGNING_KEY is not set: each node signs with its own key file, so checkpoints of other nodes will not verify here');
  }
  return key;
}

export interface RunningServer {
  http: FastifyInstance;
  /** Base URL the server listens on. */
  url: string;
  /** Graceful stop: no new requests, in-flight ones finish, `system.stopped` recorded, trail flushed, database closed. */
  stop(reason: string): Promise<void>;
}

export async function startServer(services: Services): Promise<RunningServer> {
  const { config, logger, audit } = services;
  let shuttingDown = false;
  const http = await createHttpServer({
    logger,
    trail: audit.trail,
    auditService: audit.service,
    tokens: services.tokens,
    access: services.access,
    throttle: services.throttle,
    trustedProxies: config.trustedProxies,
    ping: () => services.database.ping(),
    pingState: async () => {
      await services.state.get('readyz');
    },
    isShuttingDown: () => shuttingDown,
  });
  const address = await http.listen({ port: config.port, host: config.host });
  try {
    await audit.trail.record({
      actor: services.systemActor,
      action: 'system.started',
      outcome: 'success',
      details: { version: services.version, database: services.database.kind, node: config.nodeId },
    });
  } catch (error) {
    // Fail closed: a node whose start cannot be audited does not serve.
    await http.close();
    throw error;
  }
  logger.info({ url: address, version: services.version, node: config.nodeId }, 'webasset is listening');
  let stopping: Promise<void> | undefined;
  return {
    http,
    url: address,
    stop(reason) {
      stopping ??= (async () => {
        shuttingDown = true;
        await http.close();
        try {
          await audit.trail.record({ actor: services.systemActor, action: 'system.stopped', outcome: 'success', details: { reason, version: services.version } });
        } catch (error) {
          logger.error({ err: error }, 'could not record system.stopped');
        }
        await services.close();
        logger.info({ reason }, 'webasset stopped');
      })();
      return stopping;
    },
  };
}
