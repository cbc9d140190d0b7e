/** The validated configuration; built once at start by {@link loadConfig}. */
export interface Config {
  port: number;
  host: string;
  /** Absolute path. */
  dataDir: string;
  /** Absolute path; default `<dataDir>/recordings`. */
  recordingsDir: string;
  databaseUrl: string | undefined;
  databasePoolMax: number;
  redisUrl: string | undefined;
  redisKeyPrefix: string;
  trustedProxies: string[];
  authFailureLimit: number;
  sessionIdleMinutes: number;
  sessionMaxHours: number;
  corsOrigins: string[];
  apiRateLimit: number;
  masterKey: string | undefined;
  publicUrl: string | undefined;
  /** ForwardAuth: per-host rules (checked in shape here; compiled by access/) and where to sign in. */
  forwardAuth: { rules: ForwardAuthRuleConfig[]; signInUrl?: string | undefined };
  /** Event-loop delay (ms, averaged) past which ForwardAuth checks that would read the session store are shed; 0: off. */
  forwardAuthShedDelayMs: number;
  /** Hosts a sign-in may return to, besides the rule hosts and the public URL. */
  returnUrlHosts: string[];
  oidcIssuer: string | undefined;
  oidcClientId: string | undefined;
  oidcClientSecret: string | undefined;
  oidcGroupsClaim: string;
  oidcGroupMap: string[];
  oidcScopes: string[];
  oidcMfaAmr: string[];
  oidcMfaAcr: string[];
  chromiumPath: string | undefined;
  /** Contexts the browser pool keeps opened ahead of sessions (0: none). */
  browserSpareContexts: number;
  /** ffmpeg for exporting recordings to video; unset: found on the PATH. */
  ffmpegPath: string | undefined;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  nodeId: string;
  /** This node's address for the other nodes (live-view relay); unset: not announced. */
  nodeUrl: string | undefined;
  /** Shared by all nodes: signs relayed live-view requests (base64, 32 bytes); unset: no relay from this node. */
  clusterKey: string | undefined;
  /** Seconds between the pings of each live-view socket; one unanswered until the next ping is cut. */
  liveViewPingSeconds: number;
  auditSigningKey: string | undefined;
  auditTrustedKeys: string[];
  auditCheckpointEvery: number;
  auditCheckpointSeconds: number;
  auditBatchMax: number;
  auditPageMax: number;
  shutdownTimeoutMs: number;
  identityKey: string | undefined;
  mfaRequiredRoles: Array<'admin' | 'auditor' | 'operator' | 'agent'>;
  signinIpLimit: number;
  lockoutThreshold: number;
  lockoutMinutes: number;
  alertWebhookUrls: string[];
  alertWebhookSecret: string | undefined;
  infisicalUrl: string | undefined;
  infisicalClientId: string | undefined;
  infisicalClientSecret: string | undefined;
  infisicalCacheSeconds: number;
  /** MCP tool allow/deny lists per role (src/mcp applies them); empty: every tool allowed. */
  mcpToolPolicy: McpToolPolicyConfig;
  /** MCP tool calls per token per minute. */
  mcpToolRateLimit: number;
  /** Origins allowed on /mcp besides the public URL's. */
  mcpAllowedOrigins: string[];
  /** Development only: the demo portal beside the server (quickstart). */
  demoPortalPort: number | undefined;
}

/** One `forwardAuth.rules` entry as configured; src/access/forward-auth-rules.ts gives it meaning. */
export interface ForwardAuthRuleConfig {
  host: string;
  groups: string[];
  roles: Array<'admin' | 'auditor' | 'operator' | 'agent'>;
  anySignedInUser?: true | undefined;
}

/** `mcpToolPolicy` as configured: per role, an optional allow list and a deny list of tool names. */
export type McpToolPolicyConfig = Partial<Record<'admin' | 'auditor' | 'operator' | 'agent', { allow?: string[] | undefined; deny: string[] }>>;
