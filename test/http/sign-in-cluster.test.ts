import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openServices, startServer, type RunningServer, type Services } from '../../src/app.js';
import { loadConfig } from '../../src/config/index.js';
import { createLogger, createRedactor } from '../../src/core/index.js';
import { Browser, codeAt, tokenOf, TEST_ADMIN } from '../support/accounts.js';
import { createPgDatabase, dropPgDatabase, TEST_DATABASE_URL } from '../support/databases.js';
import { LogCapture, TEST_REDIS_URL } from '../support/server.js';

/** Two nodes on one PostgreSQL and one Redis: the production column of DESIGN.md. */
describe.skipIf(!TEST_DATABASE_URL || !TEST_REDIS_URL)('local sign-in across two nodes (PostgreSQL + Redis)', () => {
  const nodes: Array<{ services: Services; server: RunningServer; dataDir: string }> = [];
  let dbUrl: string;
  const shared = {
    WEBASSET_IDENTITY_KEY: randomBytes(32).toString('base64'),
    // Nodes of one deployment share the vault master key (a node with another key refuses to start).
    WEBASSET_MASTER_KEY: randomBytes(32).toString('base64'),
    WEBASSET_AUDIT_SIGNING_KEY: randomBytes(32).toString('base64'),
    WEBASSET_REDIS_KEY_PREFIX: `wa-cluster-${randomUUID()}:`,
    WEBASSET_TRUSTED_PROXIES: '127.0.0.1/32',
  };

  beforeAll(async () => {
    dbUrl = await createPgDatabase(TEST_DATABASE_URL!);
    for (const name of ['node-a', 'node-b']) {
      const dataDir = mkdtempSync(join(tmpdir(), `webasset-${name}-`));
      const { config, secrets } = loadConfig({
        env: { PORT: '0', WEBASSET_DATA_DIR: dataDir, DATABASE_URL: dbUrl, REDIS_URL: TEST_REDIS_URL!, WEBASSET_NODE_ID: name, LOG_LEVEL: 'info', ...shared },
        cwd: dataDir,
      });
      const redactor = createRedactor(secrets);
      const services = await openServices({ config, logger: createLogger({ level: 'info', redactor, destination: new LogCapture() }), redactor, version: 'test' });
      nodes.push({ services, server: await startServer(services), dataDir });
    }
  });
  afterAll(async () => {
    for (const n of nodes) {
      await n.server.stop('test finished');
      rmSync(n.dataDir, { recursive: true, force: true });
    }
    if (dbUrl) await dropPgDatabase(TEST_DATABASE_URL!, dbUrl);
  });

  it('finishes MFA on another node, accepts a TOTP code on one node only, and locks on every node', async () => {
    const [a, b] = nodes as [(typeof nodes)[0], (typeof nodes)[0]];
    const user = await a.services.users.create({ username: 'nina', roles: ['admin'], source: 'local' }, TEST_ADMIN);
    const token = tokenOf((await a.services.users.createEnrolmentLink(user.id, 'enrol', TEST_ADMIN)).url);
    const enrol = new Browser(a.server.url);
    await enrol.call('POST', `/api/auth/enrolment/${token}/password`, { password: 'network of two nodes' });
    // The seed is sealed on node A and opened on node B: both have the same identity key.
    const secret = (await enrol.call('POST', `/api/auth/enrolment/${token}/totp/start`)).body.secret as string;
    expect((await new Browser(b.server.url).call('POST', `/api/auth/enrolment/${token}/totp/confirm`, { code: codeAt(secret, Date.now()) })).status).toBe(200);

    // Password on A, second factor on B: the sign-in step lives in Redis.
    const jar = new Browser(a.server.url, { 'x-forwarded-for': '198.51.100.1' });
    expect((await jar.call('POST', '/api/auth/login', { username: 'nina', password: 'network of two nodes' })).body).toMatchObject({ mfaRequired: true });
    const onB = new Browser(b.server.url, { 'x-forwarded-for': '198.51.100.1' });
    for (const [k, v] of jar.jar) onB.jar.set(k, v);
    const code = codeAt(secret, Date.now() + 30_000);
    expect((await onB.call('POST', '/api/auth/login/mfa', { code })).body).toMatchObject({ signedIn: true, mfa: true });

    // The same code on node A, at once: refused.
    const again = new Browser(a.server.url, { 'x-forwarded-for': '198.51.100.2' });
    await again.call('POST', '/api/auth/login', { username: 'nina', password: 'network of two nodes' });
    expect((await again.call('POST', '/api/auth/login/mfa', { code })).status).toBe(401);

    // Ten failures spread over both nodes lock the account on both.
    for (let i = 0; i < 10; i++) {
      const node = i % 2 === 0 ? a : b;
      await new Browser(node.server.url, { 'x-forwarded-for': `203.0.113.${i + 1}` }).call('POST', '/api/auth/login', { username: 'nina', password: `wrong ${i} password` });
    }
    for (const node of [a, b]) {
      const res = await new Browser(node.server.url, { 'x-forwarded-for': '203.0.113.99' }).call('POST', '/api/auth/login', { username: 'nina', password: 'network of two nodes' });
      expect(res.status).toBe(401);
    }
  });
});
