import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openServices, type Services } from '../../src/app.js';
import { createDocumentSigner, createDocumentVerifier } from '../../src/audit/index.js';
import { loadConfig } from '../../src/config/index.js';
import { createLogger, createRedactor } from '../../src/core/index.js';
import { DEMO_CREDENTIALS } from '../../src/demo-portal/index.js';
import { createFileRecordingStorage, createRecordings } from '../../src/recording/index.js';
import { createPgDatabase, dropPgDatabase, TEST_DATABASE_URL } from '../support/databases.js';
import { ManualClock } from '../support/manual-clock.js';

/** The deployment's audit signing key in these tests (manifests are signed with it too). */
export const SIGNING_KEY = Buffer.alloc(32, 3).toString('base64');

/** The demo portal's secrets: none may appear in any byte a recording export or bundle holds. */
export const CANARIES = [DEMO_CREDENTIALS.password, DEMO_CREDENTIALS.totpSeed];

export interface RecordedDeployment {
  dir: string;
  env: Record<string, string>;
  open(): Promise<Services>;
  cleanup(): Promise<void>;
}

/** A data folder (PGlite, or a fresh PostgreSQL database with TEST_DATABASE_URL) the CLI and the test share. */
export async function deployment(): Promise<RecordedDeployment> {
  const dir = mkdtempSync(join(tmpdir(), 'webasset-rec-cli-'));
  const dbUrl = TEST_DATABASE_URL ? await createPgDatabase(TEST_DATABASE_URL) : undefined;
  const env: Record<string, string> = {
    WEBASSET_DATA_DIR: join(dir, 'data'),
    LOG_LEVEL: 'warn',
    WEBASSET_AUDIT_SIGNING_KEY: SIGNING_KEY,
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    ...(dbUrl ? { DATABASE_URL: dbUrl } : {}),
  };
  return {
    dir,
    env,
    async open() {
      const { config, secrets } = loadConfig({ env, cwd: dir });
      const redactor = createRedactor(secrets);
      return openServices({ config, logger: createLogger({ level: 'warn', redactor }), redactor, version: 'test' });
    },
    async cleanup() {
      if (dbUrl && TEST_DATABASE_URL) await dropPgDatabase(TEST_DATABASE_URL, dbUrl);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface MadeRecording {
  id: string;
  sessionId: string;
  assetId: string;
  durationMs: number;
  chunks: number;
}

const jpegCache = new Map<string, Buffer>();

/** A solid-colour 1280x720 JPEG made by the system's ffmpeg. */
export function colourJpeg(colour: string, width = 1280, height = 720): Buffer {
  const key = `${colour}-${width}x${height}`;
  let bytes = jpegCache.get(key);
  if (!bytes) {
    const dir = mkdtempSync(join(tmpdir(), 'webasset-jpeg-'));
    const file = join(dir, 'f.jpg');
    execFileSync('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', `color=c=${colour}:s=${width}x${height}`, '-frames:v', '1', file]);
    bytes = readFileSync(file);
    rmSync(dir, { recursive: true, force: true });
    jpegCache.set(key, bytes);
  }
  return bytes;
}

/**
 * Records a short sealed session the way sessions/ does (frames, events, seal), with a
 * recorder that writes a chunk per frame (small chunks: several to tamper with), the
 * deployment's storage, database and signing key. A password typed is handed to the
 * recorder with its text, which it must drop.
 */
export async function makeRecording(services: Services, options: { assetId?: string; userId?: string; frames?: number } = {}): Promise<MadeRecording> {
  const clock = new ManualClock(Date.now());
  const signer = createDocumentSigner(SIGNING_KEY);
  const recordings = createRecordings({
    db: services.database.db,
    storage: createFileRecordingStorage(services.config.recordingsDir),
    trail: services.audit.trail,
    signer,
    verifier: createDocumentVerifier([signer.publicKey]),
    clock,
    ids: services.ids,
    nodeId: services.config.nodeId,
    logger: services.logger,
    maxChunkBytes: 1024,
  });
  const sessionId = randomUUID();
  const assetId = options.assetId ?? 'demo-bank';
  await services.audit.trail.record({
    actor: { kind: 'user', id: options.userId ?? 'u-olga', name: 'Olga' },
    action: 'browser_session.started',
    outcome: 'success',
    target: { kind: 'browser_session', id: sessionId },
    details: { assetId },
  });
  const recorder = await recordings.begin({ sessionId, assetId, userId: options.userId ?? 'u-olga', retentionDays: 365 });
  const colours = ['red', 'green', 'blue', 'white', 'yellow', 'cyan', 'magenta', 'gray'];
  recorder.event({ type: 'state', state: 'logging_in' });
  clock.advance(1500);
  recorder.event({ type: 'keys', target: 'input[name=password]', field: 'password', count: DEMO_CREDENTIALS.password.length, text: DEMO_CREDENTIALS.password });
  recorder.event({ type: 'state', state: 'active' });
  const frames = options.frames ?? 4;
  for (let i = 0; i < frames; i++) {
    recorder.frame(colourJpeg(colours[i % colours.length]!), 1280, 720);
    recorder.event({ type: 'navigated', tabId: 't1', url: `http://127.0.0.1:8090/page-${i}`, title: `Page ${i}` });
    recorder.event({ type: 'click', x: 100 + i, y: 200, button: 'left', target: 'button "Transfer"' });
    clock.advance(700 + i * 300);
  }
  recorder.event({ type: 'state', state: 'ended', reason: 'user' });
  const sealed = await recorder.seal({ complete: true });
  return { id: sealed.recordingId, sessionId, assetId, durationMs: sealed.durationMs, chunks: sealed.chunks };
}
