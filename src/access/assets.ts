import type { Kysely, Selectable } from 'kysely';
import { z } from 'zod';
import { AppError, compileHostPattern, hostMatches, isHostPattern, type Clock } from '../core/index.js';
import type { AuditTrail } from '../audit/index.js';
import type { Principal } from '../identity/index.js';
import type { AssetRow, Tables } from '../store/index.js';
import type { RequestContext } from './request-context.js';
import { parseInput } from './parse-input.js';
import {
  checkDefinitionHosts,
  DEFAULT_DEFINITION,
  definitionAuditView,
  definitionInputFields,
  httpUrlSchema,
  mergeDefinition,
  readDefinition,
  sameDefinition,
  storedDefinition,
  type AssetDefinition,
  type DefinitionInput,
  type SessionPolicy,
} from './asset-definition.js';

/** A catalog entry: a web portal people and agents reach through the gateway. */
export interface AssetRecord {
  id: string;
  name: string;
  url: string;
  /** Hosts the remote browser may navigate to: `portal.example.com` or `*.example.com`. */
  allowedHosts: string[];
  /** Web sessions need a sign-in with a second factor to use it. */
  mfaRequired: boolean;
  /** Where a browser session starts (the asset's URL unless set). */
  startUrl: string;
  /** Vault entry id of the credential a session logs in with; null: no login. */
  credential: string | null;
  loginRecipe: AssetDefinition['loginRecipe'];
  successCheck: AssetDefinition['successCheck'];
  failureCheck: AssetDefinition['failureCheck'];
  allowInsecureHttp: boolean;
  policy: SessionPolicy;
  createdAt: string;
  updatedAt: string;
}

export interface AssetInput extends DefinitionInput {
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
const urlSchema = httpUrlSchema;
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
  ...definitionInputFields,
});
export const assetPatchSchema = z.strictObject({
  name: nameSchema.optional(),
  url: urlSchema.optional(),
  allowedHosts: hostsSchema.optional(),
  mfaRequired: z.boolean().optional(),
  ...definitionInputFields,
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

  async function mustLoadRow(id: string): Promise<Selectable<AssetRow>> {
    const row = ASSET_ID.test(id) ? await db.selectFrom('assets').selectAll().where('id', '=', id).executeTakeFirst() : undefined;
    if (!row) throw new AppError('not_found', { publicMessage: 'No such asset.' });
    return row;
  }

  return {
    async create(input, by, context = {}) {
      const parsed = parseInput(assetInputSchema, input);
      const { url, allowedHosts } = normalizeAsset(parsed);
      const definition = mergeDefinition(DEFAULT_DEFINITION, parsed);
      checkDefinitionHosts(definition, allowedHosts);
      if (await load(parsed.id)) throw new AppError('conflict', { publicMessage: 'An asset with this id exists.' });
      const now = clock.now();
      const after = assetRecord({ id: parsed.id, name: parsed.name, url, allowedHosts, mfaRequired: parsed.mfaRequired ?? false }, definition, now, now);
      await trail.record({ actor: actorOf(by), action: 'asset.created', outcome: 'success', target: { kind: 'asset', id: after.id }, details: { after: assetAuditView(after, definition) }, ...context });
      try {
        await db
          .insertInto('assets')
          .values({
            id: after.id,
            name: after.name,
            url: after.url,
            allowed_hosts: jsonb(after.allowedHosts),
            definition: jsonb(storedDefinition(definition, after.mfaRequired)),
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
      const row = await mustLoadRow(id);
      const before = toAssetRecord(row);
      const current = readDefinition(row.definition);
      const merged = { url: parsed.url ?? before.url, allowedHosts: parsed.allowedHosts ?? before.allowedHosts };
      const { url, allowedHosts } = normalizeAsset(merged);
      const definition = mergeDefinition(current, parsed);
      checkDefinitionHosts(definition, allowedHosts);
      const now = clock.now();
      const after = assetRecord({ id, name: parsed.name ?? before.name, url, allowedHosts, mfaRequired: parsed.mfaRequired ?? before.mfaRequired }, definition, Number(row.created_at_ms), now);
      if (sameAsset(before, after) && sameDefinition(current, definition)) return { before, after: before };
      await trail.record({
        actor: actorOf(by),
        action: 'asset.updated',
        outcome: 'success',
        target: { kind: 'asset', id },
        details: { before: assetAuditView(before, current), after: assetAuditView(after, definition) },
        ...context,
      });
      const result = await db
        .updateTable('assets')
        .set({
          name: after.name,
          url: after.url,
          allowed_hosts: jsonb(after.allowedHosts),
          definition: jsonb({ ...row.definition, ...storedDefinition(definition, after.mfaRequired) }),
          updated_at_ms: now,
        })
        .where('id', '=', id)
        .where('updated_at_ms', '=', Date.parse(before.updatedAt))
        .executeTakeFirst();
      if (result.numUpdatedRows === 0n) throw new AppError('conflict', { publicMessage: 'The asset changed meanwhile; read it again and retry.' });
      return { before, after };
    },

    async delete(id, by, context = {}) {
      const row = await mustLoadRow(id);
      const before = assetAuditView(toAssetRecord(row), readDefinition(row.definition));
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
  const base = { id: row.id, name: row.name, url: row.url, allowedHosts: [...row.allowed_hosts], mfaRequired: (row.definition as { mfaRequired?: unknown }).mfaRequired === true };
  return assetRecord(base, readDefinition(row.definition), Number(row.created_at_ms), Number(row.updated_at_ms));
}

type AssetBase = Pick<AssetRecord, 'id' | 'name' | 'url' | 'allowedHosts' | 'mfaRequired'>;

function assetRecord(base: AssetBase, definition: AssetDefinition, createdAt: number, updatedAt: number): AssetRecord {
  const { startUrl, ...rest } = definition;
  return { ...base, startUrl: startUrl ?? base.url, ...rest, createdAt: iso(createdAt), updatedAt: iso(updatedAt) };
}

/** An asset as audit records show it: the stored definition (an unset start URL stays null), the credential as `vaultEntry`. */
export function assetAuditView(asset: AssetRecord, definition: AssetDefinition): Record<string, unknown> {
  const { id, name, url, allowedHosts, mfaRequired, createdAt, updatedAt } = asset;
  return { id, name, url, allowedHosts, mfaRequired, ...definitionAuditView(definition), createdAt, updatedAt };
}

/** Compares the catalog fields (the definition is compared with sameDefinition). */
export function sameAsset(a: AssetBase, b: AssetBase): boolean {
  return a.name === b.name && a.url === b.url && a.allowedHosts.join() === b.allowedHosts.join() && a.mfaRequired === b.mfaRequired;
}

function iso(ms: number): string {
  return new Date(Number(ms)).toISOString();
}

/** jsonb parameters go in as JSON text: pg would send a JS array as a Postgres array. */
export function jsonb<T>(value: T): T {
  return JSON.stringify(value) as unknown as T;
}
