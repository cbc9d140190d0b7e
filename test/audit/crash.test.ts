import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import type { Database } from '../../src/store/index.js';
import { buildAudit } from '../support/audit-fixtures.js';
import { waitForDrained } from '../support/audit-faults.js';
import { useTestDatabase } from '../support/databases.js';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const CHILD = join(repo, 'test/support/audit-crash-child.ts');
const CHILD_LIMIT_MS = 90_000;

interface ChildRun {
  /** Ids the child printed, one complete line each: record() had resolved for every one. */
  ids: string[];
  signal: NodeJS.Signals | null;
}

/**
 * Runs the crash child and kills it with SIGKILL at a random moment after it
 * has acknowledged at least `minEvents` events.
 */
function runAndKill(args: string[], minEvents: number): Promise<ChildRun> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, ...args], { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'] });
    const ids: string[] = [];
    let partial = '';
    let stderr = '';
    let killScheduled = false;
    const guard = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`crash child did not reach ${minEvents} events in time; stderr: ${stderr}`));
    }, CHILD_LIMIT_MS);
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      partial += chunk;
      const lines = partial.split('\n');
      partial = lines.pop()!;
      for (const line of lines) if (line !== 'ready') ids.push(line);
      if (!killScheduled && ids.length >= minEvents) {
        killScheduled = true;
        // A random moment: maybe between two writes, maybe mid-transaction or mid-fsync.
        setTimeout(() => child.kill('SIGKILL'), Math.floor(Math.random() * 25));
      }
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(guard);
      if (signal !== 'SIGKILL') reject(new Error(`crash child ended by itself (code ${code}); stderr: ${stderr}`));
      // A line without its newline was cut by the kill: not an acknowledged id.
      else resolvePromise({ ids, signal });
    });
  });
}

describe('audit trail after a crash (SIGKILL)', () => {
  const fresh = useTestDatabase();

  /** The database as a restarted process sees it: PGlite reopened from its folder, PostgreSQL as it was. */
  async function reopenAfterCrash(): Promise<Database> {
    if (fresh.db.url) return fresh.db.database;
    // The killed child could not remove its lock file; the owner is dead, so it must not block us.
    expect(existsSync(join(fresh.db.dataDir, 'db.lock'))).toBe(true);
    const database = await fresh.db.reopen();
    fresh.defer(() => database.close());
    return database;
  }

  async function expectAllPresentAndVerified(database: Database, ids: string[]): Promise<void> {
    const audit = buildAudit(database, fresh.db.dataDir);
    fresh.defer(() => audit.trail.close());
    await audit.trail.start();
    await waitForDrained(audit.trail);

    const { rows } = await sql<{ event_id: string; details: string }>`
      SELECT event_id, details FROM audit_events WHERE action = 'audit.read' ORDER BY seq`.execute(database.db);
    const stored = new Map<string, number>();
    for (const r of rows) stored.set(r.event_id, (stored.get(r.event_id) ?? 0) + 1);
    const missing = ids.filter((id) => !stored.has(id));
    expect(missing, `${missing.length} of ${ids.length} acknowledged events are missing`).toEqual([]);
    for (const count of stored.values()) expect(count).toBe(1);
    // Each writer's events are in the order it issued them.
    const lastByWriter = new Map<number, number>();
    for (const r of rows) {
      const { writer, i } = JSON.parse(r.details) as { writer: number; i: number };
      expect(i).toBeGreaterThan(lastByWriter.get(writer) ?? -1);
      lastByWriter.set(writer, i);
    }
    const result = await audit.reader.verify(audit.verifier);
    expect(result.failure).toBeNull();
    expect(result.events).toBeGreaterThanOrEqual(ids.length);
  }

  it('keeps every acknowledged event of a writer killed mid-stream, and the chain verifies', { timeout: 180_000 }, async () => {
    // PGlite is a database inside one process: the child opens the folder, so we let go of it first.
    if (!fresh.db.url) await fresh.db.database.close();
    const minEvents = 20 + Math.floor(Math.random() * 150);
    const run = await runAndKill([fresh.db.dataDir, 'database', fresh.db.url ?? ''], minEvents);
    expect(run.ids.length).toBeGreaterThanOrEqual(minEvents);
    await expectAllPresentAndVerified(await reopenAfterCrash(), run.ids);
  });

  it('keeps every event a writer killed during an outage had spooled, and drains them at the next start', { timeout: 180_000 }, async () => {
    const minEvents = 20 + Math.floor(Math.random() * 150);
    const run = await runAndKill([fresh.db.dataDir, 'outage'], minEvents);
    expect(run.ids.length).toBeGreaterThanOrEqual(minEvents);
    expect(existsSync(join(fresh.db.dataDir, 'audit-spool', 'events.ndjson'))).toBe(true);
    await expectAllPresentAndVerified(fresh.db.database, run.ids);
  });
});
