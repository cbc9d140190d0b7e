import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildAudit } from '../support/audit-fixtures.js';
import { TEST_DATABASE_URL, useTestDatabase } from '../support/databases.js';

const CHILD = join(import.meta.dirname, '..', 'support', 'audit-writer-child.ts');
const TSX = import.meta.resolve('tsx');
const NODES = 3;
const PER_NODE = 1500;

// Several processes on one PostgreSQL are the cluster case; PGlite is one process by design.
describe.skipIf(!TEST_DATABASE_URL)('several processes on one PostgreSQL', () => {
  const fresh = useTestDatabase();

  it('write one linear chain', async () => {
    const children = Array.from({ length: NODES }, (_, n) => {
      const child = spawn(process.execPath, ['--import', TSX, CHILD, fresh.db.url!, join(fresh.db.dataDir, `node-${n}`), `node-${n}`, String(PER_NODE)], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let out = '';
      child.stdout.on('data', (c: Buffer) => (out += c.toString()));
      return once(child, 'exit').then(([code]) => ({ code: code as number | null, out }));
    });
    const results = await Promise.all(children);
    for (const r of results) expect(r).toEqual({ code: 0, out: `done ${PER_NODE}\n` });

    const audit = buildAudit(fresh.db.database, fresh.db.dataDir);
    const result = await audit.reader.verify(audit.verifier);
    expect(result.failure).toBeNull();
    expect(result.events).toBe(NODES * PER_NODE);
    // Each node's events are spread through the chain, not in one block: the writers really ran at once.
    const { events } = await audit.reader.search({}, { limit: NODES * PER_NODE, order: 'asc' });
    const switches = events.filter((e, i) => i > 0 && e.nodeId !== events[i - 1]!.nodeId).length;
    expect(switches).toBeGreaterThan(NODES - 1);
  });
});
