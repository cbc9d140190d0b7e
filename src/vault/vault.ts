import type { Kysely, Selectable, Transaction } from 'kysely';
import type { Actor, AuditTrail } from '../audit/index.js';
import { AppError, type Clock } from '../core/index.js';
import type { Tables, VaultVersionRow } from '../store/index.js';
import { dataKeyAad, fieldsAad, kekIdOf, newDataKey, nextKekAad, open, seal, SealError, checkValueOf } from './envelope.js';
import { assertEntryId, checkFields, decodeFields, encodeFields } from './fields.js';
import type { InfisicalReference, InfisicalSource } from './infisical.js';
import { openKeyring } from './keyring.js';
import { secretFields } from './secret-fields.js';
import type {
  EntryMetadata,
  ReadInput,
  RotationProgress,
  RotationResult,
  SecretFields,
  SecretSource,
  SetInput,
  StaleAlertSink,
  VaultContext,
  VaultReader,
  VersionMetadata,
} from './types.js';

export interface Vault extends VaultReader {
  /** Fingerprint of the key new versions are sealed with. */
  readonly keyId: string;
  /** A new version (the previous one is kept, superseded). Returns metadata only. */
  set(input: SetInput, by: Actor, context?: VaultContext): Promise<EntryMetadata>;
  /** Changes only the maximum age (null: the default); no new version. */
  setMaxAge(entryId: string, maxAgeDays: number | null, by: Actor, context?: VaultContext): Promise<EntryMetadata>;
  get(entryId: string): Promise<EntryMetadata | null>;
  list(): Promise<EntryMetadata[]>;
  history(entryId: string): Promise<VersionMetadata[]>;
  /** Deletes the entry and every version (the ciphertexts are gone; the audit trail keeps who and when). */
  delete(entryId: string, by: Actor, context?: VaultContext): Promise<void>;
  /** Entries past their maximum age. */
  stale(): Promise<EntryMetadata[]>;
  /** Raises one alert per stale entry version (once across nodes); returns how many were raised now. */
  alertStale(): Promise<number>;
  /** Re-wraps every data key under `newKey`; resumable; see docs/vault.md. */
  rotateKey(newKey: Buffer, by: Actor, options?: RotateOptions): Promise<RotationResult>;
  /** Re-reads the key rows, so an idle node learns the target of a rotation before it finishes (servers call it on a timer). */
  refreshKeys(): Promise<void>;
  /** Points an entry at an external secret manager; reads of the entry then go there (no value is stored here). */
  setReference(entryId: string, reference: { provider: 'infisical' } & InfisicalReference, by: Actor, context?: VaultContext): Promise<ReferenceMetadata>;
  getReference(entryId: string): Promise<ReferenceMetadata | null>;
  deleteReference(entryId: string, by: Actor, context?: VaultContext): Promise<void>;
  /** Wipes the keys held in memory. */
  close(): void;
}

export interface ReferenceMetadata {
  id: string;
  provider: string;
  projectId: string;
  environment: string;
  secretPath: string;
  keys: Record<string, string>;
  setBy: { kind: string; id: string; name: string | null };
  setAt: string;
}

export interface RotateOptions {
  onProgress?: (p: RotationProgress) => void;
  batchSize?: number;
  /**
   * How long to wait after recording the new key before moving rows, counted from when it was
   * first recorded: other running nodes learn it within their refresh interval. 0 when no other
   * node runs (embedded database).
   */
  settleMs?: number;
  /** Called once when the wait starts (for a progress line). */
  onSettle?: (ms: number) => void;
}

export interface VaultDeps {
  db: Kysely<Tables>;
  trail: AuditTrail;
  clock: Clock;
  /** The key-encryption key (32 bytes); copied, so the caller may wipe its own. */
  masterKey: Buffer;
  /** Who system events (first start, default reader) are recorded under. */
  systemActor: Actor;
  alerts?: StaleAlertSink | undefined;
  /** Infisical, when configured (INFISICAL_URL); entries with a reference fail closed without it. */
  infisical?: InfisicalSource | undefined;
  defaultMaxAgeDays?: number;
  warn?: (detail: Record<string, unknown>, message: string) => void;
}

const DAY_MS = 86_400_000;
export const DEFAULT_MAX_AGE_DAYS = 90;
export const MAX_AGE_DAYS_LIMIT = 3650;
const SESSION_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const PURPOSE = /^[a-z][a-z0-9_.-]{0,63}$/;

type Db = Kysely<Tables> | Transaction<Tables>;

/** Opens the vault: checks the configured key against the database first (a wrong key stops the start). */
export async function openVault(deps: VaultDeps): Promise<Vault> {
  const { db, trail, clock, systemActor } = deps;
  if (typeof trail?.record !== 'function' || !db) throw new TypeError('openVault: db and trail are required');
  const defaultMaxAge = deps.defaultMaxAgeDays ?? DEFAULT_MAX_AGE_DAYS;
  const { keyring, initialized, rotationPending } = await openKeyring(db, deps.masterKey, clock.now());
  if (initialized) {
    await trail.record({ actor: systemActor, action: 'vault.key.initialized', outcome: 'success', target: { kind: 'vault_key', id: keyring.currentKeyId }, details: { keyId: keyring.currentKeyId } });
  }
  if (rotationPending) {
    deps.warn?.({ keyId: keyring.currentKeyId, nextKeyId: keyring.nextKeyId }, 'a vault key rotation is unfinished: run webasset vault rotate-key again with the new key file');
  }

  const builtin: SecretSource = {
    kind: 'builtin',
    async load(entryId) {
      const row = await db
        .selectFrom('vault_versions')
        .innerJoin('vault_entries', (join) => join.onRef('vault_entries.id', '=', 'vault_versions.entry_id').onRef('vault_entries.current_version', '=', 'vault_versions.version'))
        .selectAll('vault_versions')
        .where('vault_entries.id', '=', entryId)
        .executeTakeFirst();
      if (!row) throw new AppError('not_found', { publicMessage: 'No such vault entry.' });
      return { version: row.version, ...(await decrypt(db, row)) };
    },
  };

  async function decrypt(handle: Db, row: Selectable<VaultVersionRow>): Promise<{ plain: Buffer; fields: Map<string, Buffer> }> {
    let kek = keyring.key(row.kek_id);
    if (!kek) {
      await keyring.sync(handle);
      kek = keyring.key(row.kek_id);
    }
    if (!kek) throw unreadable(row, `sealed with key ${row.kek_id}, which this node does not hold`);
    let dataKey: Buffer | undefined;
    let plain: Buffer | undefined;
    try {
      dataKey = open(kek, Buffer.from(row.wrapped_key, 'base64'), dataKeyAad(row.entry_id, row.version));
      plain = open(dataKey, Buffer.from(row.ciphertext, 'base64'), fieldsAad(row.entry_id, row.version));
      return { plain, fields: decodeFields(plain) };
    } catch (error) {
      plain?.fill(0);
      if (error instanceof SealError) throw unreadable(row, `${dataKey ? 'fields' : 'data key'} ${error.reason.replace('_', ' ')}`);
      throw unreadable(row, 'fields malformed after decryption');
    } finally {
      dataKey?.fill(0);
    }
  }

  function metadata(entry: { id: string; max_age_days: number | null }, row: Selectable<VaultVersionRow>): EntryMetadata {
    const maxAgeDays = entry.max_age_days ?? defaultMaxAge;
    const ageMs = Math.max(0, clock.now() - Number(row.set_at_ms));
    return {
      id: entry.id,
      version: row.version,
      fields: [...row.fields].sort(),
      setBy: { kind: row.set_by_kind, id: row.set_by_id, name: row.set_by_name },
      setAt: iso(row.set_at_ms),
      ageDays: Math.floor(ageMs / DAY_MS),
      maxAgeDays,
      stale: ageMs > maxAgeDays * DAY_MS,
    };
  }

  async function listEntries(entryId?: string): Promise<EntryMetadata[]> {
    let query = db
      .selectFrom('vault_entries')
      .innerJoin('vault_versions', (join) => join.onRef('vault_entries.id', '=', 'vault_versions.entry_id').onRef('vault_entries.current_version', '=', 'vault_versions.version'))
      .select(['vault_entries.id', 'vault_entries.max_age_days'])
      .selectAll('vault_versions')
      .orderBy('vault_entries.id');
    if (entryId !== undefined) query = query.where('vault_entries.id', '=', entryId);
    const rows = await query.execute();
    return rows.map((row) => metadata(row, row));
  }

  async function recordRead(given: ReadInput | undefined, outcome: 'success' | 'failure' | 'denied', details: Record<string, unknown>): Promise<void> {
    const input: Partial<ReadInput> = given ?? {};
    await trail.record({
      actor: input.actor ?? systemActor,
      action: 'vault.secret.read',
      outcome,
      target: { kind: 'vault_entry', id: typeof input.entryId === 'string' ? input.entryId.slice(0, 64) : '?' },
      details: { session: typeof input.sessionId === 'string' ? input.sessionId.slice(0, 128) : null, purpose: typeof input.purpose === 'string' ? input.purpose.slice(0, 64) : null, ...details },
      ...input.context,
    });
  }

  const vault: Vault = {
    get keyId() {
      return keyring.writeKeyId;
    },

    async read(input): Promise<SecretFields> {
      if (typeof input?.entryId !== 'string' || !SESSION_ID.test(input.sessionId ?? '') || !PURPOSE.test(input.purpose ?? '')) {
        await recordRead(input, 'denied', { reason: 'a read needs an entry id, a session id and a purpose' });
        throw new AppError('forbidden', { publicMessage: 'A vault read needs an entry id, a session id and a purpose.' });
      }
      let loaded: Awaited<ReturnType<SecretSource['load']>>;
      let source = builtin.kind;
      try {
        assertEntryId(input.entryId);
        const reference = await db.selectFrom('vault_references').selectAll().where('entry_id', '=', input.entryId).executeTakeFirst();
        if (reference) {
          source = reference.provider;
          if (!deps.infisical) {
            throw new AppError('secret_source_unavailable', { publicMessage: 'This vault entry is kept in Infisical, which is not configured on this node (INFISICAL_URL).', detail: 'infisical not configured' });
          }
          loaded = await deps.infisical.load(reference.reference as unknown as InfisicalReference);
        } else {
          loaded = await builtin.load(input.entryId);
        }
      } catch (error) {
        const reason = error instanceof AppError ? (['vault_entry_unreadable', 'secret_source_unavailable'].includes(error.code) ? (error.detail ?? error.code) : error.code) : 'internal';
        await recordRead(input, 'failure', { source, reason });
        throw error;
      }
      try {
        // Recorded before the values leave the vault: no audit, no credential.
        await recordRead(input, 'success', { source, version: loaded.version, fields: [...loaded.fields.keys()].sort() });
      } catch (error) {
        loaded.plain.fill(0);
        throw error;
      }
      return secretFields(input.entryId, loaded.version, loaded.plain, loaded.fields);
    },

    async set(input, by, context = {}) {
      const values = input.values;
      try {
        assertEntryId(input.entryId);
        checkFields(values);
        const maxAgeDays = input.maxAgeDays;
        if (maxAgeDays !== undefined) checkMaxAge(maxAgeDays);
        const written = await writeVersion(input.entryId, values, input.merge === true, maxAgeDays, by);
        try {
          await trail.record({
            actor: by,
            action: 'vault.secret.set',
            outcome: 'success',
            target: { kind: 'vault_entry', id: input.entryId },
            details: { version: written.version, fields: written.fields, merged: input.merge === true, keyId: written.kekId, ...(maxAgeDays !== undefined ? { maxAgeDays } : {}) },
            ...context,
          });
        } catch (error) {
          // Fail closed: a change that could not be audited is taken back.
          await undoVersion(input.entryId, written.version, written.previousMaxAge);
          throw error;
        }
        return metadata({ id: input.entryId, max_age_days: written.maxAgeDays }, written.row);
      } finally {
        for (const value of values.values()) value.fill(0);
      }
    },

    async setMaxAge(entryId, maxAgeDays, by, context = {}) {
      assertEntryId(entryId);
      checkMaxAge(maxAgeDays);
      const before = (await listEntries(entryId))[0];
      if (!before) throw new AppError('not_found', { publicMessage: 'No such vault entry.' });
      await trail.record({
        actor: by,
        action: 'vault.max_age.changed',
        outcome: 'success',
        target: { kind: 'vault_entry', id: entryId },
        details: { before: before.maxAgeDays, after: maxAgeDays ?? defaultMaxAge, default: maxAgeDays === null },
        ...context,
      });
      await db.updateTable('vault_entries').set({ max_age_days: maxAgeDays }).where('id', '=', entryId).execute();
      return (await listEntries(entryId))[0]!;
    },

    async get(entryId) {
      assertEntryId(entryId);
      return (await listEntries(entryId))[0] ?? null;
    },

    list: () => listEntries(),

    async history(entryId) {
      assertEntryId(entryId);
      const entry = await db.selectFrom('vault_entries').select(['current_version']).where('id', '=', entryId).executeTakeFirst();
      if (!entry) throw new AppError('not_found', { publicMessage: 'No such vault entry.' });
      const rows = await db
        .selectFrom('vault_versions')
        .select(['version', 'fields', 'set_by_kind', 'set_by_id', 'set_by_name', 'set_at_ms', 'superseded_at_ms'])
        .where('entry_id', '=', entryId)
        .orderBy('version', 'desc')
        .execute();
      return rows.map((r) => ({
        version: r.version,
        fields: [...r.fields].sort(),
        setBy: { kind: r.set_by_kind, id: r.set_by_id, name: r.set_by_name },
        setAt: iso(r.set_at_ms),
        supersededAt: r.superseded_at_ms === null ? null : iso(r.superseded_at_ms),
        current: r.version === entry.current_version,
      }));
    },

    async delete(entryId, by, context = {}) {
      assertEntryId(entryId);
      const before = (await listEntries(entryId))[0];
      if (!before) throw new AppError('not_found', { publicMessage: 'No such vault entry.' });
      const versions = await db.selectFrom('vault_versions').select((eb) => eb.fn.countAll<number>().as('n')).where('entry_id', '=', entryId).executeTakeFirst();
      await trail.record({
        actor: by,
        action: 'vault.secret.deleted',
        outcome: 'success',
        target: { kind: 'vault_entry', id: entryId },
        details: { version: before.version, versions: Number(versions?.n ?? 0), fields: before.fields },
        ...context,
      });
      await db.deleteFrom('vault_entries').where('id', '=', entryId).execute();
    },

    async stale() {
      return (await listEntries()).filter((e) => e.stale);
    },

    async alertStale() {
      let raised = 0;
      for (const entry of await vault.stale()) {
        const claimed = await db
          .updateTable('vault_entries')
          .set({ stale_alerted_version: entry.version })
          .where('id', '=', entry.id)
          .where('current_version', '=', entry.version)
          .where((eb) => eb.or([eb('stale_alerted_version', 'is', null), eb('stale_alerted_version', '<>', entry.version)]))
          .executeTakeFirst();
        if (Number(claimed.numUpdatedRows) === 0) continue;
        try {
          await deps.alerts?.raise({
            kind: 'vault_entry_stale',
            severity: 'medium',
            summary: `Vault entry ${entry.id} is older than its maximum age (${entry.maxAgeDays} days); set a new credential`,
            subject: { kind: 'vault_entry', id: entry.id },
            details: { version: entry.version, ageDays: entry.ageDays, maxAgeDays: entry.maxAgeDays, setAt: entry.setAt },
          });
          raised++;
        } catch (error) {
          // Not recorded: let the next sweep try again.
          await db.updateTable('vault_entries').set({ stale_alerted_version: null }).where('id', '=', entry.id).where('stale_alerted_version', '=', entry.version).execute();
          throw error;
        }
      }
      return raised;
    },

    rotateKey: (newKey, by, options) => rotate(newKey, by, options ?? {}),

    async setReference(entryId, reference, by, context = {}) {
      assertEntryId(entryId);
      const ref = checkReference(reference);
      await trail.record({ actor: by, action: 'vault.reference.set', outcome: 'success', target: { kind: 'vault_entry', id: entryId }, details: { provider: 'infisical', ...ref }, ...context });
      const now = clock.now();
      const row = { provider: 'infisical', reference: JSON.stringify(ref) as unknown as Record<string, unknown>, set_by_kind: by.kind, set_by_id: by.id, set_by_name: by.name ?? null, set_at_ms: now };
      await db
        .insertInto('vault_references')
        .values({ entry_id: entryId, ...row })
        .onConflict((oc) => oc.column('entry_id').doUpdateSet(row))
        .execute();
      return (await vault.getReference(entryId))!;
    },

    async getReference(entryId) {
      assertEntryId(entryId);
      const row = await db.selectFrom('vault_references').selectAll().where('entry_id', '=', entryId).executeTakeFirst();
      if (!row) return null;
      const ref = row.reference as unknown as InfisicalReference;
      return {
        id: entryId,
        provider: row.provider,
        projectId: ref.projectId,
        environment: ref.environment,
        secretPath: ref.secretPath,
        keys: ref.keys,
        setBy: { kind: row.set_by_kind, id: row.set_by_id, name: row.set_by_name },
        setAt: iso(row.set_at_ms),
      };
    },

    async deleteReference(entryId, by, context = {}) {
      const before = await vault.getReference(entryId);
      if (!before) throw new AppError('not_found', { publicMessage: 'This vault entry has no external reference.' });
      await trail.record({ actor: by, action: 'vault.reference.deleted', outcome: 'success', target: { kind: 'vault_entry', id: entryId }, details: { provider: before.provider } , ...context });
      await db.deleteFrom('vault_references').where('entry_id', '=', entryId).execute();
    },

    async refreshKeys() {
      await keyring.sync(db);
    },

    close() {
      keyring.wipe();
      deps.infisical?.close();
    },
  };

  async function writeVersion(entryId: string, values: Map<string, Buffer>, merge: boolean, maxAgeDays: number | null | undefined, by: Actor) {
    const now = clock.now();
    return db.transaction().execute(async (trx) => {
      // Shared lock on the key rows: a rotation cannot start or finish while this version is sealed.
      await keyring.sync(trx, { lock: true });
      const kekId = keyring.writeKeyId;
      const kek = keyring.key(kekId);
      if (!kek) throw new AppError('vault_key_mismatch', { publicMessage: `The vault key ${kekId} is not held by this node; configure it and restart.` });
      await trx
        .insertInto('vault_entries')
        .values({ id: entryId, current_version: 0, max_age_days: maxAgeDays ?? null, stale_alerted_version: null, created_at_ms: now, updated_at_ms: now })
        .onConflict((oc) => oc.column('id').doNothing())
        .execute();
      // The row lock makes concurrent sets of one entry take turns: versions stay linear, none is lost.
      const entry = await trx.selectFrom('vault_entries').selectAll().where('id', '=', entryId).forUpdate().executeTakeFirstOrThrow();
      const version = entry.current_version + 1;
      let previous: { plain: Buffer; fields: Map<string, Buffer> } | undefined;
      let plain: Buffer | undefined;
      const dataKey = newDataKey();
      try {
        let fields = values;
        if (merge && entry.current_version > 0) {
          const row = await trx.selectFrom('vault_versions').selectAll().where('entry_id', '=', entryId).where('version', '=', entry.current_version).executeTakeFirstOrThrow();
          previous = await decrypt(trx, row);
          fields = new Map([...previous.fields, ...values]);
          checkFields(fields);
        }
        plain = encodeFields(fields);
        const ciphertext = seal(dataKey, plain, fieldsAad(entryId, version)).toString('base64');
        const wrapped = seal(kek, dataKey, dataKeyAad(entryId, version)).toString('base64');
        const names = [...fields.keys()].sort();
        await trx
          .insertInto('vault_versions')
          .values({
            entry_id: entryId,
            version,
            fields: JSON.stringify(names) as unknown as string[],
            kek_id: kekId,
            wrapped_key: wrapped,
            ciphertext,
            set_by_kind: by.kind,
            set_by_id: by.id,
            set_by_name: by.name ?? null,
            set_at_ms: now,
            superseded_at_ms: null,
          })
          .execute();
        if (entry.current_version > 0) {
          await trx.updateTable('vault_versions').set({ superseded_at_ms: now }).where('entry_id', '=', entryId).where('version', '=', entry.current_version).execute();
        }
        await trx
          .updateTable('vault_entries')
          .set({ current_version: version, updated_at_ms: now, ...(maxAgeDays !== undefined ? { max_age_days: maxAgeDays } : {}) })
          .where('id', '=', entryId)
          .execute();
        const row = { entry_id: entryId, version, fields: names, set_by_kind: by.kind, set_by_id: by.id, set_by_name: by.name ?? null, set_at_ms: now } as Selectable<VaultVersionRow>;
        const finalMaxAge = maxAgeDays !== undefined ? maxAgeDays : entry.max_age_days;
        return { version, fields: names, kekId, row, maxAgeDays: finalMaxAge, previousMaxAge: entry.current_version > 0 ? entry.max_age_days : undefined };
      } finally {
        dataKey.fill(0);
        plain?.fill(0);
        previous?.plain.fill(0);
      }
    });
  }

  async function undoVersion(entryId: string, version: number, previousMaxAge: number | null | undefined): Promise<void> {
    await db.transaction().execute(async (trx) => {
      const entry = await trx.selectFrom('vault_entries').selectAll().where('id', '=', entryId).forUpdate().executeTakeFirst();
      if (!entry || entry.current_version !== version) return;
      if (version === 1) {
        await trx.deleteFrom('vault_entries').where('id', '=', entryId).execute();
        return;
      }
      await trx.deleteFrom('vault_versions').where('entry_id', '=', entryId).where('version', '=', version).execute();
      await trx.updateTable('vault_versions').set({ superseded_at_ms: null }).where('entry_id', '=', entryId).where('version', '=', version - 1).execute();
      await trx
        .updateTable('vault_entries')
        .set({ current_version: version - 1, ...(previousMaxAge !== undefined ? { max_age_days: previousMaxAge } : {}) })
        .where('id', '=', entryId)
        .execute();
    });
  }

  async function rotate(newKey: Buffer, by: Actor, options: RotateOptions): Promise<RotationResult> {
    const batchSize = options.batchSize ?? 100;
    const newId = kekIdOf(newKey);
    const started = await db.transaction().execute(async (trx) => {
      const live = await trx.selectFrom('vault_keys').selectAll().where('state', 'in', ['current', 'next']).forUpdate().execute();
      const current = live.find((r) => r.state === 'current')!;
      const next = live.find((r) => r.state === 'next');
      if (current.kek_id === newId) return { previousKeyId: current.kek_id, nothingToDo: !next, since: 0 };
      if (next && next.kek_id !== newId) {
        throw new AppError('conflict', { publicMessage: `A rotation to key ${next.kek_id} is unfinished; run rotate-key again with that key file first.` });
      }
      const currentKey = keyring.key(current.kek_id);
      if (!currentKey) throw new AppError('vault_key_mismatch', { publicMessage: `This node does not hold the current vault key ${current.kek_id}.` });
      const since = next?.created_at_ms ?? clock.now();
      if (!next) {
        await trx
          .insertInto('vault_keys')
          .values({ kek_id: newId, state: 'next', check_value: checkValueOf(newKey), wrapped_key: seal(currentKey, newKey, nextKekAad(newId)).toString('base64'), created_at_ms: since, retired_at_ms: null })
          .execute();
      }
      return { previousKeyId: current.kek_id, nothingToDo: false, resumed: Boolean(next), since: Number(since) };
    });
    if (started.nothingToDo) return { previousKeyId: started.previousKeyId, keyId: newId, rewrapped: 0, rotated: false };
    keyring.add(newKey);
    await keyring.sync(db);
    const target = keyring.key(newId)!;
    await trail.record({
      actor: by,
      action: 'vault.key.rotation_started',
      outcome: 'success',
      target: { kind: 'vault_key', id: newId },
      details: { previousKeyId: started.previousKeyId, keyId: newId, resumed: 'resumed' in started ? started.resumed === true : false },
    });
    let rewrapped = 0;
    for (;;) {
      rewrapped += await rewrapPass(newId, target, batchSize, (done) => options.onProgress?.(done), rewrapped);
      // The sealed copy of the new key goes at the finish: first give idle nodes time to learn it.
      const wait = Math.max(0, started.since + (options.settleMs ?? 0) - clock.now());
      if (wait > 0) {
        options.onSettle?.(wait);
        await new Promise((resolve) => setTimeout(resolve, wait));
      }
      const finished = await db.transaction().execute(async (trx) => {
        const live = await trx.selectFrom('vault_keys').selectAll().where('state', 'in', ['current', 'next']).forUpdate().execute();
        const current = live.find((r) => r.state === 'current')!;
        if (current.kek_id === newId) return true;
        const left = await trx.selectFrom('vault_versions').select((eb) => eb.fn.countAll<number>().as('n')).where('kek_id', '<>', newId).executeTakeFirstOrThrow();
        if (Number(left.n) > 0) return false;
        await trx.updateTable('vault_keys').set({ state: 'retired', retired_at_ms: clock.now(), wrapped_key: null }).where('kek_id', '=', current.kek_id).execute();
        // The copy of the new key sealed under the old one goes: from now on the old key opens nothing.
        await trx.updateTable('vault_keys').set({ state: 'current', wrapped_key: null }).where('kek_id', '=', newId).execute();
        return true;
      });
      if (finished) break;
    }
    await keyring.sync(db);
    keyring.prune();
    await trail.record({
      actor: by,
      action: 'vault.key.rotated',
      outcome: 'success',
      target: { kind: 'vault_key', id: newId },
      details: { previousKeyId: started.previousKeyId, keyId: newId, rewrapped },
    });
    return { previousKeyId: started.previousKeyId, keyId: newId, rewrapped, rotated: true };
  }

  /** One pass over every row not yet under the new key; each row is its own commit, so a kill loses nothing. */
  async function rewrapPass(newId: string, target: Buffer, batchSize: number, progress: (p: RotationProgress) => void, before: number): Promise<number> {
    let done = 0;
    let after: { entry: string; version: number } | null = null;
    const failed: string[] = [];
    for (;;) {
      let query = db.selectFrom('vault_versions').select(['entry_id', 'version', 'kek_id', 'wrapped_key']).where('kek_id', '<>', newId);
      if (after) {
        const { entry, version } = after;
        query = query.where((eb) => eb.or([eb('entry_id', '>', entry), eb.and([eb('entry_id', '=', entry), eb('version', '>', version)])]));
      }
      const rows = await query.orderBy('entry_id').orderBy('version').limit(batchSize).execute();
      if (rows.length === 0) break;
      for (const row of rows) {
        after = { entry: row.entry_id, version: row.version };
        let kek = keyring.key(row.kek_id);
        if (!kek) {
          await keyring.sync(db);
          kek = keyring.key(row.kek_id);
        }
        let dataKey: Buffer | undefined;
        try {
          if (!kek) throw new SealError('authentication_failed');
          dataKey = open(kek, Buffer.from(row.wrapped_key, 'base64'), dataKeyAad(row.entry_id, row.version));
          const wrapped = seal(target, dataKey, dataKeyAad(row.entry_id, row.version)).toString('base64');
          const result = await db
            .updateTable('vault_versions')
            .set({ kek_id: newId, wrapped_key: wrapped })
            .where('entry_id', '=', row.entry_id)
            .where('version', '=', row.version)
            .where('kek_id', '=', row.kek_id)
            .executeTakeFirst();
          if (Number(result.numUpdatedRows) > 0) done++;
        } catch (error) {
          if (!(error instanceof SealError)) throw error;
          failed.push(`${row.entry_id} v${row.version}`);
        } finally {
          dataKey?.fill(0);
        }
      }
      const left = await db.selectFrom('vault_versions').select((eb) => eb.fn.countAll<number>().as('n')).where('kek_id', '<>', newId).executeTakeFirstOrThrow();
      progress({ rewrapped: before + done, remaining: Number(left.n) });
    }
    if (failed.length > 0) {
      throw new AppError('vault_entry_unreadable', {
        publicMessage: `These vault versions could not be re-wrapped (altered, or sealed with a key this node does not hold): ${failed.slice(0, 20).join(', ')}${failed.length > 20 ? ', ...' : ''}. Set or delete those entries, then run rotate-key again.`,
        detail: 'rotation stopped on unreadable rows',
      });
    }
    return done;
  }

  return vault;
}

function unreadable(row: { entry_id: string; version: number }, reason: string): AppError {
  return new AppError('vault_entry_unreadable', {
    publicMessage: `Vault entry ${row.entry_id} (version ${row.version}) could not be decrypted: it was altered, moved from another entry, truncated, or sealed with another key. Nothing was returned; set the credential again.`,
    detail: reason,
  });
}

const REFERENCE_TEXT = /^[A-Za-z0-9._:/-]{1,256}$/;
const SECRET_NAME = /^[A-Za-z0-9_.-]{1,256}$/;

/** The reference as stored: only known keys, checked shapes (it is shown back to administrators). */
function checkReference(input: { provider: string } & InfisicalReference): InfisicalReference {
  const problems: Array<{ field: string; problem: string }> = [];
  if (input?.provider !== 'infisical') problems.push({ field: 'provider', problem: 'must be infisical' });
  for (const name of ['projectId', 'environment', 'secretPath'] as const) {
    if (typeof input?.[name] !== 'string' || !REFERENCE_TEXT.test(input[name])) problems.push({ field: name, problem: 'expected 1 to 256 letters, digits and . _ : / -' });
  }
  if (typeof input?.secretPath === 'string' && !input.secretPath.startsWith('/')) problems.push({ field: 'secretPath', problem: 'must start with /' });
  const keys = input?.keys && typeof input.keys === 'object' ? Object.entries(input.keys) : [];
  if (keys.length === 0 || keys.length > 16) problems.push({ field: 'keys', problem: 'expected 1 to 16 field → secret name pairs' });
  for (const [field, secret] of keys) {
    if (!/^[a-zA-Z][a-zA-Z0-9_-]{0,63}$/.test(field) || typeof secret !== 'string' || !SECRET_NAME.test(secret)) problems.push({ field: `keys.${field}`, problem: 'a field name and an Infisical secret name' });
  }
  if (problems.length > 0) throw new AppError('invalid_request', { publicMessage: 'The Infisical reference is invalid.', data: problems });
  return { projectId: input.projectId, environment: input.environment, secretPath: input.secretPath, keys: Object.fromEntries(keys) };
}

function checkMaxAge(maxAgeDays: number | null): void {
  if (maxAgeDays !== null && !(Number.isInteger(maxAgeDays) && maxAgeDays >= 1 && maxAgeDays <= MAX_AGE_DAYS_LIMIT)) {
    throw new AppError('invalid_request', { publicMessage: `maxAgeDays must be a whole number from 1 to ${MAX_AGE_DAYS_LIMIT}.`, data: [{ field: 'maxAgeDays', problem: 'out of range' }] });
  }
}

function iso(ms: number): string {
  return new Date(Number(ms)).toISOString();
}
