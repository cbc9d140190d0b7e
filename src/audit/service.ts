import { AppError, type Clock } from '../core/index.js';
import { toView } from './chain.js';
import type { VerifyResult } from './chain-checker.js';
import type { Actor, AuditEventView } from './event.js';
import { exportLines, type ExportFormat } from './export-format.js';
import { decodeCursor, encodeCursor, filtersKey, parseAuditFilters, type AuditFilterParams } from './filters.js';
import type { AuditReader } from './reader.js';
import type { CheckpointSigner, CheckpointVerifier } from './signer.js';
import type { AuditTrail } from './trail.js';

export interface CallContext {
  sourceIp?: string | undefined;
  userAgent?: string | undefined;
  requestId?: string | undefined;
}

export interface SearchParams extends AuditFilterParams {
  cursor?: string | undefined;
  limit?: number | undefined;
  order?: 'asc' | 'desc' | undefined;
}

/**
 * Reading the trail, exporting it and verifying it, for every entry point
 * (API and CLI). Each use is itself recorded before any data leaves; if that
 * record cannot be written, nothing is returned.
 */
export interface AuditService {
  search(actor: Actor, params: SearchParams, context?: CallContext): Promise<{ events: AuditEventView[]; nextCursor: string | null }>;
  export(actor: Actor, format: ExportFormat, params: AuditFilterParams, context?: CallContext): Promise<AsyncGenerator<string>>;
  verify(actor: Actor, options?: VerifyOptions): Promise<VerifyResult>;
  /**
   * What other modules need to write evidence that carries audit events (a
   * recording's bundle): the read side, the public keys that verify the
   * checkpoints (the signing key's first, then the trusted earlier ones), the clock.
   */
  readonly evidence: { reader: AuditReader; publicKeys: readonly string[]; clock: Clock };
}

export interface VerifyOptions {
  fromSeq?: number | undefined;
  /** Stops the walk between pages (nothing is recorded then). */
  signal?: AbortSignal | undefined;
  /** The request that asked, for the `audit.verified` event. */
  context?: CallContext | undefined;
}

export interface AuditServiceDeps {
  reader: AuditReader;
  trail: AuditTrail;
  signer: CheckpointSigner;
  verifier: CheckpointVerifier;
  clock: Clock;
  pageMax: number;
  /** Page size when the caller does not ask for one. */
  pageDefault?: number;
  /** Public keys of earlier signing keys, still trusted (handed on with {@link AuditService.evidence}). */
  trustedPublicKeys?: readonly string[] | undefined;
}

export function createAuditService(deps: AuditServiceDeps): AuditService {
  const { reader, trail } = deps;

  /** Signs a checkpoint at the head and returns its seq: an export runs through a signed point. */
  async function signedHead(): Promise<number> {
    const head = await reader.headSeq();
    await trail.checkpoint();
    const newer = await reader.checkpoints(head);
    // No checkpoint could be signed now (the trail is spooling): end at the newest one there is.
    return newer.at(-1)?.seq ?? (await reader.checkpoints(1, head)).at(-1)?.seq ?? 0;
  }

  return {
    async search(actor, params, context = {}) {
      const limit = params.limit ?? Math.min(deps.pageDefault ?? 100, deps.pageMax);
      if (!Number.isSafeInteger(limit) || limit < 1) throw new AppError('invalid_request', { publicMessage: 'limit must be a positive whole number.' });
      if (limit > deps.pageMax) throw new AppError('page_size_too_large', { publicMessage: `limit must not exceed ${deps.pageMax}.`, data: { max: deps.pageMax } });
      const order = params.order ?? 'desc';
      const filters = parseAuditFilters(params);
      const key = filtersKey(filters, order);
      const after = params.cursor === undefined ? undefined : decodeCursor(params.cursor, key);
      const page = await reader.search(filters, { after, limit, order });
      await trail.record({
        actor,
        action: 'audit.read',
        outcome: 'success',
        details: { filters: describeFilters(params), order, returned: page.events.length, continued: after !== undefined },
        ...context,
      });
      return { events: page.events.map(toView), nextCursor: page.nextCursor === null ? null : encodeCursor(page.nextCursor, key) };
    },

    async export(actor, format, params, context = {}) {
      const filters = parseAuditFilters(params);
      const through = await signedHead();
      await trail.record({
        actor,
        action: 'audit.exported',
        outcome: 'success',
        details: { format, filters: describeFilters(params), throughSeq: through },
        ...context,
      });
      return exportLines(reader, through, {
        format,
        filters,
        publicKeys: { [deps.signer.keyId]: deps.signer.publicKey },
        nowMs: deps.clock.now(),
      });
    },

    evidence: { reader, publicKeys: [deps.signer.publicKey, ...(deps.trustedPublicKeys ?? [])], clock: deps.clock },

    async verify(actor, options = {}) {
      const result = await reader.verify(deps.verifier, { fromSeq: options.fromSeq, signal: options.signal });
      await trail.record({
        actor,
        action: 'audit.verified',
        outcome: result.ok ? 'success' : 'failure',
        details: {
          fromSeq: options.fromSeq ?? 1,
          events: result.events,
          lastSeq: result.lastSeq,
          checkpoints: result.checkpoints,
          brokenAt: result.failure?.seq ?? null,
          reason: result.failure?.reason ?? null,
          lastCheckpoint: result.lastCheckpoint,
        },
        ...options.context,
      });
      return result;
    },
  };
}

function describeFilters(params: AuditFilterParams): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of ['from', 'to', 'actor', 'action', 'targetKind', 'targetId', 'outcome'] as const) {
    const value = params[key];
    if (value !== undefined) out[key] = value;
  }
  return out;
}
