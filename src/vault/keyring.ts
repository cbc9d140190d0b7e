import type { Kysely, Transaction } from 'kysely';
import { AppError } from '../core/index.js';
import type { Tables } from '../store/index.js';
import { checkValueMatches, checkValueOf, kekIdOf, KEY_BYTES, nextKekAad, open } from './envelope.js';

type Db = Kysely<Tables> | Transaction<Tables>;

/**
 * The key-encryption keys this process holds, by fingerprint, and the
 * database's view of them: which is current, and which is the target of a
 * rotation in progress (readable by every node through its copy sealed under
 * the current key, until the rotation finishes and that copy is deleted).
 */
export interface Keyring {
  /** Fingerprint of the key new versions are sealed with. */
  readonly writeKeyId: string;
  readonly currentKeyId: string;
  readonly nextKeyId: string | null;
  /** The key with this fingerprint, or null when this process does not hold it. */
  key(kekId: string): Buffer | null;
  /** Re-reads which keys are current and next (under a share lock when in a transaction that writes). */
  sync(db: Db, options?: { lock?: boolean }): Promise<void>;
  /** Adds a key this process was given (the target of `rotate-key`). */
  add(key: Buffer): string;
  /** After a finished rotation: forget (and wipe) every key but the current one. */
  prune(): void;
  wipe(): void;
}

/**
 * Checks the configured key against the database at start: the first start
 * records its check value; later starts are refused, with the reason, when
 * the key is not the database's current key. Never reads a vault entry.
 */
export async function openKeyring(db: Kysely<Tables>, configured: Buffer, now: number): Promise<{ keyring: Keyring; initialized: boolean; rotationPending: boolean }> {
  if (configured.length !== KEY_BYTES) throw new AppError('config_invalid', { publicMessage: 'WEBASSET_MASTER_KEY must be 32 bytes of base64.' });
  const master = Buffer.from(configured);
  const id = kekIdOf(master);
  let initialized = false;
  let rows = await db.selectFrom('vault_keys').selectAll().execute();
  if (!rows.some((r) => r.state === 'current')) {
    const sealedRows = await db.selectFrom('vault_versions').select('entry_id').limit(1).execute();
    if (sealedRows.length > 0) {
      throw new AppError('vault_key_mismatch', { publicMessage: 'The vault has entries but no record of its key: the vault_keys table was emptied or not restored. Restore it from the backup of the same database.' });
    }
    const inserted = await db
      .insertInto('vault_keys')
      .values({ kek_id: id, state: 'current', check_value: checkValueOf(master), wrapped_key: null, created_at_ms: now, retired_at_ms: null })
      .onConflict((oc) => oc.doNothing())
      .executeTakeFirst();
    initialized = Number(inserted.numInsertedOrUpdatedRows ?? 0n) > 0;
    rows = await db.selectFrom('vault_keys').selectAll().execute();
  }
  const current = rows.find((r) => r.state === 'current')!;
  if (current.kek_id !== id || !checkValueMatches(master, current.check_value)) {
    throw mismatch(id, current.kek_id, rows);
  }
  const keys = new Map<string, Buffer>([[id, master]]);
  let currentId = id;
  let nextId: string | null = null;

  const keyring: Keyring = {
    get writeKeyId() {
      return nextId ?? currentId;
    },
    get currentKeyId() {
      return currentId;
    },
    get nextKeyId() {
      return nextId;
    },
    key: (kekId) => keys.get(kekId) ?? null,
    async sync(handle, options = {}) {
      let query = handle.selectFrom('vault_keys').selectAll().where('state', 'in', ['current', 'next']);
      if (options.lock) query = query.forShare();
      const live = await query.execute();
      const cur = live.find((r) => r.state === 'current');
      const next = live.find((r) => r.state === 'next') ?? null;
      if (cur && keys.has(cur.kek_id)) currentId = cur.kek_id;
      nextId = next?.kek_id ?? null;
      if (next && !keys.has(next.kek_id) && next.wrapped_key) {
        const sealer = keys.get(currentId);
        if (sealer) {
          try {
            const unwrapped = open(sealer, Buffer.from(next.wrapped_key, 'base64'), nextKekAad(next.kek_id));
            if (kekIdOf(unwrapped) === next.kek_id) keys.set(next.kek_id, unwrapped);
            else unwrapped.fill(0);
          } catch {
            // Not opened: rows moved to that key stay unreadable here (vault_entry_unreadable names the key).
          }
        }
      }
      if (cur && !keys.has(cur.kek_id)) {
        // Another node finished a rotation to a key this process never saw: new writes would be refused by nobody, so stop here.
        throw new AppError('vault_key_mismatch', {
          publicMessage: `The vault key was rotated to key ${cur.kek_id}, which this node does not hold; configure WEBASSET_MASTER_KEY(_FILE) with the new key and restart.`,
        });
      }
    },
    add(key) {
      const copy = Buffer.from(key);
      const kekId = kekIdOf(copy);
      if (!keys.has(kekId)) keys.set(kekId, copy);
      else copy.fill(0);
      return kekId;
    },
    prune() {
      for (const [kekId, key] of keys) {
        if (kekId !== currentId && kekId !== nextId) {
          key.fill(0);
          keys.delete(kekId);
        }
      }
    },
    wipe() {
      for (const key of keys.values()) key.fill(0);
      keys.clear();
    },
  };
  await keyring.sync(db);
  return { keyring, initialized, rotationPending: keyring.nextKeyId !== null };
}

function mismatch(configuredId: string, currentId: string, rows: ReadonlyArray<{ kek_id: string; state: string; retired_at_ms: number | null }>): AppError {
  const known = rows.find((r) => r.kek_id === configuredId);
  let why: string;
  if (known?.state === 'next') {
    why = `it is the target of an unfinished rotation. Start with the previous key (${currentId}) and run webasset vault rotate-key again with this key file to finish it.`;
  } else if (known?.state === 'retired') {
    why = `it was retired by a key rotation on ${new Date(Number(known.retired_at_ms)).toISOString()}. Configure the current key (${currentId}).`;
  } else {
    why = `this database's vault is sealed with key ${currentId}. Configure that key (WEBASSET_MASTER_KEY(_FILE) or data/keys/master.key).`;
  }
  return new AppError('vault_key_mismatch', { publicMessage: `The configured vault master key (${configuredId}) is not the vault's key: ${why}` });
}
