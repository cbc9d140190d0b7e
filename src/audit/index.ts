export { AUDIT_ACTIONS, isAuditAction, type AuditAction } from './actions.js';
export type { Actor, AuditEventInput, AuditEventView, ChainedEvent, CheckpointRecord, Outcome, RecordReceipt } from './event.js';
export { ACTOR_KINDS, OUTCOMES } from './event.js';
export { canonicalEventText, chainHash, createEventHasher, toView, type EventHasher } from './chain.js';
export { createChainStore, type ChainStore } from './chain-store.js';
export { createAuditSpool, type AuditSpool } from './spool.js';
export { createAuditTrail, type AuditTrail, type AuditTrailStatus } from './trail.js';
export { createAuditReader, type AuditFilters, type AuditPage, type AuditReader } from './reader.js';
export { describeResult, type VerifyResult } from './chain-checker.js';
export {
  createCheckpointSigner,
  createCheckpointVerifier,
  createDocumentSigner,
  createDocumentVerifier,
  publicKeyId,
  type CheckpointSigner,
  type CheckpointVerifier,
  type DocumentCheck,
  type DocumentSigner,
  type DocumentVerifier,
  type SignedDocument,
} from './signer.js';
export { exportLines, verifyExportFile, EXPORT_FORMATS, type ExportFormat } from './export-format.js';
export { createAudit, type Audit, type AuditDeps } from './audit.js';
export { createAuditService, type AuditService, type AuditServiceDeps, type CallContext, type SearchParams, type VerifyOptions } from './service.js';
export { parseAuditFilters, type AuditFilterParams } from './filters.js';
export { createChainVerification, type ChainVerification, type ChainVerificationDeps, type VerificationReport, type VerificationRun, type VerificationStatus } from './verification.js';
