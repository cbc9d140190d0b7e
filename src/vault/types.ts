import type { Actor } from '../audit/index.js';

/** Request facts carried into audit events (same shape as access's RequestContext). */
export interface VaultContext {
  sourceIp?: string | undefined;
  userAgent?: string | undefined;
  requestId?: string | undefined;
}

/** What an entry looks like from outside the vault: never a value, never a length. */
export interface EntryMetadata {
  id: string;
  version: number;
  fields: string[];
  setBy: { kind: string; id: string; name: string | null };
  setAt: string;
  ageDays: number;
  maxAgeDays: number;
  stale: boolean;
}

export interface VersionMetadata {
  version: number;
  fields: string[];
  setBy: { kind: string; id: string; name: string | null };
  setAt: string;
  supersededAt: string | null;
  current: boolean;
}

/**
 * Decrypted fields, held in one Buffer. `get` returns views into it, valid
 * until `dispose()`, which zero-fills it. Not serializable: JSON gives only
 * the entry id, version and field names.
 */
export interface SecretFields {
  readonly entryId: string;
  readonly version: number;
  readonly names: readonly string[];
  get(name: string): Buffer | undefined;
  dispose(): void;
}

export interface SetInput {
  entryId: string;
  /** Field name to value. The vault zero-fills these Buffers once sealed. */
  values: Map<string, Buffer>;
  /** Keep the current version's other fields (the CLI sets one field at a time); else the new version has exactly `values`. */
  merge?: boolean;
  /** Days after which the entry is stale; null: the default. Unchanged when undefined. */
  maxAgeDays?: number | null | undefined;
}

export interface ReadInput {
  entryId: string;
  /** The governed session the credential is injected into. */
  sessionId: string;
  /** Why: `login`, `totp`, ... (recorded). */
  purpose: string;
  /** Who reads; defaults to the node. */
  actor?: Actor | undefined;
  context?: VaultContext | undefined;
}

export interface RotationProgress {
  rewrapped: number;
  remaining: number;
}

export interface RotationResult {
  previousKeyId: string;
  keyId: string;
  rewrapped: number;
  /** False when there was nothing to do (the key is already current). */
  rotated: boolean;
}

/** An alert about an entry past its maximum age (detect's `raise`, passed in by the composition root). */
export interface StaleAlertSink {
  raise(alert: {
    kind: string;
    severity: 'low' | 'medium' | 'high' | 'critical';
    summary: string;
    subject: { kind: string; id: string };
    details?: Record<string, unknown>;
  }): Promise<{ id: string }>;
}

/**
 * The browser module's one way to a credential. Sources other than the
 * built-in vault (Infisical) implement `SecretSource` and sit behind the same
 * `read`, so auditing and wiping do not depend on where a value came from.
 */
export interface VaultReader {
  read(input: ReadInput): Promise<SecretFields>;
}

export interface SecretSource {
  readonly kind: string;
  /** The entry's current fields in one Buffer the caller wipes; throws AppError (not_found, vault_entry_unreadable, ...). */
  load(entryId: string): Promise<{ version: number; plain: Buffer; fields: Map<string, Buffer> }>;
}
