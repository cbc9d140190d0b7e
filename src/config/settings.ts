import { isIP } from 'node:net';
import { z } from 'zod';
import { isHostPattern } from '../core/index.js';

/**
 * Every setting the product reads, in one place. The environment variable
 * names are a contract with deployment files and operators; `docs/configuration.md`
 * and `webasset --help` are checked against this list by a test.
 */
export interface SettingDefinition {
  /** Key in `webasset.yaml` and in the parsed config. */
  key: string;
  /** Environment variable. */
  env: string;
  /** Secrets also accept `<ENV>_FILE` (Docker secrets) and are never printed. */
  secret: boolean;
  /** Default as written in the docs, or undefined when unset by default. */
  defaultText: string | undefined;
  description: string;
  schema: z.ZodType;
}

const port = z.coerce
  .number({ error: 'expected a whole number' })
  .int('expected a whole number')
  .min(0, 'expected a port between 0 and 65535')
  .max(65535, 'expected a port between 0 and 65535');

function positiveInt(max: number) {
  return z.coerce
    .number({ error: 'expected a whole number' })
    .int('expected a whole number')
    .min(1, `expected a whole number between 1 and ${max}`)
    .max(max, `expected a whole number between 1 and ${max}`);
}

function wholeNumber(min: number, max: number) {
  return z.coerce
    .number({ error: 'expected a whole number' })
    .int('expected a whole number')
    .min(min, `expected a whole number between ${min} and ${max}`)
    .max(max, `expected a whole number between ${min} and ${max}`);
}

const nonEmpty = z.string().trim().min(1, 'must not be empty');

function url(protocols: string[]) {
  return nonEmpty.refine(
    (value) => {
      try {
        return protocols.includes(new URL(value).protocol);
      } catch {
        return false;
      }
    },
    { message: `expected a URL starting with ${protocols.map((p) => `${p}//`).join(' or ')}` },
  );
}

const key32 = nonEmpty.refine((value) => /^[A-Za-z0-9+/_-]+={0,2}$/.test(value) && Buffer.from(value, 'base64').length === 32, {
  message: 'expected 32 bytes encoded as base64 (for example: openssl rand -base64 32)',
});

// Where other nodes open connections: scheme, host and port only, no credentials, path or query.
const nodeOrigin = nonEmpty.refine(
  (value) => {
    try {
      const u = new URL(value);
      return (u.protocol === 'http:' || u.protocol === 'https:') && u.username === '' && u.password === '' && u.origin === value.replace(/\/$/, '');
    } catch {
      return false;
    }
  },
  { message: 'expected http(s)://host:port (no path, no user:password@)' },
);

/** A list: comma-separated in the environment, a sequence or a comma-separated string in YAML. */
function commaList(isItem: (item: string) => boolean, message: string) {
  return z
    .union([z.string(), z.array(z.string())])
    .transform((value) => (Array.isArray(value) ? value : value.split(',')).map((item) => item.trim()).filter((item) => item !== ''))
    .refine((items) => items.every(isItem), { message });
}

const publicKeyList = commaList(
  (k) => /^[A-Za-z0-9+/]+={0,2}$/.test(k) && Buffer.from(k, 'base64').length === 32,
  'expected comma-separated Ed25519 public keys, 32 bytes base64 each',
);

const proxyList = commaList(isProxyEntry, 'expected comma-separated IP addresses or CIDR ranges (or loopback, linklocal, uniquelocal)');

function isProxyEntry(entry: string): boolean {
  if (['loopback', 'linklocal', 'uniquelocal'].includes(entry)) return true;
  const [address, bits, extra] = entry.split('/');
  const family = isIP(address ?? '');
  if (family === 0 || extra !== undefined) return false;
  if (bits === undefined) return true;
  const n = Number(bits);
  return /^\d{1,3}$/.test(bits) && n >= 0 && n <= (family === 4 ? 32 : 128);
}

// Credentials in a webhook URL would be sent in the clear by some clients and logged by proxies: refused.
const webhookUrlList = commaList((item) => {
  try {
    const u = new URL(item);
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.username === '' && u.password === '';
  } catch {
    return false;
  }
}, 'expected comma-separated http:// or https:// URLs without user:password@');

// ForwardAuth (src/access/forward-auth-rules.ts). Roles are spelled out here because config sits below
// identity; test/http/forward-auth.test.ts checks that this list equals identity's ROLES.
const FORWARD_AUTH_ROLES = ['admin', 'auditor', 'operator', 'agent'] as const;
const hostPattern = nonEmpty.refine(isHostPattern, { message: 'expected a host name such as app.example.com or *.example.com' });
const returnUrlHostList = commaList(isHostPattern, 'expected comma-separated host names such as app.example.com or *.example.com');
const forwardAuthRule = z
  .object({
    host: hostPattern,
    groups: z.array(nonEmpty).default([]),
    roles: z.array(z.enum(FORWARD_AUTH_ROLES, { error: `expected one of ${FORWARD_AUTH_ROLES.join(', ')}` })).default([]),
    // The one way to open a host to everyone who can sign in; its name says so on purpose.
    anySignedInUser: z.literal(true).optional(),
  })
  .strict()
  .refine((rule) => rule.groups.length > 0 || rule.roles.length > 0 || rule.anySignedInUser === true, {
    message: 'a rule needs groups, roles, or anySignedInUser: true',
  })
  .refine((rule) => !(rule.anySignedInUser && (rule.groups.length > 0 || rule.roles.length > 0)), {
    message: 'anySignedInUser: true cannot be combined with groups or roles',
  });
/** A structured setting: the environment carries it as JSON text, YAML as a mapping already; text that is not JSON fails the schema. */
function fromJsonText(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  try {
    return JSON.parse(value) as unknown;
  } catch {
    return Symbol('not JSON');
  }
}
const forwardAuth = z.preprocess(
  fromJsonText,
  z
    .object(
      {
        rules: z.array(forwardAuthRule).default([]),
        signInUrl: url(['http:', 'https:']).optional(),
      },
      { error: 'expected a mapping { rules: [...], signInUrl } (JSON in the environment)' },
    )
    .strict()
    .refine((v) => new Set(v.rules.map((r) => r.host.toLowerCase())).size === v.rules.length, { message: 'two rules name the same host' })
    .default({ rules: [] }),
);

// An origin is scheme://host[:port] and nothing else: a path or a wildcard would widen what is trusted.
const originList = commaList((item) => {
  try {
    const u = new URL(item);
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.origin === item;
  } catch {
    return false;
  }
}, 'expected comma-separated origins such as https://portal.example.com (scheme, host and optional port; no path, no wildcard)');

// `claimValue=groupName`: the claim side is the provider's text; the group side must be a name a group here can have.
const oidcGroupMapList = commaList((item) => {
  const eq = item.indexOf('=');
  return eq > 0 && eq < item.length - 1 && /^[A-Za-z0-9][A-Za-z0-9 _./@-]{0,99}$/.test(item.slice(eq + 1).trim());
}, 'expected comma-separated claimValue=groupName pairs');

const oidcScopeList = z
  .union([z.string(), z.array(z.string())])
  .transform((value) => (Array.isArray(value) ? value : value.split(/[\s,]+/)).map((item) => item.trim()).filter((item) => item !== ''))
  .refine((scopes) => scopes.includes('openid'), { message: 'must include openid' })
  .refine((scopes) => scopes.every((scope) => /^[\x21\x23-\x5b\x5d-\x7e]{1,128}$/.test(scope)), { message: 'expected scope names (RFC 6749 characters)' });

// MCP tools (src/mcp), spelled out because config sits below mcp; test/mcp/policy.test.ts checks that this list equals the tools.
export const MCP_TOOL_NAMES = [
  'list_assets',
  'open_session',
  'list_sessions',
  'close_session',
  'snapshot',
  'click',
  'type',
  'select_option',
  'press_key',
  'hover',
  'navigate',
  'go_back',
  'wait_for',
  'screenshot',
  'fill_credential',
] as const;
const MCP_POLICY_ROLES = ['admin', 'auditor', 'operator', 'agent'] as const;
const mcpToolList = z.array(z.enum(MCP_TOOL_NAMES, { error: `expected tool names among ${MCP_TOOL_NAMES.join(', ')}` }));
const mcpRolePolicy = z.object({ allow: mcpToolList.optional(), deny: mcpToolList.default([]) }).strict();
const mcpToolPolicy = z.preprocess(
  fromJsonText,
  z
    .partialRecord(z.enum(MCP_POLICY_ROLES, { error: `expected roles among ${MCP_POLICY_ROLES.join(', ')}` }), mcpRolePolicy, {
      error: 'expected a mapping of role to { allow: [tools], deny: [tools] } (JSON in the environment)',
    })
    .default({}),
);

const logLevel = z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
  error: 'expected one of fatal, error, warn, info, debug, trace, silent',
});

function define(
  key: string,
  env: string,
  schema: z.ZodType,
  description: string,
  options: { secret?: boolean; defaultText?: string } = {},
): SettingDefinition {
  return { key, env, schema, description, secret: options.secret ?? false, defaultText: options.defaultText };
}

// Roles for WEBASSET_MFA_REQUIRED_ROLES, spelled out because config sits below identity.
const MFA_ROLES = ['admin', 'auditor', 'operator', 'agent'] as const;

export const SETTINGS: readonly SettingDefinition[] = [
  define('port', 'PORT', port.default(8080), 'TCP port the HTTP server listens on (0 picks a free port).', { defaultText: '8080' }),
  define('host', 'HOST', nonEmpty.default('127.0.0.1'), 'Address the HTTP server binds to. Use 0.0.0.0 in a container.', {
    defaultText: '127.0.0.1',
  }),
  define('dataDir', 'WEBASSET_DATA_DIR', nonEmpty.default('./data'), 'Folder for the embedded database, key files and the audit spool.', {
    defaultText: './data',
  }),
  define(
    'recordingsDir',
    'WEBASSET_RECORDINGS_DIR',
    nonEmpty.optional(),
    'Folder of the session recordings (chunks and signed manifests). Unset: recordings in the data folder.',
    { defaultText: '<dataDir>/recordings' },
  ),
  define('databaseUrl', 'DATABASE_URL', url(['postgres:', 'postgresql:']).optional(), 'PostgreSQL connection URL. Unset: embedded PGlite in the data folder.', {
    secret: true,
  }),
  define('databasePoolMax', 'WEBASSET_DATABASE_POOL_MAX', positiveInt(200).default(10), 'Maximum PostgreSQL connections of this node.', {
    defaultText: '10',
  }),
  define('redisUrl', 'REDIS_URL', url(['redis:', 'rediss:']).optional(), 'Redis URL for shared state between nodes. Unset: in-process.', {
    secret: true,
  }),
  define('redisKeyPrefix', 'WEBASSET_REDIS_KEY_PREFIX', nonEmpty.max(64).default('webasset:'), 'Put before every Redis key and channel, so several deployments can share one Redis.', {
    defaultText: 'webasset:',
  }),
  define(
    'trustedProxies',
    'WEBASSET_TRUSTED_PROXIES',
    proxyList.default([]),
    'Reverse proxies whose X-Forwarded-For is believed: comma-separated IP addresses or CIDR ranges (or loopback, linklocal, uniquelocal). Unset: the header is ignored and the client is the direct peer.',
    { defaultText: '(none)' },
  ),
  define('authFailureLimit', 'WEBASSET_AUTH_FAILURE_LIMIT', positiveInt(10_000).default(20), 'Failed token sign-ins one client IP may make per minute; past it, that IP gets 429 until the minute ends.', {
    defaultText: '20',
  }),
  define('identityKey', 'WEBASSET_IDENTITY_KEY', key32.optional(), 'AES-256-GCM key (32 bytes base64) that seals TOTP seeds of local accounts; all nodes share it. Unset: a key file is created in the data folder.', {
    secret: true,
  }),
  define(
    'mfaRequiredRoles',
    'WEBASSET_MFA_REQUIRED_ROLES',
    commaList((r) => (MFA_ROLES as readonly string[]).includes(r), `expected comma-separated roles among ${MFA_ROLES.join(', ')}`).default(['admin', 'auditor']),
    'Roles that must sign in with a second factor (TOTP locally, the provider\'s MFA with SSO). admin and auditor always must, whatever this says.',
    { defaultText: 'admin,auditor' },
  ),
  define('signinIpLimit', 'WEBASSET_SIGNIN_IP_LIMIT', positiveInt(100_000).default(10), 'Local sign-in attempts one client IP may make per 15 minutes; past it, 429 with Retry-After.', {
    defaultText: '10',
  }),
  define('lockoutThreshold', 'WEBASSET_LOCKOUT_THRESHOLD', positiveInt(1000).default(10), 'Failed sign-ins (password or second factor) after which a local account is locked.', {
    defaultText: '10',
  }),
  define('lockoutMinutes', 'WEBASSET_LOCKOUT_MINUTES', positiveInt(24 * 60).default(30), 'How long a locked local account stays locked (minutes); failures count within the same span.', {
    defaultText: '30',
  }),
  define('sessionIdleMinutes', 'WEBASSET_SESSION_IDLE_MINUTES', positiveInt(24 * 60).default(15), 'A web session ends after this many minutes without a request.', {
    defaultText: '15',
  }),
  define('sessionMaxHours', 'WEBASSET_SESSION_MAX_HOURS', positiveInt(24 * 30).default(12), 'A web session ends this many hours after sign-in, however active.', {
    defaultText: '12',
  }),
  define(
    'corsOrigins',
    'WEBASSET_CORS_ORIGINS',
    originList.default([]),
    'Other origins whose browser scripts may call the API (CORS, with credentials): comma-separated, exact. Unset: CORS is closed.',
    { defaultText: '(none)' },
  ),
  define('apiRateLimit', 'WEBASSET_API_RATE_LIMIT', positiveInt(1_000_000).default(600), 'Requests to /api and /mcp per minute, counted per client IP and per signed-in user or token; past it, 429 with Retry-After.', {
    defaultText: '600',
  }),
  define('masterKey', 'WEBASSET_MASTER_KEY', key32.optional(), 'Vault key-encryption key, 32 bytes base64. Unset: the key file keys/master.key in the data folder (created 0600 on first start).', {
    secret: true,
  }),
  define('publicUrl', 'WEBASSET_PUBLIC_URL', url(['http:', 'https:']).optional(), 'External URL users reach the product at (used for links and cookies).'),
  define(
    'forwardAuth',
    'WEBASSET_FORWARD_AUTH',
    forwardAuth,
    'ForwardAuth (GET /authz): per-host rules { host, groups, roles } and the sign-in URL, as a YAML mapping or JSON. Unset: every host is denied.',
    { defaultText: '(no rules)' },
  ),
  define(
    'forwardAuthShedDelayMs',
    'WEBASSET_FORWARD_AUTH_SHED_DELAY_MS',
    z.coerce.number({ error: 'expected a whole number' }).int('expected a whole number').min(0, 'expected 0 to 60000').max(60000, 'expected 0 to 60000').default(250),
    'ForwardAuth under CPU overload: while the event loop runs this late on average (ms), checks that would read the session store are refused with 503 server_busy; checks answered from the per-node cache still pass. 0: off.',
    { defaultText: '250' },
  ),
  define(
    'returnUrlHosts',
    'WEBASSET_RETURN_URL_HOSTS',
    returnUrlHostList.default([]),
    'Hosts a sign-in may return to (besides the ForwardAuth rule hosts and the public URL): comma-separated names, *.example.com allowed.',
    { defaultText: '(none)' },
  ),
  define('oidcIssuer', 'OIDC_ISSUER', url(['http:', 'https:']).optional(), 'OpenID Connect issuer URL for single sign-on. Unset: local accounts only.'),
  define('oidcClientId', 'OIDC_CLIENT_ID', nonEmpty.optional(), 'OpenID Connect client id.'),
  define('oidcClientSecret', 'OIDC_CLIENT_SECRET', nonEmpty.optional(), 'OpenID Connect client secret.', { secret: true }),
  define('oidcGroupsClaim', 'OIDC_GROUPS_CLAIM', nonEmpty.max(255).default('groups'), 'ID token (or UserInfo) claim that lists the person\'s groups at the provider.', {
    defaultText: 'groups',
  }),
  define(
    'oidcGroupMap',
    'OIDC_GROUP_MAP',
    oidcGroupMapList.default([]),
    'Provider group to our group: comma-separated claimValue=groupName pairs; values without a pair are ignored. Unset: a claim value is taken as our group of the same name, when that group exists.',
    { defaultText: '(none)' },
  ),
  define('oidcScopes', 'OIDC_SCOPES', oidcScopeList.default(['openid', 'profile', 'email']), 'Scopes requested at sign-in, space- or comma-separated; must include openid.', {
    defaultText: 'openid profile email',
  }),
  define(
    'oidcMfaAmr',
    'OIDC_MFA_AMR',
    commaList((v) => /^[\x21-\x7e]{1,64}$/.test(v), 'expected comma-separated amr values').default(['mfa', 'otp', 'hwk', 'swk', 'totp']),
    'amr values (RFC 8176) that mean the provider used a second factor: comma-separated.',
    { defaultText: 'mfa,otp,hwk,swk,totp' },
  ),
  define(
    'oidcMfaAcr',
    'OIDC_MFA_ACR',
    commaList((v) => /^[\x21-\x7e]{1,255}$/.test(v), 'expected comma-separated acr values').default([]),
    'acr values that mean the provider used a second factor: comma-separated. Unset: only amr counts.',
    { defaultText: '(none)' },
  ),
  define('chromiumPath', 'CHROMIUM_PATH', nonEmpty.optional(), 'Path to the Chromium executable. Unset: found on the machine.'),
  define(
    'browserSpareContexts',
    'WEBASSET_BROWSER_SPARE_CONTEXTS',
    wholeNumber(0, 8).default(1),
    'Browser contexts kept opened ahead, ready for the next session (one per recently used asset policy), so a session start skips opening one. 0: none.',
    { defaultText: '1' },
  ),
  define('ffmpegPath', 'FFMPEG_PATH', nonEmpty.optional(), 'Path to the ffmpeg executable that exports recordings to video (ffprobe beside it). Unset: ffmpeg found on the PATH.'),
  define('logLevel', 'LOG_LEVEL', logLevel.default('info'), 'Log level: fatal, error, warn, info, debug, trace or silent.', { defaultText: 'info' }),
  define('nodeId', 'WEBASSET_NODE_ID', nonEmpty.max(128).optional(), 'Name of this node in audit events and logs. Unset: the host name.'),
  define(
    'nodeUrl',
    'WEBASSET_NODE_URL',
    nodeOrigin.optional(),
    'This node\'s own address as the other nodes reach it (http(s)://host:port), announced in Redis so that a live view opened on another node is relayed here. Needs REDIS_URL and WEBASSET_CLUSTER_KEY. Unset: no live view is relayed to this node.',
  ),
  define(
    'clusterKey',
    'WEBASSET_CLUSTER_KEY',
    key32.optional(),
    'Key (32 bytes base64) all nodes share to sign the live-view requests they relay to each other, so the holding node believes the client address they carry. Unset: this node relays no live view.',
    { secret: true },
  ),
  define(
    'liveViewPingSeconds',
    'WEBASSET_LIVE_VIEW_PING_SECONDS',
    positiveInt(300).default(25),
    'Seconds between the WebSocket pings of each live view (and of each hop of a relayed one); a viewer that has not answered one by the next is disconnected. Keeps quiet views open through proxies that cut idle connections.',
    { defaultText: '25' },
  ),
  define(
    'auditSigningKey',
    'WEBASSET_AUDIT_SIGNING_KEY',
    key32.optional(),
    'Ed25519 seed (32 bytes base64) that signs audit checkpoints; all nodes share it. Unset: a key file is created in the data folder.',
    { secret: true },
  ),
  define(
    'auditTrustedKeys',
    'WEBASSET_AUDIT_TRUSTED_KEYS',
    publicKeyList.default([]),
    'Earlier audit signing keys still trusted for verification after a key change: comma-separated Ed25519 public keys (base64, as `webasset audit public-key` prints them).',
    { defaultText: '(none)' },
  ),
  define('auditCheckpointEvery', 'WEBASSET_AUDIT_CHECKPOINT_EVERY', positiveInt(1_000_000).default(1000), 'Write a signed audit checkpoint after this many events.', {
    defaultText: '1000',
  }),
  define('auditCheckpointSeconds', 'WEBASSET_AUDIT_CHECKPOINT_SECONDS', positiveInt(86_400).default(60), 'Write a signed audit checkpoint at least this often (seconds) when there are new events.', {
    defaultText: '60',
  }),
  define('auditBatchMax', 'WEBASSET_AUDIT_BATCH_MAX', positiveInt(5000).default(1000), 'Most audit events committed in one group-commit transaction.', {
    defaultText: '1000',
  }),
  define('auditPageMax', 'WEBASSET_AUDIT_PAGE_MAX', positiveInt(10_000).default(500), 'Largest page size GET /api/audit accepts.', { defaultText: '500' }),
  define(
    'alertWebhookUrls',
    'WEBASSET_ALERT_WEBHOOK_URLS',
    webhookUrlList.default([]),
    'Where alerts (brute-force sign-in bursts) are POSTed as signed JSON: comma-separated http(s) URLs. Unset: alerts go to the audit trail only.',
    { secret: true, defaultText: '(none)' },
  ),
  define(
    'alertWebhookSecret',
    'WEBASSET_ALERT_WEBHOOK_SECRET',
    nonEmpty.min(32, 'expected at least 32 characters (for example: openssl rand -hex 32)').optional(),
    'HMAC-SHA256 key of the X-Webasset-Signature header of alert webhooks; required with WEBASSET_ALERT_WEBHOOK_URLS.',
    { secret: true },
  ),
  define('shutdownTimeoutMs', 'WEBASSET_SHUTDOWN_TIMEOUT_MS', positiveInt(600_000).default(10_000), 'On SIGTERM, longest wait for in-flight work before exiting (ms).', {
    defaultText: '10000',
  }),
  define('infisicalUrl', 'INFISICAL_URL', url(['http:', 'https:']).optional(), 'Infisical site URL for vault entries kept there (e.g. https://app.infisical.com). Unset: such entries fail closed.'),
  define('infisicalClientId', 'INFISICAL_CLIENT_ID', nonEmpty.optional(), 'Client ID of the Infisical machine identity (Universal Auth); required with INFISICAL_URL.', { secret: true }),
  define('infisicalClientSecret', 'INFISICAL_CLIENT_SECRET', nonEmpty.optional(), 'Client secret of the Infisical machine identity (Universal Auth); required with INFISICAL_URL.', { secret: true }),
  define(
    'infisicalCacheSeconds',
    'INFISICAL_CACHE_SECONDS',
    z.coerce.number({ error: 'expected a whole number' }).int('expected a whole number').min(0, 'expected 0 to 3600').max(3600, 'expected 0 to 3600').default(60),
    'How long values read from Infisical stay in memory (never on disk); 0: not cached.',
    { defaultText: '60' },
  ),
  define(
    'mcpToolPolicy',
    'WEBASSET_MCP_TOOL_POLICY',
    mcpToolPolicy,
    'Which MCP tools each role may call: a mapping role -> { allow: [tools], deny: [tools] } (YAML, or JSON in the environment). A role without allow may call every tool but those it denies; a caller needs every one of its roles (and, on behalf of an operator, the operator\'s roles) to allow the tool. Unset: every tool allowed; grants still decide which assets.',
    { defaultText: '(every tool allowed)' },
  ),
  define(
    'mcpToolRateLimit',
    'WEBASSET_MCP_TOOL_RATE_LIMIT',
    positiveInt(1_000_000).default(300),
    'MCP tool calls one token may make per minute (every node counts together); past it, the call fails with rate_limited and says when to retry.',
    { defaultText: '300' },
  ),
  define(
    'mcpAllowedOrigins',
    'WEBASSET_MCP_ALLOWED_ORIGINS',
    originList.default([]),
    'Browser origins allowed to call /mcp besides the public URL\'s (a request with any other Origin is refused 403): comma-separated, exact. Clients that are not browsers send no Origin.',
    { defaultText: '(none)' },
  ),
  define(
    'demoPortalPort',
    'WEBASSET_DEMO_PORTAL_PORT',
    port.optional(),
    'Development only: also start the demo bank portal on 127.0.0.1:PORT and add it as asset demo-bank. Unset: not started.',
  ),
];

/** Environment variables the loader itself reads, besides the settings. */
export const LOADER_VARIABLES = [{ env: 'WEBASSET_CONFIG', description: 'Path of the YAML config file. Unset: ./webasset.yaml when it exists.' }];
