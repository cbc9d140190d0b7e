import { AppError } from '../core/index.js';

/**
 * The fields of a vault entry and their binary encoding. Values are bytes
 * end to end inside the vault: they are encoded into one Buffer that is
 * sealed, and decoded as views into the one decrypted Buffer, so a single
 * zero-fill wipes every value.
 */

/** Entry ids are referenced by assets: the same shape as an asset id. */
export const ENTRY_ID = /^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$/;
/** `username`, `password`, `totpSeed`, or an extra field a portal asks for (`branchCode`, `documentNumber`). */
export const FIELD_NAME = /^[a-zA-Z][a-zA-Z0-9_-]{0,63}$/;
export const MAX_FIELDS = 16;
export const MAX_VALUE_BYTES = 4096;
export const WELL_KNOWN_FIELDS = ['username', 'password', 'totpSeed'] as const;

export function assertEntryId(entryId: unknown): asserts entryId is string {
  if (typeof entryId !== 'string' || !ENTRY_ID.test(entryId)) {
    throw new AppError('invalid_request', { publicMessage: 'A vault entry id is 1 to 64 lower-case letters, digits and inner hyphens.' });
  }
}

/**
 * Checks names and sizes; never quotes a value. A TOTP seed must be base32
 * (lower case, spaces and padding are tolerated, as authenticator apps do).
 */
export function checkFields(values: ReadonlyMap<string, Buffer>): void {
  const problems: Array<{ field: string; problem: string }> = [];
  if (values.size === 0) problems.push({ field: 'fields', problem: 'at least one field is needed' });
  if (values.size > MAX_FIELDS) problems.push({ field: 'fields', problem: `at most ${MAX_FIELDS} fields` });
  for (const [name, value] of values) {
    if (!FIELD_NAME.test(name)) problems.push({ field: 'fields', problem: 'a field name is 1 to 64 letters, digits, _ or -, starting with a letter' });
    else if (value.length === 0) problems.push({ field: `fields.${name}`, problem: 'must not be empty' });
    else if (value.length > MAX_VALUE_BYTES) problems.push({ field: `fields.${name}`, problem: `at most ${MAX_VALUE_BYTES} bytes` });
    else if (name === 'totpSeed' && !isBase32(value)) problems.push({ field: 'fields.totpSeed', problem: 'must be base32 (A-Z, 2-7)' });
  }
  if (problems.length > 0) throw new AppError('invalid_request', { publicMessage: 'The vault fields are invalid.', data: problems });
}

/** Base32 check without turning the seed into a string. */
function isBase32(value: Buffer): boolean {
  let letters = 0;
  for (const byte of value) {
    const c = byte >= 0x61 && byte <= 0x7a ? byte - 0x20 : byte;
    if (c === 0x20) continue;
    if ((c >= 0x41 && c <= 0x5a) || (c >= 0x32 && c <= 0x37)) letters++;
    else if (c !== 0x3d) return false;
  }
  return letters > 0;
}

/** `[count u8]` then per field `[name length u8][name][value length u32 BE][value]`. The result is the caller's to zero-fill. */
export function encodeFields(values: ReadonlyMap<string, Buffer>): Buffer {
  const names = [...values.keys()].sort();
  let size = 1;
  for (const name of names) size += 1 + Buffer.byteLength(name) + 4 + values.get(name)!.length;
  const out = Buffer.alloc(size);
  let at = out.writeUInt8(names.length, 0);
  for (const name of names) {
    const value = values.get(name)!;
    at = out.writeUInt8(Buffer.byteLength(name), at);
    at += out.write(name, at, 'utf8');
    at = out.writeUInt32BE(value.length, at);
    at += value.copy(out, at);
  }
  return out;
}

/** Views into `plain` (no copies): wiping `plain` wipes them. Throws on a malformed layout. */
export function decodeFields(plain: Buffer): Map<string, Buffer> {
  const fields = new Map<string, Buffer>();
  const fail = () => new Error('vault fields are malformed');
  if (plain.length < 1) throw fail();
  const count = plain.readUInt8(0);
  let at = 1;
  for (let i = 0; i < count; i++) {
    if (at + 1 > plain.length) throw fail();
    const nameLength = plain.readUInt8(at);
    at += 1;
    if (at + nameLength + 4 > plain.length) throw fail();
    const name = plain.toString('utf8', at, at + nameLength);
    at += nameLength;
    const valueLength = plain.readUInt32BE(at);
    at += 4;
    if (at + valueLength > plain.length) throw fail();
    fields.set(name, plain.subarray(at, at + valueLength));
    at += valueLength;
  }
  if (at !== plain.length) throw fail();
  return fields;
}
