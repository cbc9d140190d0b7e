import { join } from 'node:path';
import type { Kysely } from 'kysely';
import { createDocumentSigner, createDocumentVerifier, type Audit, type DocumentSigner } from '../../src/audit/index.js';
import { randomIds } from '../../src/core/index.js';
import { createFileRecordingStorage, createRecordings, type Recordings, type RecordingStorage } from '../../src/recording/index.js';
import type { Tables } from '../../src/store/index.js';
import { buildAudit, silentLogger, TEST_SIGNING_KEY } from '../support/audit-fixtures.js';
import type { FreshDatabase } from '../support/databases.js';
import { ManualClock } from '../support/manual-clock.js';

export const ASSET = 'bank';
export const USER = 'user-1';

export interface RecordingStack {
  recordings: Recordings;
  storage: RecordingStorage;
  /** `<dataDir>/recordings`. */
  dir: string;
  clock: ManualClock;
  audit: Audit;
  signer: DocumentSigner;
  db: Kysely<Tables>;
  /** Another service on the same database and folder (a restarted node). */
  restart(options?: { nodeId?: string }): Recordings;
  /** Audit events of recordings, oldest first, details parsed. */
  auditEvents(action?: string): Promise<Array<{ action: string; outcome: string; targetId: string | null; details: Record<string, unknown>; raw: string }>>;
}

/** A recordings service on this test's database: files in `<dataDir>/recordings`, a hand-moved clock, the test signing key. */
export async function recordingStack(
  fresh: FreshDatabase,
  options: { storage?: (files: RecordingStorage) => RecordingStorage; nodeId?: string; flushIntervalMs?: number; maxChunkBytes?: number } = {},
): Promise<RecordingStack> {
  const { database, dataDir } = fresh.db;
  const clock = new ManualClock();
  const audit = buildAudit(database, dataDir, { clock });
  await audit.trail.start();
  fresh.defer(() => audit.trail.close());
  const dir = join(dataDir, 'recordings');
  const files = createFileRecordingStorage(dir);
  const storage = options.storage?.(files) ?? files;
  const signer = createDocumentSigner(TEST_SIGNING_KEY);
  const make = (nodeId: string) =>
    createRecordings({
      db: database.db,
      storage,
      trail: audit.trail,
      signer,
      verifier: createDocumentVerifier([signer.publicKey]),
      clock,
      ids: randomIds,
      nodeId,
      logger: silentLogger(),
      // Tests decide when chunks are written (size), unless they ask for the timer.
      flushIntervalMs: options.flushIntervalMs ?? 600_000,
      maxChunkBytes: options.maxChunkBytes ?? 1024 * 1024,
    });
  return {
    recordings: make(options.nodeId ?? 'node-a'),
    storage,
    dir,
    clock,
    audit,
    signer,
    db: database.db,
    restart: (o = {}) => make(o.nodeId ?? options.nodeId ?? 'node-a'),
    async auditEvents(action) {
      await audit.trail.flush();
      let q = database.db.selectFrom('audit_events').selectAll().where('action', 'like', 'recording.%');
      if (action) q = q.where('action', '=', action);
      const rows = await q.orderBy('seq').execute();
      return rows.map((r) => ({ action: r.action, outcome: r.outcome, targetId: r.target_id, details: JSON.parse(r.details) as Record<string, unknown>, raw: r.details }));
    },
  };
}

/** A small fake JPEG whose bytes say which frame it is. */
export function fakeJpeg(n: number, size = 64): Buffer {
  const b = Buffer.alloc(size, 0x20);
  b[0] = 0xff;
  b[1] = 0xd8;
  b.writeUInt32BE(n, 2);
  return b;
}

export function sessionId(): string {
  return randomIds.uuid();
}

/** A storage that behaves like the file storage until `failing` is set, then fails the chosen writes (a full disk). */
export function failingStorage(inner: RecordingStorage, fail: { chunks?: boolean; manifest?: boolean; create?: boolean }) {
  const state = { failing: false, writes: 0 };
  const refuse = () => Promise.reject(Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }));
  const storage: RecordingStorage = {
    ...inner,
    create: (id) => (state.failing && fail.create ? refuse() : inner.create(id)),
    writeChunk: (id, seq, bytes) => {
      state.writes++;
      return state.failing && fail.chunks ? refuse() : inner.writeChunk(id, seq, bytes);
    },
    writeManifest: (id, bytes) => (state.failing && fail.manifest ? refuse() : inner.writeManifest(id, bytes)),
  };
  return { storage, state };
}
