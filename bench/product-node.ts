import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { openServices, startServer, type RunningServer, type Services } from '../src/app.js';
import { loadConfig } from '../src/config/index.js';
import { createLogger, createRedactor } from '../src/core/index.js';

/** A product node running in the benchmark's own process, on a data folder of its own. */
export interface ProductNode {
  services: Services;
  server: RunningServer;
  url: string;
  dataDir: string;
}

/**
 * Starts a product node in this process: a fresh data folder under the system temp folder
 * (`dataDirPrefix`), port 0, log level warn and fixed audit signing and vault master keys (every
 * node a benchmark starts belongs to one deployment); `env` adds or overrides settings.
 */
export async function startProductNode(dataDirPrefix: string, env: Record<string, string>): Promise<ProductNode> {
  const dataDir = mkdtempSync(join(tmpdir(), dataDirPrefix));
  const { config, secrets } = loadConfig({
    env: {
      PORT: '0',
      WEBASSET_DATA_DIR: dataDir,
      LOG_LEVEL: 'warn',
      WEBASSET_AUDIT_SIGNING_KEY: Buffer.alloc(32, 7).toString('base64'),
      // One deployment: every node has the same vault master key (each data folder would otherwise make its own).
      WEBASSET_MASTER_KEY: Buffer.alloc(32, 9).toString('base64'),
      ...env,
    },
    cwd: dataDir,
  });
  const redactor = createRedactor(secrets);
  const logger = createLogger({ level: config.logLevel, redactor });
  const services = await openServices({ config, logger, redactor, version: 'bench' });
  const server = await startServer(services);
  return { services, server, url: server.url, dataDir };
}

/** Stops the node and removes its data folder. */
export async function stopProductNode(node: ProductNode): Promise<void> {
  await node.server.stop('bench finished');
  rmSync(node.dataDir, { recursive: true, force: true });
}

/** A database of its own for one benchmark run, on a PostgreSQL server the caller names; dropped afterwards. */
export interface ScratchDatabase {
  /** Settings for a node on it: DATABASE_URL, REDIS_URL and a Redis key prefix of its own. */
  env: Record<string, string>;
  drop(): Promise<void>;
}

/** Creates the database, or says why it cannot (a string), so a benchmark can print it and go on. */
export async function createScratchDatabase(serverUrl: string, redisUrl: string, prefix: string): Promise<ScratchDatabase | string> {
  const name = `${prefix}_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  try {
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name} TEMPLATE template0`);
  } catch {
    return `PostgreSQL not reachable at ${new URL(serverUrl).host}`;
  } finally {
    await admin.end().catch(() => undefined);
  }
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    env: { DATABASE_URL: url.toString(), REDIS_URL: redisUrl, WEBASSET_REDIS_KEY_PREFIX: `wa-bench-${randomUUID()}:` },
    async drop() {
      const client = new pg.Client({ connectionString: serverUrl });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await client.end();
    },
  };
}
