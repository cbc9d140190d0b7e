/** The validated configuration; built once at start by {@link loadConfig}. */
export interface Config {
  port: number;
  host: string;
  /** Absolute path. */
  dataDir: string;
  databaseUrl: string | undefined;
  databasePoolMax: number;
  redisUrl: string | undefined;
  redisKeyPrefix: string;
  trustedProxies: string[];
  authFailureLimit: number;
  masterKey: string | undefined;
  publicUrl: string | undefined;
  oidcIssuer: string | undefined;
  oidcClientId: string | undefined;
  oidcClientSecret: string | undefined;
  chromiumPath: string | undefined;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  nodeId: string;
  auditSigningKey: string | undefined;
  auditTrustedKeys: string[];
  auditCheckpointEvery: number;
  auditCheckpointSeconds: number;
  auditBatchMax: number;
  auditPageMax: number;
  shutdownTimeoutMs: number;
  alertWebhookUrls: string[];
  alertWebhookSecret: string | undefined;
}
