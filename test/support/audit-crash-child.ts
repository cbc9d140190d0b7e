/**
 * Child process of the audit crash test: records events in a loop from a few
 * concurrent writers and prints each event id on its own line once record()
 * has resolved, until the parent kills it with SIGKILL.
 *
 * Usage: node --import tsx audit-crash-child.ts <dataDir> <mode> [databaseUrl]
 *   mode `database`: the PostgreSQL at databaseUrl, or without one the
 *                    embedded PGlite in dataDir (which the parent must have closed);
 *   mode `outage`:   a database that cannot be reached, so every event goes
 *                    to the spool in dataDir.
 */
import { openDatabase, type Database } from '../../src/store/index.js';
import { openUnreachableDatabase } from './audit-faults.js';
import { buildAudit, sampleEvent } from './audit-fixtures.js';

const WRITERS = 4;
const MAX_PER_WRITER = 20_000;
/** If the parent never kills us (it crashed itself), do not linger. */
const GIVE_UP_MS = 120_000;

const [dataDir, mode, databaseUrl] = process.argv.slice(2);
if (!dataDir || (mode !== 'database' && mode !== 'outage')) throw new Error('usage: audit-crash-child.ts <dataDir> database|outage [databaseUrl]');
setTimeout(() => process.exit(3), GIVE_UP_MS).unref();
// The parent going away closes our stdout: stop rather than write into a broken pipe.
process.stdout.on('error', () => process.exit(4));

const database: Database =
  mode === 'outage'
    ? (await openUnreachableDatabase(dataDir)).database
    : await openDatabase({ databaseUrl: databaseUrl || undefined, dataDir, poolMax: WRITERS });
const audit = buildAudit(database, dataDir, { checkpointEvery: 10, batchMax: 16, retryMs: 60_000 });
await audit.trail.start();
process.stdout.write('ready\n');

await Promise.all(
  Array.from({ length: WRITERS }, async (_, writer) => {
    for (let i = 0; i < MAX_PER_WRITER; i++) {
      const receipt = await audit.trail.record(sampleEvent(i, { details: { writer, i } }));
      // Written only after record() resolved: every line names a durable event.
      process.stdout.write(`${receipt.id}\n`);
    }
  }),
);
await audit.trail.close();
await database.close();
