import { createHash } from 'node:crypto';
import { AppError } from '../core/index.js';
import { OUTCOMES, type Outcome } from './event.js';
import type { AuditFilters } from './reader.js';

/** Filter parameters as text, the same names on the API (`?from=`) and the CLI (`--from`). */
export interface AuditFilterParams {
  from?: string | undefined;
  to?: string | undefined;
  actor?: string | undefined;
  action?: string | undefined;
  targetKind?: string | undefined;
  targetId?: string | undefined;
  outcome?: string | undefined;
}

const ACTION_PREFIX = /^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*\.?$/;

/** Turns text parameters into filters, listing every problem at once as `invalid_request`. */
export function parseAuditFilters(params: AuditFilterParams): AuditFilters {
  const problems: Array<{ field: string; problem: string }> = [];
  const time = (field: 'from' | 'to'): number | undefined => {
    const value = params[field];
    if (value === undefined) return undefined;
    const ms = /^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:?\d{2}))?$/.test(value) ? Date.parse(value) : Number.NaN;
    if (Number.isNaN(ms)) problems.push({ field, problem: 'expected an ISO 8601 date or date-time with a zone, such as 2026-01-31T12:00:00Z' });
    return ms;
  };
  const text = (field: keyof AuditFilterParams, max: number): string | undefined => {
    const value = params[field];
    if (value === undefined) return undefined;
    if (value.length === 0 || value.length > max) problems.push({ field, problem: `expected 1 to ${max} characters` });
    return value;
  };
  const fromTimeMs = time('from');
  const toTimeMs = time('to');
  if (fromTimeMs !== undefined && toTimeMs !== undefined && fromTimeMs > toTimeMs) problems.push({ field: 'to', problem: 'must not be before from' });
  const action = text('action', 128);
  if (action !== undefined && !ACTION_PREFIX.test(action)) problems.push({ field: 'action', problem: 'expected a dotted action name or prefix, such as auth.login' });
  const outcome = params.outcome;
  if (outcome !== undefined && !(OUTCOMES as readonly string[]).includes(outcome)) {
    problems.push({ field: 'outcome', problem: `expected one of ${OUTCOMES.join(', ')}` });
  }
  const filters: AuditFilters = {
    fromTimeMs,
    toTimeMs,
    actorId: text('actor', 256),
    actionPrefix: action,
    targetKind: text('targetKind', 64),
    targetId: text('targetId', 512),
    outcome: outcome as Outcome | undefined,
  };
  if (problems.length > 0) throw new AppError('invalid_request', { publicMessage: 'Invalid audit filters; see details.', data: problems });
  return filters;
}

/** The filters that produced a cursor: a cursor only continues the same query. */
export function filtersKey(filters: AuditFilters, order: string): string {
  const parts = [order, ...Object.entries(filters).filter(([, v]) => v !== undefined).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k}=${String(v)}`)];
  return createHash('sha256').update(parts.join('\n')).digest('base64url').slice(0, 16);
}

export function encodeCursor(after: number, key: string): string {
  return Buffer.from(JSON.stringify({ v: 1, a: after, k: key })).toString('base64url');
}

export function decodeCursor(cursor: string, key: string): number {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw new AppError('invalid_cursor');
  }
  const c = value as { v?: unknown; a?: unknown; k?: unknown };
  if (c?.v !== 1 || !Number.isSafeInteger(c.a) || (c.a as number) < 0) throw new AppError('invalid_cursor');
  if (c.k !== key) throw new AppError('invalid_cursor', { publicMessage: 'The cursor belongs to a query with other filters or order.' });
  return c.a as number;
}
