import type { Kysely, Selectable } from 'kysely';
import { z } from 'zod';
import { AppError, compileHostPattern, hostMatches, isHostPattern, type Clock } from '../core/index.js';
import type { AuditTrail } from '../audit/index.js';
import type { Principal } from '../identity/index.js';
import type { AssetRow, Tables } from '../store/index.js';
import type { RequestContext } from './request-context.js';
import { parseInput } from './parse-input.js';

/** A catalog entry: a web portal people and agents reach through the gateway. */
export interface AssetRecord {
  id: string;
  name: string;
  url: string;
  /** Hosts the remote browser may navigate to: `portal.example.com` or `*.example.com`. */
  allowedHosts: string[];
  /** Web sessions need a sign-in with a second factor to use it. */
  mfaRequired: boolean;
  createdAt: string;
  updatedAt: string;
}

export interface AssetInput {
  id: string;
  name: string;
  url: string;
  allowedHosts?: readonly string[] | undefined;
  mfaRequired?: boolean | undefined;
}

export type AssetPatch = Partial<Omit<AssetInput, 'id'>>;

export interface Assets {
  create(input: AssetInput, by: Principal, context?: RequestContext): Promise<AssetRecord>;
  get(id: string): Promise<AssetRecord | null>;
  list(): Promise<AssetRecord[]>;
  update(id: string, patch: AssetPatch, by: Principal, context?: RequestContext): Promise<{ before: AssetRecord; after: AssetRecord }>;
  /** Deletes the asset and every permission on it. */
  delete(id: string, by: Principal, context?: RequestContext): Promise<void>;
}

export const ASSET_ID = /^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$/;
const NO_CONTROL = /^[^\p{Cc}]*$/u;

export const assetIdSchema = z.string().regex(ASSET_ID, 'a slug: lowercase letters, digits and -, 1 to 64');
const nameSchema = z.string().min(1).max(200).regex(NO_CONTROL, 'no control characters');
const urlSchema = z
  .string()
  .max(2048)
  .refine((v) => {
    try {
      const u = new URL(v);
      // Credentials in a catalog URL would be shown to everyone who reads the catalog.
      return (u.protocol === 'https:' || u.protocol === 'http:') && u.username === '' && u.password === '' && u.hostname !== '';
    } catch {
      return false;
    }
  }, 'an http(s) URL without user name or password');
const hostsSchema = z
  .array(z.string().max(253).refine(isHostPattern, 'a host name, or *.domain with at least two labels after the *'))
  .min(1)
  .max(50)
  .refine((h) => new Set(h.map((x) => x.toLowerCase())).size === h.length, 'hosts must not repeat');

export const assetInputSchema = z.strictObject({
  id: assetIdSchema,
  name: nameSchema,
  url: urlSchema,
  allowedHosts: hostsSchema.optional(),
  mfaRequired: z.boolean().optional(),
});
export const assetPatchSchema = z.strictObject({
  name: nameSchema.optional(),
  url: urlSchema.optional(),
  allowedHosts: hostsSchema.optional(),
  mfaRequired: z.boolean().optional(),
});

/**
 * Normalizes a validated asset: hosts lowercased, and the start URL's host
 * must be one of them (a navigation guard that refused the start page
 * would make the asset unusable; one that allowed it silently would widen it).
 */
export function normalizeAsset(input: { url: string; allowedHosts?: readonly string[] | undefined }): { url: string; allowedHosts: string[] } {
  const url = new URL(input.url);
  const host = url.hostname.toLowerCase();
  const allowedHosts = (input.allowedHosts ?? [host]).map((h) => h.toLowerCase());
  if (!allowedHosts.some((h) => isHostPattern(h) && hostMatches(compileHostPattern(h), host))) {
    throw new AppError('invalid_request', {
      publicMessage: 'The request is invalid; see details.',
      data: [{ field: 'allowedHosts', problem: "must include the URL's host" }],
    });
  }
  return { url: input.url, allowedHosts };
}

export function createAssets(deps: { db: Kysely<Tables>; trail: AuditTrail; clock: Clock }): Assets {
  const { db, trail, clock } = deps;
  const actorOf = (p: Principal) => ({ kind: p.kind, id: p.id, name: p.name });

  async function load(id: string): Promise<AssetRecord | null> {
    if (!ASSET_ID.test(id)) return null;
    const row = await db.selectFrom('assets').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? toAssetRecord(row) : null;
  }

  async function mustLoad(id: string): Promise<AssetRecord> {
    const asset = await load(id);
    if (!asset) throw new AppError('not_found', { publicMessage: 'No such asset.' });
    return asset;
  }

  return {
    async create(input, by, context = {}) {
      const parsed = parseInput(assetInputSchema, input);
      const { url, allowedHosts } = normalizeAsset(parsed);
      if (await load(parsed.id)) throw new AppError('conflict', { publicMessage: 'An asset with this id exists.' });
      const now = clock.now();
      const after: AssetRecord = { id: parsed.id, name: parsed.name, url, allowedHosts, mfaRequired: parsed.mfaRequired ?? false, createdAt: iso(now), updatedAt: iso(now) };
      await trail.record({ actor: actorOf(by), action: 'asset.created', outcome: 'success', target: { kind: 'asset', id: after.id }, details: { after }, ...context });
      try {
        await db
          .insertInto('assets')
          .values({
            id: after.id,
            name: after.name,
            url: after.url,
            allowed_hosts: jsonb(after.allowedHosts),
            definition: jsonb({ mfaRequired: after.mfaRequired }),
            created_at_ms: now,
            updated_at_ms: now,
          })
          .execute();
      } catch (error) {
        throw (error as { code?: unknown }).code === '23505' ? new AppError('conflict', { publicMessage: 'An asset with this id exists.' }) : error;
      }
      return after;
    },

    get: load,

    async list() {
      const rows = await db.selectFrom('assets').selectAll().orderBy('id').execute();
      return rows.map(toAssetRecord);
    },

    async update(id, patch, by, context = {}) {
      const parsed = parseInput(assetPatchSchema, patch);
      const before = await mustLoad(id);
      const merged = { url: parsed.url ?? before.url, allowedHosts: parsed.allowedHosts ?? before.allowedHosts };
      const { url, allowedHosts } = normalizeAsset(merged);
      const now = clock.now();
      const after: AssetRecord = { ...before, name: parsed.name ?? before.name, url, allowedHosts, mfaRequired: parsed.mfaRequired ?? before.mfaRequired, updatedAt: iso(now) };
      if (sameAsset(before, after)) return { before, after: before };
      await trail.record({ actor: actorOf(by), action: 'asset.updated', outcome: 'success', target: { kind: 'asset', id }, details: { before, after }, ...context });
      const row = await db.selectFrom('assets').select('definition').where('id', '=', id).executeTakeFirst();
      const result = await db
        .updateTable('assets')
        .set({
          name: after.name,
          url: after.url,
          allowed_hosts: jsonb(after.allowedHosts),
          definition: jsonb({ ...(row?.definition ?? {}), mfaRequired: after.mfaRequired }),
          updated_at_ms: now,
        })
        .where('id', '=', id)
        .where('updated_at_ms', '=', Date.parse(before.updatedAt))
        .executeTakeFirst();
      if (result.numUpdatedRows === 0n) throw new AppError('conflict', { publicMessage: 'The asset changed meanwhile; read it again and retry.' });
      return { before, after };
    },

    async delete(id, by, context = {}) {
      const before = await mustLoad(id);
      const grants = await db.selectFrom('permissions').select('id').where('asset_id', '=', id).execute();
      await trail.record({
        actor: actorOf(by),
        action: 'asset.deleted',
        outcome: 'success',
        target: { kind: 'asset', id },
        details: { before, permissionsRemoved: grants.length },
        ...context,
      });
      // Permissions go with it (ON DELETE CASCADE).
      await db.deleteFrom('assets').where('id', '=', id).execute();
    },
  };
}

export function toAssetRecord(row: Selectable<AssetRow>): AssetRecord {
  return {
    id: row.id,
    name: row.name,
    url: row.url,
    allowedHosts: [...row.allowed_hosts],
    mfaRequired: (row.definition as { mfaRequired?: unknown }).mfaRequired === true,
    createdAt: iso(row.created_at_ms),
    updatedAt: iso(row.updated_at_ms),
  };
}

export function sameAsset(a: Omit<AssetRecord, 'createdAt' | 'updatedAt'>, b: Omit<AssetRecord, 'createdAt' | 'updatedAt'>): boolean {
  return a.name === b.name && a.url === b.url && a.allowedHosts.join() === b.allowedHosts.join() && a.mfaRequired === b.mfaRequired;
}

function iso(ms: number): string {
  return new Date(Number(ms)).toISOString();
}

/** jsonb parameters go in as JSON text: pg would send a JS array as a Postgres array. */
export function jsonb<T>(value: T): T {
  return JSON.stringify(value) as unknown as T;
}
