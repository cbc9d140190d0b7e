import { base32Decode, totp, type TemplatePart } from '../../core/index.js';
import type { SecretFields } from '../types.js';
import { StepFailure } from './failure.js';

/**
 * The credential as the runner uses it: values come out only when a template is resolved for a
 * fill, and the vault's buffer is wiped by `dispose()` (the runner's `finally`).
 */
export interface LoginCredential {
  has(name: string): boolean;
  /** The real value of a field, as bytes (kept as a Buffer until the moment it is typed or sent). */
  field(name: string): Buffer;
  /** The TOTP code of the `totpSeed` field at this moment. */
  totpCode(now?: number): string;
  /** Resolves a template; `password` parts become `passwordAs` when given (the injection placeholder). */
  resolve(parts: readonly TemplatePart[], passwordAs?: string): string;
  dispose(): void;
}

export function wrapCredential(fields: SecretFields): LoginCredential {
  const credential: LoginCredential = {
    has: (name) => fields.get(name) !== undefined,
    field(name) {
      const value = fields.get(name);
      // The field's name is safe to say; its value never is.
      if (value === undefined) throw new StepFailure(`the credential has no field '${name}'`);
      return value;
    },
    totpCode(now = Date.now()) {
      const seed = credential.field('totpSeed');
      let key: Buffer;
      try {
        key = base32Decode(seed.toString('ascii').replace(/\s+/g, ''));
      } catch {
        throw new StepFailure("the credential's totpSeed is not base32");
      }
      try {
        return totp(key, now);
      } finally {
        key.fill(0);
      }
    },
    resolve(parts, passwordAs) {
      return parts
        .map((part) => {
          if (part.kind === 'literal') return part.text;
          if (part.kind === 'totp') return credential.totpCode();
          if (part.name === 'password' && passwordAs !== undefined) return passwordAs;
          return credential.field(part.name).toString('utf8');
        })
        .join('');
    },
    dispose: () => fields.dispose(),
  };
  return credential;
}
