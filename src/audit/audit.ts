import { join } from 'node:path';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Clock, IdGenerator, Redactor } from '../core/index.js';
import type { CopyOut, Tables } from '../store/index.js';
import { createChainStore } from './chain-store.js';
import { createAuditReader, type AuditReader } from './reader.js';
import { createAuditService, type AuditService } from './service.js';
import { createCheckpointSigner, createCheckpointVerifier, type CheckpointSigner, type CheckpointVerifier } from './signer.js';
import { createAuditSpool } from './spool.js';
import { createAuditTrail, type AuditTrail } from './trail.js';

/** The audit module as the rest of the product sees it. */
export interface Audit {
  trail: AuditTrail;
  reader: AuditReader;
  signer: CheckpointSigner;
  verifier: CheckpointVerifier;
  /** Search, export and verification for the entry points; each use is audited. */
  service: AuditService;
}

export interface AuditDeps {
  db: Kysely<Tables>;
  /** The database's fast bulk read (PostgreSQL), used by verification when present. */
  copyOut?: CopyOut | undefined;
  dataDir: string;
  /** Ed25519 seed, base64. */
  signingKey: string;
  /** Public keys of earlier signing keys, still trusted when verifying. */
  trustedPublicKeys?: readonly string[];
  nodeId: string;
  clock: Clock;
  ids: IdGenerator;
  redactor: Redactor;
  logger: Logger;
  batchMax: number;
  checkpointEvery: number;
  checkpointSeconds: number;
  /** Largest page the search accepts. */
  pageMax: number;
  retryMs?: number;
}

export function createAudit(deps: AuditDeps): Audit {
  const signer = createCheckpointSigner(deps.signingKey);
  const verifier = createCheckpointVerifier([signer.publicKey, ...(deps.trustedPublicKeys ?? [])]);
  const store = createChainStore({ db: deps.db, signer, clock: deps.clock, nodeId: deps.nodeId, checkpointEvery: deps.checkpointEvery });
  const spool = createAuditSpool(join(deps.dataDir, 'audit-spool', 'events.ndjson'));
  const trail = createAuditTrail({ ...deps, store, spool });
  const reader = createAuditReader(deps.db, { copyOut: deps.copyOut });
  const service = createAuditService({ reader, trail, signer, verifier, clock: deps.clock, pageMax: deps.pageMax, trustedPublicKeys: deps.trustedPublicKeys });
  return { trail, reader, signer, verifier, service };
}
