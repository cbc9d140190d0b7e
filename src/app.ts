import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { createAccess, type Access } from './access/index.js';
import { createAssets, createGrants, type Assets, type Grants } from './access/index.js';
import { createForwardAuthGate, createForwardAuthRules, createReturnUrlPolicy, type ForwardAuthGate, type ReturnUrlPolicy } from './access/index.js';
import { createAudit, createDocumentSigner, createDocumentVerifier, type Actor, type Audit } from './audit/index.js';
import type { Config } from './config/index.js';
import { loadOrCreateKeyFile, randomIds, systemClock, type Clock, type IdGenerator, type Redactor } from './core/index.js';
import { createDetect, type Detect } from './detect/index.js';
import { createForwardAuthStats, createHttpServer, createLiveViewRelay, createSessionRelay, type ForwardAuthStats } from './http/index.js';
import { createApiTokens, createAuthThrottle, AUTH_FAILURE_RULE, type ApiTokens, type AuthThrottle } from './identity/index.js';
import { createUsers, type Users, type UserSessionsPort } from './identity/index.js';
import { createEnrolment, createIdentityKey, createLocalSignIn, createLockout, createMfa, createPasswordHasher, createPasswordPolicy, type Enrolment, type LocalSignIn, type Mfa, type SignInFailureSink, type WebSessions as AccountSessions } from './identity/index.js';
import { createCachedSessionStore, createDatabaseSessionStore, createSharedStateSessionStore, createWebSessions, type WebSessions } from './identity/index.js';
import { createGroups, createOidcSignIn, parseGroupMap, type Groups, type OidcGroupsPort, type OidcSignIn } from './identity/index.js';
import { createAccessRevocations, type AccessRevocations, type AccessRevokedListener, type AccessRevokedPort } from './identity/index.js';
import { createMemoryState, createNodeRegistry, createRateLimiter, createRedisState, type NodeRegistry, type SharedState } from './cluster/index.js';
import { openDatabase, type Database } from './store/index.js';
import { createInfisicalSource, openVault, type Vault } from './vault/index.js';
import { createBrowserPool, findChromium, type BrowserPool } from './browser/index.js';
import { createBrowserSessions, createStoredSessionsEnder, createTrialLogin, type BrowserSessions, type TrialLogin } from './sessions/index.js';
import { createFileRecordingStorage, createRecordings, type Recordings } from './recording/index.js';
import { createRecordingExporter, findFfmpeg, type RecordingExporter } from './recording/index.js';
import { createMcpTools, createToolPolicy, type McpTools } from './mcp/index.js';

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
  /** Local sign-in, enrolment links and the signed-in user's own MFA. */
  accounts: Accounts;
  /** Server-side web sessions (database, or Redis with REDIS_URL). */
  sessions: WebSessions;
  access: Access;
  /** Groups and memberships (admin API, import, OIDC sync). */
  groups: Groups;
  /** Told when a user's access ends (disabled, deleted, last group gone); a serving node's browser sessions subscribe. */
  revocations: AccessRevocations;
  /** The asset catalog and its permission rows. */
  assets: Assets;
  grants: Grants;
  /** ForwardAuth (GET /authz): host rules with audited denials, the return-URL allowlist, counters. */
  forwardAuth: ForwardAuthWiring;
  /** Shared state: in-process, or Redis with REDIS_URL (every node then counts and sees the same). */
  state: SharedState;
  throttle: AuthThrottle;
  /** Brute-force detection and alerts (audit + signed webhooks). */
  detect: Detect;
  /** Single sign-on (OpenID Connect); null when OIDC_ISSUER is unset. */
  oidc: OidcSignIn | null;
  /** Portal credentials, sealed; read only by the browser module (vault.read). */
  vault: Vault;
  /** Session recordings (WEBASSET_RECORDINGS_DIR), sealed with the audit signing key; sessions, HTTP and the CLI share this one. */
  recordings: Recordings;
  /** Video export of recordings: one per process, so exports run one at a time whoever asks (HTTP, or the CLI through the admin socket). */
  recordingExporter: RecordingExporter;
  /** The actor that system events (start, stop) are recorded under. */
  systemActor: Actor;
  clock: Clock;
  ids: IdGenerator;
  /** Settles the audit trail and closes the database. */
  close(): Promise<void>;
}

export async function openServices(ctx: AppContext): Promise<Services> {
  const clock = ctx.clock ?? systemClock;
  const ids = ctx.ids ?? randomIds;
  const database = await wireStore(ctx);
  let state: SharedState | undefined;
  let sessions: WebSessions | undefined;
  let vault: Vault | undefined;
  try {
    state = await wireCluster(ctx, clock);
    const signingKey = resolveSigningKey(ctx, database);
    const audit = await wireAudit(ctx, database, signingKey, clock, ids);
    const recordings = wireRecordings(ctx, database, audit, signingKey, clock, ids);
    const access = createAccess({ trail: audit.trail, db: database.db, clock, mfaRoles: ctx.config.mfaRequiredRoles });
    const assets = createAssets({ db: database.db, trail: audit.trail, clock });
    const grants = createGrants({ db: database.db, trail: audit.trail, clock, ids });
    const forwardAuth = wireForwardAuth(ctx, audit, clock);
    const webSessions = (sessions = wireSessions(ctx, database, audit, state, clock, ids));
    // A serving node's browser sessions subscribe at start; a one-shot command ends the stored rows for the nodes to close.
    const revocations = createAccessRevocations({
      fallback: createStoredSessionsEnderListener(database, audit, clock, ctx.config.nodeId),
    });
    const users = wireUsers(ctx, database, audit, clock, ids, webSessions, revocations);
    const groups = wireGroups(database, audit, clock, ids, webSessions, users, revocations);
    const tokens = createApiTokens({ db: database.db, trail: audit.trail, clock, ids, users });
    const limiter = createRateLimiter({ state, rules: { [AUTH_FAILURE_RULE]: { limit: ctx.config.authFailureLimit, windowMs: 60_000 } } });
    const throttle = createAuthThrottle({ state, limiter, clock });
    const detect = wireDetect(ctx, audit, state, clock, ids);
    const accounts = wireAccounts(ctx, { database, audit, state, clock, ids, users, sessions: webSessions, detect });
    const oidc = wireOidc(ctx, { state, audit, users, sessions: webSessions, groups, clock, ids, returnUrls: forwardAuth.returnUrls });
    // A wrong master key stops the start here, before anything is served.
    const vaultService = (vault = await wireVault(ctx, database, audit, detect, clock));
    const shared = state;
    return {
      config: ctx.config,
      logger: ctx.logger,
      version: ctx.version,
      database,
      audit,
      tokens,
      users,
      accounts,
      sessions: webSessions,
      access,
      groups,
      revocations,
      assets,
      grants,
      forwardAuth,
      state: shared,
      throttle,
      detect,
      oidc,
      vault: vaultService,
      recordings,
      // ffmpeg is looked for at each export, so a node without it still serves.
      recordingExporter: createRecordingExporter({ tools: () => findFfmpeg({ configured: ctx.config.ffmpegPath }), logger: ctx.logger }),
      systemActor: { kind: 'system', id: ctx.config.nodeId, name: 'webasset' },
      clock,
      ids,
      async close() {
        vaultService.close();
        // Webhook deliveries in flight may still record alert.delivery_failed: before the trail closes.
        await detect.close();
        await webSessions.close();
        await audit.trail.close();
        await shared.close();
        await database.close();
      },
    };
  } catch (error) {
    vault?.close();
    await sessions?.close();
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

/** Sessions live where every node reads them: Redis with REDIS_URL, else the database (embedded, or PostgreSQL alone). */
function wireSessions(ctx: AppContext, database: Database, audit: Audit, state: SharedState, clock: Clock, ids: IdGenerator): WebSessions {
  const { config, logger } = ctx;
  const absoluteMs = config.sessionMaxHours * 3_600_000;
  const store = config.redisUrl
    ? createSharedStateSessionStore({ state, kind: 'redis', indexTtlMs: absoluteMs, now: () => clock.now() })
    : createDatabaseSessionStore({ db: database.db });
  // Reverse proxies ask GET /authz for every request; a 500 ms read cache, dropped on every node at each write, spares the store.
  // Only where every writer can reach this node's cache: through Redis, or in-process (embedded: the CLI goes through the admin
  // socket). PostgreSQL without Redis has other writers (nodes, the CLI) that could not tell it, so nothing is cached there.
  const cacheable = config.redisUrl !== undefined || database.kind === 'pglite';
  return createWebSessions({
    store: cacheable ? createCachedSessionStore({ store, state, clock, onError: (error) => logger.warn({ err: error }, 'session cache invalidation failed') }) : store,
    trail: audit.trail,
    clock,
    ids,
    idleMs: config.sessionIdleMinutes * 60_000,
    absoluteMs,
    systemActor: { kind: 'system', id: config.nodeId, name: 'webasset' },
    onError: (error) => logger.warn({ err: error }, 'web session sweep failed'),
  });
}

/** Local accounts: sign-in with lockout and MFA, enrolment links, one's own MFA. */
export interface Accounts {
  signIn: LocalSignIn;
  enrolment: Enrolment;
  mfa: Mfa;
}

function wireAccounts(
  ctx: AppContext,
  deps: { database: Database; audit: Audit; state: SharedState; clock: Clock; ids: IdGenerator; users: Users; sessions: AccountSessions; detect: SignInFailureSink },
): Accounts {
  const { config, logger } = ctx;
  const { database, audit, state, clock, ids, users } = deps;
  const key = createIdentityKey(resolveIdentityKey(ctx, database));
  const mfa = createMfa({ db: database.db, trail: audit.trail, clock, key });
  const hasher = createPasswordHasher();
  const policy = createPasswordPolicy();
  const lockout = createLockout({ state, clock, threshold: config.lockoutThreshold, lockoutMs: config.lockoutMinutes * 60_000 });
  const signIn = createLocalSignIn({
    db: database.db,
    trail: audit.trail,
    clock,
    ids,
    state,
    users,
    mfa,
    hasher,
    lockout,
    sessions: deps.sessions,
    ipLimit: config.signinIpLimit,
    mfaRequiredRoles: config.mfaRequiredRoles,
    detect: deps.detect,
    onError: (error) => logger.warn({ err: error }, 'brute-force detection failed for a sign-in'),
  });
  const enrolment = createEnrolment({ db: database.db, trail: audit.trail, clock, users, mfa, hasher, policy, mfaRequiredRoles: config.mfaRequiredRoles });
  return { signIn, enrolment, mfa };
}

function resolveIdentityKey(ctx: AppContext, database: Database): string {
  const { config, logger, redactor } = ctx;
  if (config.identityKey) return config.identityKey;
  const path = join(config.dataDir, 'keys', 'identity.key');
  const { key, created } = loadOrCreateKeyFile(path);
  redactor.addSecret(key);
  if (created) logger.warn({ path }, 'DEVELOPMENT DEFAULT: created the identity key file that seals TOTP seeds; production must set WEBASSET_IDENTITY_KEY(_FILE)');
  if (database.kind === 'postgres') {
    logger.warn('WEBASSET_IDENTITY_KEY is not set: TOTP seeds sealed on this node will not open on other nodes');
  }
  return key;
}

function wireUsers(ctx: AppContext, database: Database, audit: Audit, clock: Clock, ids: IdGenerator, sessions: UserSessionsPort, revocations: AccessRevokedPort): Users {
  return createUsers({ db: database.db, trail: audit.trail, clock, ids, sessions, revocations, publicUrl: publicBaseUrl(ctx.config) });
}

function createStoredSessionsEnderListener(database: Database, audit: Audit, clock: Clock, nodeId: string): AccessRevokedListener {
  const end = createStoredSessionsEnder({ db: database.db, trail: audit.trail, clock, nodeId });
  return (event) => end(event.userId, event.by, event.reason, event.context);
}

/** Membership changes end or refresh the user's live sessions (last group gone: every session ends). */
function wireGroups(database: Database, audit: Audit, clock: Clock, ids: IdGenerator, sessions: WebSessions, users: Users, revocations: AccessRevokedPort): Groups {
  return createGroups({
    db: database.db,
    trail: audit.trail,
    clock,
    ids,
    revocations,
    effects: {
      endSessions: (userId, by, reason) => sessions.revokeAllForUser(userId, by, reason),
      async refreshSessions(userId) {
        const snapshot = await users.sessionUser(userId);
        if (snapshot) await sessions.refreshUser(snapshot);
      },
    },
  });
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

export interface ForwardAuthWiring {
  gate: ForwardAuthGate;
  returnUrls: ReturnUrlPolicy;
  signInUrl: string | undefined;
  stats: ForwardAuthStats;
}

/**
 * Load shedding of GET /authz: past 256 checks in flight, new checks get 503
 * at once instead of queueing behind the ones that can still be answered;
 * while the event loop is behind (WEBASSET_FORWARD_AUTH_SHED_DELAY_MS),
 * checks that would read the session store get 503 too (docs/benchmarks.md).
 */
const FORWARD_AUTH_MAX_IN_FLIGHT = 256;

function wireForwardAuth(ctx: AppContext, audit: Audit, clock: Clock): ForwardAuthWiring {
  const { config, logger } = ctx;
  const rules = createForwardAuthRules(config.forwardAuth.rules);
  // A sign-in may return to the hosts the proxy protects, to those listed, and to the product itself.
  const returnUrls = createReturnUrlPolicy({
    hosts: [...config.returnUrlHosts, ...config.forwardAuth.rules.map((rule) => rule.host)],
    publicUrl: config.publicUrl,
  });
  if (rules.rules.length > 0 && !config.forwardAuth.signInUrl) {
    logger.warn('forwardAuth.signInUrl is not set: GET /authz answers anonymous callers 401 without a sign-in redirect');
  }
  return {
    gate: createForwardAuthGate({ rules, trail: audit.trail, clock, mfaRoles: config.mfaRequiredRoles }),
    returnUrls,
    signInUrl: config.forwardAuth.signInUrl,
    stats: createForwardAuthStats(),
  };
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

/** Single sign-on, when OIDC_ISSUER is set (load.ts has checked that the client id and public URL come with it). */
function wireOidc(
  ctx: AppContext,
  deps: { state: SharedState; audit: Audit; users: Users; sessions: WebSessions; groups: OidcGroupsPort; clock: Clock; ids: IdGenerator; returnUrls: ReturnUrlPolicy },
): OidcSignIn | null {
  const { config, logger } = ctx;
  if (!config.oidcIssuer || !config.oidcClientId || !config.publicUrl) return null;
  const base = config.publicUrl.replace(/\/+$/, '');
  return createOidcSignIn({
    settings: {
      issuer: config.oidcIssuer,
      clientId: config.oidcClientId,
      clientSecret: config.oidcClientSecret,
      redirectUri: `${base}/auth/oidc/callback`,
      postLogoutRedirectUri: `${base}/auth/oidc/logged-out`,
      scopes: config.oidcScopes,
      groupsClaim: config.oidcGroupsClaim,
      groupMap: parseGroupMap(config.oidcGroupMap),
      mfaAmr: config.oidcMfaAmr,
      mfaAcr: config.oidcMfaAcr,
      mfaRequiredRoles: config.mfaRequiredRoles,
    },
    state: deps.state,
    trail: deps.audit.trail,
    users: deps.users,
    groups: deps.groups,
    sessions: deps.sessions,
    clock: deps.clock,
    ids: deps.ids,
    warn: (detail, message) => logger.warn(detail, message),
    returnUrls: deps.returnUrls,
  });
}

async function wireAudit(ctx: AppContext, database: Database, signingKey: string, clock: Clock, ids: IdGenerator): Promise<Audit> {
  const { config, logger } = ctx;
  const audit = createAudit({
    db: database.db,
    copyOut: database.copyOut,
    dataDir: config.dataDir,
    signingKey,
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

/** The vault, after its start check of the master key (WEBASSET_MASTER_KEY, else the key file keys/master.key). */
async function wireVault(ctx: AppContext, database: Database, audit: Audit, detect: Detect, clock: Clock): Promise<Vault> {
  const { config, logger, redactor } = ctx;
  let keyText = config.masterKey;
  if (!keyText) {
    const path = join(config.dataDir, 'keys', 'master.key');
    const { key, created } = loadOrCreateKeyFile(path);
    redactor.addSecret(key);
    keyText = key;
    if (created) logger.warn({ path }, 'DEVELOPMENT DEFAULT: created the vault master key file; production must supply its own key (WEBASSET_MASTER_KEY(_FILE)) and back it up apart from the database');
    if (database.kind === 'postgres') logger.warn('WEBASSET_MASTER_KEY is not set: every node must hold the same vault master key, or the other nodes refuse to start');
  }
  const masterKey = Buffer.from(keyText, 'base64');
  try {
    return await openVault({
      db: database.db,
      trail: audit.trail,
      clock,
      masterKey,
      systemActor: { kind: 'system', id: config.nodeId, name: 'webasset' },
      alerts: detect,
      infisical:
        config.infisicalUrl && config.infisicalClientId && config.infisicalClientSecret
          ? createInfisicalSource({ url: config.infisicalUrl, clientId: config.infisicalClientId, clientSecret: config.infisicalClientSecret, cacheMs: config.infisicalCacheSeconds * 1000 }, { clock })
          : undefined,
      warn: (detail, message) => logger.warn(detail, message),
    });
  } finally {
    masterKey.fill(0);
  }
}

/**
 * Recordings are files in WEBASSET_RECORDINGS_DIR; their manifests are signed with the audit
 * signing key, so one published public key checks both the trail and the recordings. Verification
 * also trusts the earlier keys of WEBASSET_AUDIT_TRUSTED_KEYS.
 */
function wireRecordings(ctx: AppContext, database: Database, audit: Audit, signingKey: string, clock: Clock, ids: IdGenerator): Recordings {
  const { config, logger } = ctx;
  const signer = createDocumentSigner(signingKey);
  return createRecordings({
    db: database.db,
    storage: createFileRecordingStorage(config.recordingsDir),
    trail: audit.trail,
    signer,
    verifier: createDocumentVerifier([signer.publicKey, ...config.auditTrustedKeys]),
    clock,
    ids,
    nodeId: config.nodeId,
    logger,
  });
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

/** Browser sessions of a serving node: one Chromium (started at the first session), found at start so a missing one stops the start with the fix named. */
export interface BrowserWiring {
  pool: BrowserPool;
  sessions: BrowserSessions;
  /** "Test login now" (POST /api/admin/assets/:id/test-login): the same pool, vault and limits as sessions. */
  trialLogin: TrialLogin;
}

function wireBrowserSessions(services: Services): BrowserWiring {
  const { config, logger } = services;
  const pool = createBrowserPool({ chromiumPath: findChromium(config.chromiumPath), logger, spareContexts: config.browserSpareContexts });
  const sessions = createBrowserSessions({
    db: services.database.db,
    access: services.access,
    assets: services.assets,
    vault: services.vault,
    pool,
    recordings: services.recordings,
    trail: services.audit.trail,
    clock: services.clock,
    ids: services.ids,
    nodeId: config.nodeId,
    logger,
  });
  const trialLogin = createTrialLogin({ db: services.database.db, access: services.access, assets: services.assets, vault: services.vault, pool, trail: services.audit.trail, clock: services.clock, ids: services.ids, nodeId: config.nodeId, logger });
  return { pool, sessions, trialLogin };
}

export interface RunningServer {
  http: FastifyInstance;
  /** Governed browser sessions of this node. */
  browser: BrowserWiring;
  /** Base URL the server listens on. */
  url: string;
  /** Graceful stop: no new requests, in-flight ones finish, `system.stopped` recorded, trail flushed, database closed. */
  stop(reason: string): Promise<void>;
}

/** The MCP tools over this node's browser sessions: the tool policy and the per-token call limit from the config. */
export function wireMcp(services: Services, sessions: BrowserSessions): McpTools {
  const { config, logger } = services;
  const limiter = createRateLimiter({ state: services.state, rules: { 'mcp.tool': { limit: config.mcpToolRateLimit, windowMs: 60_000 } } });
  return createMcpTools({
    sessions,
    access: services.access,
    trail: services.audit.trail,
    policy: createToolPolicy(config.mcpToolPolicy),
    rateLimit: { check: (subject) => limiter.check('mcp.tool', subject) },
    logger,
  });
}

function createServer(services: Services, browser: BrowserWiring, isShuttingDown: () => boolean, registry: NodeRegistry | undefined): Promise<FastifyInstance> {
  const { config, logger, audit, oidc } = services;
  return createHttpServer({
    forwardAuth: { ...services.forwardAuth, shedding: { maxInFlight: FORWARD_AUTH_MAX_IN_FLIGHT, maxEventLoopDelayMs: config.forwardAuthShedDelayMs } },
    logger,
    trail: audit.trail,
    auditService: audit.service,
    tokens: services.tokens,
    access: services.access,
    throttle: services.throttle,
    sessions: services.sessions,
    accounts: services.accounts,
    lockout: { threshold: config.lockoutThreshold, minutes: config.lockoutMinutes },
    admin: { users: services.users, groups: services.groups, assets: services.assets, grants: services.grants, sessions: services.sessions, trialLogin: browser.trialLogin, alerts: audit.service },
    state: services.state,
    vault: services.vault,
    publicUrl: config.publicUrl,
    corsOrigins: config.corsOrigins,
    apiRateLimit: config.apiRateLimit,
    oidc,
    oidcLogoutUrl: oidc ? (facts) => oidc.endSessionUrl(facts) : undefined,
    trustedProxies: config.trustedProxies,
    ping: () => services.database.ping(),
    pingState: async () => {
      await services.state.get('readyz');
    },
    isShuttingDown,
    browserSessions: browser.sessions,
    liveSessions: browser.sessions,
    liveViewPingMs: config.liveViewPingSeconds * 1000,
    liveViewRelay:
      registry && config.clusterKey
        ? createLiveViewRelay({ nodeId: config.nodeId, registry, clusterKey: config.clusterKey, sessions: browser.sessions, logger, pingIntervalMs: config.liveViewPingSeconds * 1000 })
        : undefined,
    sessionRelay:
      registry && config.clusterKey ? createSessionRelay({ nodeId: config.nodeId, registry, clusterKey: config.clusterKey, sessions: browser.sessions, logger }) : undefined,
    recordings: services.recordings,
    recordingExport: { exporter: services.recordingExporter, dir: join(config.dataDir, 'exports') },
    mcp: { tools: wireMcp(services, browser.sessions), allowedOrigins: config.mcpAllowedOrigins, version: services.version },
  });
}

export async function startServer(services: Services): Promise<RunningServer> {
  const { config, logger, audit } = services;
  let shuttingDown = false;
  const browser = wireBrowserSessions(services);
  const registry = wireNodeRegistry(services);
  // A disabled user, or one left without a group, loses their browser sessions too (decision 0020), until this node stops.
  const unsubscribe = services.revocations.subscribe((event) => browser.sessions.endAllOfUser(event.userId, event.by, event.reason, event.context));
  let http: FastifyInstance;
  try {
    // Sessions this node left live when it last stopped without a clean shutdown have no browser any more.
    const recovered = await browser.sessions.recover();
    if (recovered > 0) logger.warn({ sessions: recovered }, 'ended browser sessions left by an earlier run (node_restart)');
    // Their recordings were cut off where the last chunk was flushed: sealed incomplete, so they verify.
    // A failure here is retried at the next start; it does not keep the node from serving.
    const sealed = await services.recordings.recover().catch((error: unknown) => {
      logger.error({ err: error }, 'could not seal the session recordings left by an earlier run; the next start tries again');
      return 0;
    });
    if (sealed > 0) logger.warn({ recordings: sealed }, 'sealed session recordings left by an earlier run (node_restart)');
    http = await createServer(services, browser, () => shuttingDown, registry);
  } catch (error) {
    unsubscribe();
    await closeBrowser(browser);
    throw error;
  }
  let address: string;
  try {
    address = await http.listen({ port: config.port, host: config.host });
    await audit.trail.record({
      actor: services.systemActor,
      action: 'system.started',
      outcome: 'success',
      details: { version: services.version, database: services.database.kind, node: config.nodeId },
    });
  } catch (error) {
    // Fail closed: a node whose start cannot be audited does not serve.
    await http.close();
    unsubscribe();
    await closeBrowser(browser);
    throw error;
  }
  logger.info({ url: address, version: services.version, node: config.nodeId }, 'webasset is listening');
  // Only a serving node is announced: from now on the other nodes relay live views of its sessions here.
  if (registry && config.nodeUrl) await registry.start().catch((error: unknown) => logger.warn({ err: error }, 'could not announce this node in the node registry; the heartbeat tries again'));
  const staleSweep = startStaleVaultSweep(services);
  const stopRetention = services.recordings.startRetentionJob();
  let stopping: Promise<void> | undefined;
  return {
    http,
    browser,
    url: address,
    stop(reason) {
      stopping ??= (async () => {
        shuttingDown = true;
        // Each step is logged, so a shutdown that hangs says where.
        const step = (name: string) => logger.info({ step: name }, 'stopping');
        step('node registry');
        // Withdrawn first, so the other nodes stop relaying live views here while this one goes.
        await registry?.stop();
        step('background jobs');
        await staleSweep.stop();
        stopRetention();
        step('browser sessions');
        // Sessions first: their live views close with them, so the HTTP server has no socket left waiting.
        unsubscribe();
        await closeBrowser(browser);
        step('http server');
        await http.close();
        step('services');
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

/**
 * Several nodes (Redis and WEBASSET_CLUSTER_KEY): the node registry through which live views reach
 * the node holding their session (decision 0020); this node is announced in it only with WEBASSET_NODE_URL.
 */
function wireNodeRegistry(services: Services): NodeRegistry | undefined {
  const { config, logger } = services;
  if (!config.redisUrl) return undefined;
  if (!config.clusterKey) {
    logger.info('live views are not relayed between nodes (WEBASSET_CLUSTER_KEY unset): a viewer must reach the node holding the session');
    return undefined;
  }
  return createNodeRegistry({ state: services.state, nodeId: config.nodeId, url: config.nodeUrl, onError: (error) => logger.warn({ err: error }, 'node registry heartbeat failed') });
}

/** Ends every browser session of this node (`shutdown`, recorded) and closes Chromium. */
async function closeBrowser(browser: BrowserWiring): Promise<void> {
  browser.trialLogin.shutdown();
  await browser.sessions.shutdown();
  await browser.pool.close();
}

/**
 * Vault upkeep of a serving node: entries past their maximum age raise one alert each (per
 * version, once across nodes) at start and then hourly; the key rows are re-read every 10 s so an
 * idle node learns the target of a key rotation before it finishes (`vault rotate-key` waits 30 s).
 */
function startStaleVaultSweep(services: Services): { stop(): Promise<void> } {
  let running: Promise<unknown> = Promise.resolve();
  const sweep = () => {
    running = services.vault.alertStale().catch((error: unknown) => services.logger.warn({ err: error }, 'stale vault entry sweep failed'));
  };
  sweep();
  const timer = setInterval(sweep, 3_600_000);
  timer.unref();
  let refreshing: Promise<unknown> = Promise.resolve();
  const refresh = setInterval(() => {
    refreshing = services.vault.refreshKeys().catch((error: unknown) => services.logger.error({ err: error }, 'vault key refresh failed'));
  }, 10_000);
  refresh.unref();
  return {
    async stop() {
      clearInterval(timer);
      clearInterval(refresh);
      await running;
      await refreshing;
    },
  };
}
