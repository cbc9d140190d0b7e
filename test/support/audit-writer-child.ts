/**
 * Child process of the multi-process chain test: records `count` events from
 * eight concurrent writers on the PostgreSQL at `databaseUrl`, then exits 0.
 *
 * Usage: node --import tsx audit-writer-child.ts <databaseUrl> <dataDir> <nodeId> <count>
 */
import { openDatabase } from '../../src/store/index.js';
import { buildAudit, sampleEvent } from './audit-fixtures.js';

const [databaseUrl, dataDir, nodeId, countText] = process.argv.slice(2);
const count = Number(countText);
if (!databaseUrl || !dataDir || !nodeId || !Number.isInteger(count)) throw new Error('usage: audit-writer-child.ts <databaseUrl> <dataDir> <nodeId> <count>');
setTimeout(() => process.exit(3), 120_000).unref();

const WRITERS = 8;
const database = await openDatabase({ databaseUrl, dataDir, poolMax: 4 });
const audit = buildAudit(database, dataDir, { nodeId, checkpointEvery: 50, batchMax: 64 });
await audit.trail.start();
await Promise.all(
  Array.from({ length: WRITERS }, async (_, writer) => {
    for (let i = writer; i < count; i += WRITERS) await audit.trail.record(sampleEvent(i, { details: { nodeId, i } }));
  }),
);
await audit.trail.close();
await database.close();
process.stdout.write(`done ${count}\n`);
