import { randomBytes, randomUUID } from 'node:crypto';

/** Injected id source, so tests can make ids predictable. */
export interface IdGenerator {
  uuid(): string;
  /** URL-safe random token of `bytes` bytes of entropy. */
  token(bytes: number): string;
}

export const randomIds: IdGenerator = {
  uuid: () => randomUUID(),
  token: (bytes) => randomBytes(bytes).toString('base64url'),
};
