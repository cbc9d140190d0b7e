import type { Kysely, Selectable } from 'kysely';
import { z } from 'zod';
import { AppError, type Clock, type IdGenerator } from '../core/index.js';
import type { AuditTrail } from '../audit/index.js';
import type { Principal } from '../identity/index.js';
import type { PermissionRow, Tables } from '../store/index.js';
import { jsonb } from './assets.js';
import type { RequestContext } from './request-context.js';
import type { Grant } from './decide.js';
import { parseInput } from './parse-input.js';
import { ASSET_ACTIONS, type AssetAction } from './permissions.js';
import { timeWindowSchema, type TimeWindow } from './time-window.js';

/** A permission row as the admin API shows it. */
export interface GrantRecord extends Grant {
  createdAt: string;
  updatedAt: string;
}

export interface GrantInput {
  subjectKind: 'user' | 'group';
  subjectId: string;
  assetId: string;
  actions: readonly AssetAction[];
  timeWindow?: TimeWindow | null | undefined;
  maxConcurrent?: number | null | undefined;
}

export type GrantPatch = Partial<Pick<GrantInput, 'actions' | 'timeWindow' | 'maxConcurrent'>>;

export interface Grants {
  create(input: GrantInput, by: Principal, context?: RequestContext): Promise<GrantRecord>;
  get(id: string): Promise<GrantRecord | null>;
  list(filter?: { assetId?: string | undefined; subjectKind?: 'user' | 'group' | undefined; subjectId?: string | undefined }): Promise<GrantRecord[]>;
  /** Every grant on one asset (what `decide()` needs). */
  forAsset(assetId: string): Promise<GrantRecord[]>;
  /** Grants held by a user directly or through any of `groupIds`, on any asset. */
  forSubjects(userId: string, groupIds: readonly string[]): Promise<GrantRecord[]>;
  update(id: string, patch: GrantPatch, by: Principal, context?: RequestContext): Promise<{ before: GrantRecord; after: GrantRecord }>;
  delete(id: string, by: Principal, context?: RequestContext): Promise<void>;
  /** Removes every permission of a subject (a deleted user: permission rows name their subject without a foreign key). */
  deleteForSubject(subjectKind: 'user' | 'group', subjectId: string, by: Principal, context?: RequestContext): Promise<number>;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const uuidSchema = z.string().regex(UUID, 'a UUID');

export const actionsSchema = z
  .array(z.enum(ASSET_ACTIONS))
  .min(1)
  .max(ASSET_ACTIONS.length)
  .refine((a) => new Set(a).size === a.length, 'actions must not repeat');
const maxConcurrentSchema = z.number().int().min(1).max(1000).nullable();

export const grantInputSchema = z.strictObject({
  subjectKind: z.enum(['user', 'group']),
  subjectId: uuidSchema,
  assetId: z.string().min(1).max(64),
  actions: actionsSchema,
  timeWindow: timeWindowSchema.nullable().optional(),
  maxConcurrent: maxConcurrentSchema.optional(),
});
export const grantPatchSchema = z.strictObject({
  actions: actionsSchema.optional(),
  timeWindow: timeWindowSchema.nullable().optional(),
  maxConcurrent: maxConcurrentSchema.optional(),
});

export function createGrants(deps: { db: Kysely<Tables>; trail: AuditTrail; clock: Clock; ids: IdGenerator }): Grants {
  const { db, trail, clock, ids } = deps;
  const actorOf = (p: Principal) => ({ kind: p.kind, id: p.id, name: p.name });

  async function load(id: string): Promise<GrantRecord | null> {
    if (!UUID.test(id)) return null;
    const row = await db.selectFrom('permissions').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? toGrantRecord(row) : null;
  }

  async function assertSubject(kind: 'user' | 'group', id: string): Promise<void> {
    const found = kind === 'user' ? await db.selectFrom('users').select('id').where('id', '=', id).executeTakeFirst() : await db.selectFrom('groups').select('id').where('id', '=', id).executeTakeFirst();
    if (!found) throw new AppError('not_found', { publicMessage: kind === 'user' ? 'No such user.' : 'No such group.' });
  }

  return {
    async create(input, by, context = {}) {
      const parsed = parseInput(grantInputSchema, input);
      await assertSubject(parsed.subjectKind, parsed.subjectId);
      if (!(await db.selectFrom('assets').select('id').where('id', '=', parsed.assetId).executeTakeFirst())) throw new AppError('not_found', { publicMessage: 'No such asset.' });
      const duplicate = await db
        .selectFrom('permissions')
        .select('id')
        .where('subject_kind', '=', parsed.subjectKind)
        .where('subject_id', '=', parsed.subjectId)
        .where('asset_id', '=', parsed.assetId)
        .executeTakeFirst();
      if (duplicate) throw new AppError('conflict', { publicMessage: 'This subject already has a permission on this asset; update it instead.', data: { id: duplicate.id } });
      const now = clock.now();
      const after: GrantRecord = {
        id: ids.uuid(),
        subjectKind: parsed.subjectKind,
        subjectId: parsed.subjectId,
        assetId: parsed.assetId,
        actions: sortActions(parsed.actions),
        timeWindow: normalizeWindow(parsed.timeWindow ?? null),
        maxConcurrent: parsed.maxConcurrent ?? null,
        createdAt: iso(now),
        updatedAt: iso(now),
      };
      await trail.record({ actor: actorOf(by), action: 'permission.created', outcome: 'success', target: { kind: 'permission', id: after.id }, details: { after }, ...context });
      try {
        await db.insertInto('permissions').values(toRow(after, now, now)).execute();
      } catch (error) {
        throw (error as { code?: unknown }).code === '23505' ? new AppError('conflict', { publicMessage: 'This subject already has a permission on this asset.' }) : error;
      }
      return after;
    },

    get: load,

    async list(filter = {}) {
      if (filter.subjectId !== undefined && !UUID.test(filter.subjectId)) return [];
      const rows = await db
        .selectFrom('permissions')
        .selectAll()
        .$if(filter.assetId !== undefined, (q) => q.where('asset_id', '=', filter.assetId!))
        .$if(filter.subjectKind !== undefined, (q) => q.where('subject_kind', '=', filter.subjectKind!))
        .$if(filter.subjectId !== undefined, (q) => q.where('subject_id', '=', filter.subjectId!))
        .orderBy('asset_id')
        .orderBy('subject_kind')
        .orderBy('created_at_ms')
        .orderBy('id')
        .execute();
      return rows.map(toGrantRecord);
    },

    async forAsset(assetId) {
      const rows = await db.selectFrom('permissions').selectAll().where('asset_id', '=', assetId).orderBy('id').execute();
      return rows.map(toGrantRecord);
    },

    async forSubjects(userId, groupIds) {
      const groups = groupIds.filter((g) => UUID.test(g));
      if (!UUID.test(userId) && groups.length === 0) return [];
      const rows = await db
        .selectFrom('permissions')
        .selectAll()
        .where((eb) =>
          eb.or([
            ...(UUID.test(userId) ? [eb.and([eb('subject_kind', '=', 'user'), eb('subject_id', '=', userId)])] : []),
            ...(groups.length > 0 ? [eb.and([eb('subject_kind', '=', 'group'), eb('subject_id', 'in', groups)])] : []),
          ]),
        )
        .orderBy('asset_id')
        .orderBy('id')
        .execute();
      return rows.map(toGrantRecord);
    },

    async update(id, patch, by, context = {}) {
      const parsed = parseInput(grantPatchSchema, patch);
      const before = await load(id);
      if (!before) throw new AppError('not_found', { publicMessage: 'No such permission.' });
      const now = clock.now();
      const after: GrantRecord = {
        ...before,
        actions: parsed.actions ? sortActions(parsed.actions) : before.actions,
        timeWindow: parsed.timeWindow === undefined ? before.timeWindow : normalizeWindow(parsed.timeWindow),
        maxConcurrent: parsed.maxConcurrent === undefined ? before.maxConcurrent : parsed.maxConcurrent,
        updatedAt: iso(now),
      };
      if (sameGrant(before, after)) return { before, after: before };
      await trail.record({ actor: actorOf(by), action: 'permission.updated', outcome: 'success', target: { kind: 'permission', id }, details: { before, after }, ...context });
      const result = await db
        .updateTable('permissions')
        .set({ actions: jsonb([...after.actions]), time_window: after.timeWindow === null ? null : jsonb({ ...after.timeWindow }), max_concurrent: after.maxConcurrent, updated_at_ms: now })
        .where('id', '=', id)
        .where('updated_at_ms', '=', Date.parse(before.updatedAt))
        .executeTakeFirst();
      if (result.numUpdatedRows === 0n) throw new AppError('conflict', { publicMessage: 'The permission changed meanwhile; read it again and retry.' });
      return { before, after };
    },

    async delete(id, by, context = {}) {
      const before = await load(id);
      if (!before) throw new AppError('not_found', { publicMessage: 'No such permission.' });
      await trail.record({ actor: actorOf(by), action: 'permission.deleted', outcome: 'success', target: { kind: 'permission', id }, details: { before }, ...context });
      await db.deleteFrom('permissions').where('id', '=', id).execute();
    },

    async deleteForSubject(subjectKind, subjectId, by, context = {}) {
      if (!UUID.test(subjectId)) return 0;
      const rows = await db.selectFrom('permissions').selectAll().where('subject_kind', '=', subjectKind).where('subject_id', '=', subjectId).execute();
      for (const row of rows) {
        await trail.record({ actor: actorOf(by), action: 'permission.deleted', outcome: 'success', target: { kind: 'permission', id: row.id }, details: { before: toGrantRecord(row) }, ...context });
        await db.deleteFrom('permissions').where('id', '=', row.id).execute();
      }
      return rows.length;
    },
  };
}

export function toGrantRecord(row: Selectable<PermissionRow>): GrantRecord {
  return {
    id: row.id,
    subjectKind: row.subject_kind === 'group' ? 'group' : 'user',
    subjectId: row.subject_id,
    assetId: row.asset_id,
    actions: sortActions(row.actions.filter((a): a is AssetAction => (ASSET_ACTIONS as readonly string[]).includes(a))),
    timeWindow: row.time_window === null ? null : normalizeWindow(row.time_window as unknown as TimeWindow),
    maxConcurrent: row.max_concurrent,
    createdAt: iso(row.created_at_ms),
    updatedAt: iso(row.updated_at_ms),
  };
}

export function toRow(g: Grant, createdAt: number, updatedAt: number) {
  return {
    id: g.id,
    subject_kind: g.subjectKind,
    subject_id: g.subjectId,
    asset_id: g.assetId,
    actions: jsonb([...g.actions]),
    time_window: g.timeWindow === null ? null : jsonb({ ...g.timeWindow }),
    max_concurrent: g.maxConcurrent,
    created_at_ms: createdAt,
    updated_at_ms: updatedAt,
  };
}

export function sortActions(actions: readonly AssetAction[]): AssetAction[] {
  return ASSET_ACTIONS.filter((a) => actions.includes(a));
}

/** One key order and sorted days, so equal windows compare and audit equal. */
export function normalizeWindow(w: TimeWindow | null): TimeWindow | null {
  if (w === null) return null;
  return { timeZone: w.timeZone, days: [...w.days].sort((a, b) => a - b), start: w.start, end: w.end };
}

export function sameGrant(a: Pick<Grant, 'actions' | 'timeWindow' | 'maxConcurrent'>, b: Pick<Grant, 'actions' | 'timeWindow' | 'maxConcurrent'>): boolean {
  return a.actions.join() === b.actions.join() && JSON.stringify(a.timeWindow) === JSON.stringify(b.timeWindow) && a.maxConcurrent === b.maxConcurrent;
}

function iso(ms: number): string {
  return new Date(Number(ms)).toISOString();
}
