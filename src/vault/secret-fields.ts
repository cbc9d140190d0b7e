import { inspect } from 'node:util';
import type { SecretFields } from './types.js';

/** Wraps one decrypted Buffer and its field views; `dispose()` zero-fills it. Logging or serializing it shows no value. */
export function secretFields(entryId: string, version: number, plain: Buffer, fields: Map<string, Buffer>): SecretFields {
  let disposed = false;
  const names = Object.freeze([...fields.keys()].sort());
  const describe = () => ({ entryId, version, fields: names, disposed });
  return {
    entryId,
    version,
    names,
    get(name) {
      if (disposed) throw new Error('vault fields were disposed');
      return fields.get(name);
    },
    dispose() {
      if (disposed) return;
      disposed = true;
      plain.fill(0);
      fields.clear();
    },
    toJSON: describe,
    [inspect.custom]: () => `SecretFields ${JSON.stringify(describe())}`,
  } as SecretFields;
}
