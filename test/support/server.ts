import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { openServices, startServer, type RunningServer, type Services } from '../../src/app.js';
import { loadConfig } from '../../src/config/index.js';
import { createLogger, createRedactor, type Clock, type Redactor } from '../../src/core/index.js';
import { createPgDatabase, dropPgDatabase, seedEmbeddedCluster, TEST_DATABASE_URL } from './databases.js';

/** Collects everything a logger writes, so tests can search logs for canaries. */
export class LogCapture extends Writable {
  readonly lines: string[] = [];
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    this.lines.push(chunk.toString('utf8'));
    done();
  }
  text(): string {
    return this.lines.join('');
  }
}

export interface TestServer {
  services: Services;
  server: RunningServer;
  url: string;
  logs: LogCapture;
  redactor: Redactor;
  dataDir: string;
  /** Issues an API token with the given role. */
  token(role: 'admin' | 'auditor' | 'operator' | 'agent'): Promise<string>;
  stop(): Promise<void>;
}

/** Set by CI to run the suites with shared state in Redis as well as in-process. */
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL;

/** A real server on port 0 with its own data folder (and its own PostgreSQL database with TEST_DATABASE_URL). */
export async function startTestServer(env: Record<string, string> = {}, options: { clock?: Clock } = {}): Promise<TestServer> {
  const dataDir = mkdtempSync(join(tmpdir(), 'webasset-srv-'));
  const dbUrl = TEST_DATABASE_URL ? await createPgDatabase(TEST_DATABASE_URL) : undefined;
  if (!dbUrl) seedEmbeddedCluster(dataDir);
  const { config, secrets } = loadConfig({
    env: {
      PORT: '0',
      WEBASSET_DATA_DIR: dataDir,
      LOG_LEVEL: 'info',
      // A test process on a loaded CI machine runs its event loop late for long stretches: the CPU-overload trigger would
      // refuse first checks of sessions at random there. test/http/forward-auth-shedding.test.ts turns it on.
      WEBASSET_FORWARD_AUTH_SHED_DELAY_MS: '0',
      ...(dbUrl ? { DATABASE_URL: dbUrl } : {}),
      // Each server gets its own key space on the shared Redis.
      ...(TEST_REDIS_URL ? { REDIS_URL: TEST_REDIS_URL, WEBASSET_REDIS_KEY_PREFIX: `wa-test-${randomUUID()}:` } : {}),
      ...env,
    },
    cwd: dataDir,
  });
  const redactor = createRedactor(secrets);
  const logs = new LogCapture();
  const logger = createLogger({ level: config.logLevel, redactor, destination: logs });
  const services = await openServices({ config, logger, redactor, version: 'test', clock: options.clock });
  const server = await startServer(services);
  let stopped = false;
  return {
    services,
    server,
    url: server.url,
    logs,
    redactor,
    dataDir,
    async token(role) {
      const by = { kind: 'user' as const, id: 'test-admin', name: 'Test admin', roles: ['admin' as const], via: 'cli' as const, groups: [], mfa: true };
      return (await services.tokens.create({ name: `test ${role}`, role, createdBy: by })).token;
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      // A stop that hangs (seen once under load, on PostgreSQL + Redis) names its step before the hook's timeout.
      let phase = 'server.stop';
      const watchdog = setTimeout(() => {
        const steps = logs.lines.filter((line) => line.includes('"msg":"stopping"')).map((line) => (JSON.parse(line) as { step?: string }).step);
        console.warn(`test server ${server.url}: stop still waiting after 20 s in ${phase}; server steps begun: ${steps.join(' > ') || 'none'}`);
      }, 20_000);
      watchdog.unref();
      try {
        await server.stop('test finished');
        phase = 'dropping the test database';
        if (dbUrl && TEST_DATABASE_URL) await dropPgDatabase(TEST_DATABASE_URL, dbUrl);
      } finally {
        clearTimeout(watchdog);
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
