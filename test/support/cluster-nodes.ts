import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openServices, startServer, type RunningServer, type Services } from '../../src/app.js';
import { loadConfig } from '../../src/config/index.js';
import { createLogger, createRedactor } from '../../src/core/index.js';
import type { Caller } from '../http/admin-callers.js';
import { createPgDatabase, dropPgDatabase, TEST_DATABASE_URL } from './databases.js';
import { freePort } from './free-port.js';
import { LogCapture, TEST_REDIS_URL, type TestServer } from './server.js';

/** One product node of a test cluster: its services, its running server and its log. */
export interface ClusterNode {
  name: string;
  services: Services;
  server: RunningServer;
  url: string;
  logs: LogCapture;
  dataDir: string;
}

export interface TestCluster {
  a: ClusterNode;
  b: ClusterNode;
  /** A caller's web session (shared by the nodes through Redis) for the admin-callers helpers: `node`'s services, POSTs with the Origin of `origin`. */
  callerOn(node: ClusterNode, origin: ClusterNode): TestServer;
  /** One JSON request of `caller` to `node` (cookie, CSRF token; the node's own Origin for anything but GET). */
  request(node: ClusterNode, caller: Caller, method: string, path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }>;
  /** Stops both nodes, removes their folders, drops the database. */
  stop(): Promise<void>;
}

/** Both backends of the production column are there (else a cluster test skips). */
export const CLUSTER_BACKENDS = Boolean(TEST_DATABASE_URL && TEST_REDIS_URL);

/**
 * The production column of DESIGN.md in one process: two product nodes `node-a` and `node-b` on
 * a fresh PostgreSQL database and one Redis (their own key prefix), each announced in the node
 * registry under one cluster key. Node B stands behind a load balancer on 127.0.0.1 (the test's
 * clients): it believes their X-Forwarded-For; A does not.
 */
export async function startTestCluster(env: { a?: Record<string, string>; b?: Record<string, string>; both?: Record<string, string> } = {}): Promise<TestCluster> {
  if (!CLUSTER_BACKENDS) throw new Error('startTestCluster needs TEST_DATABASE_URL and TEST_REDIS_URL');
  const nodes: ClusterNode[] = [];
  const dbUrl = await createPgDatabase(TEST_DATABASE_URL!);
  const shared = {
    WEBASSET_IDENTITY_KEY: randomBytes(32).toString('base64'),
    WEBASSET_MASTER_KEY: randomBytes(32).toString('base64'),
    WEBASSET_AUDIT_SIGNING_KEY: randomBytes(32).toString('base64'),
    WEBASSET_CLUSTER_KEY: randomBytes(32).toString('base64'),
    WEBASSET_REDIS_KEY_PREFIX: `wa-relay-${randomUUID()}:`,
    WEBASSET_FORWARD_AUTH_SHED_DELAY_MS: '0',
    ...env.both,
  };

  async function startNode(name: string, extra: Record<string, string>): Promise<ClusterNode> {
    const dataDir = mkdtempSync(join(tmpdir(), `webasset-${name}-`));
    const port = await freePort();
    const { config, secrets } = loadConfig({
      env: {
        PORT: String(port),
        WEBASSET_DATA_DIR: dataDir,
        DATABASE_URL: dbUrl,
        REDIS_URL: TEST_REDIS_URL!,
        WEBASSET_NODE_ID: name,
        WEBASSET_NODE_URL: `http://127.0.0.1:${port}`,
        LOG_LEVEL: 'info',
        ...shared,
        ...extra,
      },
      cwd: dataDir,
    });
    const redactor = createRedactor(secrets);
    const logs = new LogCapture();
    const services = await openServices({ config, logger: createLogger({ level: 'info', redactor, destination: logs }), redactor, version: 'test' });
    const server = await startServer(services);
    const node = { name, services, server, url: server.url, logs, dataDir };
    nodes.push(node);
    return node;
  }

  const stop = async () => {
    for (const node of nodes.reverse()) {
      await node.server.stop('test finished');
      rmSync(node.dataDir, { recursive: true, force: true });
    }
    await dropPgDatabase(TEST_DATABASE_URL!, dbUrl);
  };

  try {
    const a = await startNode('node-a', { ...env.a });
    const b = await startNode('node-b', { WEBASSET_TRUSTED_PROXIES: '127.0.0.1/32', ...env.b });
    return {
      a,
      b,
      stop,
      callerOn: (node, origin) => ({ services: node.services, url: origin.url }) as unknown as TestServer,
      async request(node, caller, method, path, body) {
        const headers: Record<string, string> = { ...caller.headers(method), ...(method === 'GET' ? {} : { origin: node.url }) };
        if (body !== undefined) headers['content-type'] = 'application/json';
        const res = await fetch(`${node.url}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
        return { status: res.status, json: (await res.json().catch(() => ({}))) as Record<string, unknown> };
      },
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
