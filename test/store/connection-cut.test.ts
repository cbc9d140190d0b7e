import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isConnectionError, openDatabase, type Database } from '../../src/store/index.js';
import { createTestDatabase, TEST_DATABASE_URL, type TestDatabase } from '../support/databases.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';

// Only PostgreSQL has a link to cut.
describe.skipIf(!TEST_DATABASE_URL)('PostgreSQL link cut (store)', () => {
  let t: TestDatabase;
  let proxy: TcpProxy;
  let database: Database;
  const uncaught: unknown[] = [];
  const onUncaught = (error: unknown) => uncaught.push(error);

  beforeEach(async () => {
    t = await createTestDatabase();
    const target = new URL(t.url!);
    proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
    database = await openDatabase({ databaseUrl: proxy.rewrite(t.url!), dataDir: t.dataDir, poolMax: 4 });
    process.on('uncaughtException', onUncaught);
  });
  afterEach(async () => {
    process.off('uncaughtException', onUncaught);
    await database.close();
    await proxy.close();
    await t.cleanup();
  });

  it('fails the transaction with a connection error, and does not crash the process, when the link dies between two queries', async () => {
    let failure: unknown;
    await database.db
      .transaction()
      .execute(async (trx) => {
        await sql`SELECT 1`.execute(trx);
        // The client is checked out and idle between two statements: no query is there to take the error.
        proxy.cut();
        // Give the reset time to arrive while nothing is in flight (if it came later, the next query would take it).
        await new Promise((resolve) => setTimeout(resolve, 50));
        await sql`SELECT 2`.execute(trx);
      })
      .catch((error: unknown) => (failure = error));
    expect(uncaught).toEqual([]);
    expect(failure).toBeDefined();
    expect(isConnectionError(failure)).toBe(true);

    // The broken client went back to the pool as discarded: once the link is back, queries work.
    proxy.restore();
    await database.ping();
  });
});
