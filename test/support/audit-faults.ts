import { setTimeout as sleep } from 'node:timers/promises';
import type { AuditTrail } from '../../src/audit/index.js';
import { openDatabase, type Database } from '../../src/store/index.js';
import { startTcpProxy, type TcpProxy } from './tcp-proxy.js';

/**
 * Polls `check` until it holds. The bound is a safety net against a hung
 * test, not a timing assertion: it is far above what any run needs.
 */
export async function waitUntil(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 45_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await sleep(10);
  }
}

/** Waits until the trail has moved everything it spooled into the database and is idle. */
export async function waitForDrained(trail: AuditTrail): Promise<void> {
  await waitUntil(() => {
    const s = trail.status();
    return s.state === 'ok' && s.spoolBytes === 0;
  }, `the audit spool to drain (status ${JSON.stringify(trail.status())})`);
  await trail.flush();
}

/**
 * A real PostgreSQL client pool pointed at a proxy that is cut for good:
 * every connection attempt is reset. This is an unreachable database, on
 * either test column, without waiting for any timeout.
 */
export async function openUnreachableDatabase(dataDir: string): Promise<{ database: Database; proxy: TcpProxy; close(): Promise<void> }> {
  const proxy = await startTcpProxy({ host: '127.0.0.1', port: 9 });
  proxy.cut();
  const database = await openDatabase({ databaseUrl: proxy.rewrite('postgres://postgres@127.0.0.1:1/unreachable'), dataDir, poolMax: 2 });
  return {
    database,
    proxy,
    async close() {
      await database.close();
      await proxy.close();
    },
  };
}
