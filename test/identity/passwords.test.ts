import { parseOptions } from '@node-rs/argon2';
import { describe, expect, it } from 'vitest';
import {
  ARGON2ID_MINIMUM,
  PASSWORD_MAX_LENGTH,
  createPasswordHasher,
  createPasswordPolicy,
  type PasswordProblemCode,
} from '../../src/identity/index.js';
import { COMMON_PASSWORDS_TEXT } from '../../src/identity/common-passwords.js';

const CANARY = 'canary-Pässwörd-7f3a9-Q!';

describe('password policy', () => {
  const policy = createPasswordPolicy();
  const codes = (password: string, context?: { username?: string; email?: string }): PasswordProblemCode[] =>
    policy.checkPassword(password, context).map((p) => p.code);

  it('accepts a long, uncommon password that has nothing of the account', () => {
    expect(codes('correct horse battery staple', { username: 'alice', email: 'alice@example.com' })).toEqual([]);
  });

  it('counts Unicode code points after NFKC, not UTF-16 units or bytes', () => {
    expect(codes('a'.repeat(11))).toEqual(['too_short']);
    expect(codes('a'.repeat(12))).toEqual([]);
    // Twelve emoji are 24 UTF-16 units: still twelve characters. Eleven are too few.
    expect(codes('🔑'.repeat(12))).toEqual([]);
    expect(codes('🔑'.repeat(11))).toEqual(['too_short']);
    // 'é' decomposed (e + U+0301) is two code points before NFKC and one after.
    expect(codes('e\u0301'.repeat(11))).toEqual(['too_short']);
    // The ligature 'ﬃ' is three letters after NFKC.
    expect(codes('ﬃ'.repeat(4))).toEqual([]);
  });

  it('refuses too long passwords and computes nothing else over them', () => {
    expect(codes('x'.repeat(PASSWORD_MAX_LENGTH))).toEqual([]);
    expect(codes('x'.repeat(PASSWORD_MAX_LENGTH + 1), { username: 'xxxx' })).toEqual(['too_long']);
    expect(codes('🔑'.repeat(PASSWORD_MAX_LENGTH))).toEqual([]);
  });

  it('refuses the most common passwords, whatever their case', () => {
    expect(codes('password')).toEqual(['too_short', 'common']);
    for (const common of ['qwerty123456', 'QWERTY123456', '1q2w3e4r5t6y', 'LeaveMeAlone', 'ｑｗｅｒｔｙ１２３４５６']) {
      expect(codes(common), common).toEqual(['common']);
    }
  });

  it('bundles about ten thousand lower-case passwords, most common first', () => {
    const list = COMMON_PASSWORDS_TEXT.split('\n');
    expect(list.length).toBeGreaterThanOrEqual(10_000);
    expect(list.slice(0, 2)).toEqual(['123456', 'password']);
    expect(list.every((p) => p !== '' && p === p.toLowerCase() && p.trim() === p)).toBe(true);
    expect(new Set(list).size).toBe(list.length);
  });

  it('refuses a password that contains the user name or the local part of the email', () => {
    expect(codes('xx-Alice.Smith-2026', { username: 'alice.smith' })).toEqual(['contains_username']);
    expect(codes('my mail is Bob.Jones!!', { email: 'bob.jones@example.com' })).toEqual(['contains_email']);
    expect(codes('bob.jones@example.com', { username: 'bob.jones', email: 'Bob.Jones@Example.com' })).toEqual(['contains_username', 'contains_email']);
    // Very short identifiers would forbid too much.
    expect(codes('alphabet soup tonight', { username: 'al', email: 'al@example.com' })).toEqual([]);
  });

  it('takes another list when given one, and throws password_rejected with the problems as data', () => {
    const own = createPasswordPolicy({ commonPasswords: ['Our Company 2026 '] });
    expect(own.checkPassword('our company 2026').map((p) => p.code)).toEqual(['common']);
    expect(own.checkPassword('qwerty123456')).toEqual([]);
    let error: any;
    try {
      policy.assertAcceptable(`${CANARY}`.slice(0, 8), { username: 'canary' });
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({ code: 'password_rejected', status: 400 });
    expect(error.data.map((p: { code: string }) => p.code)).toEqual(['too_short', 'contains_username']);
    expect(JSON.stringify(error) + String(error) + error.publicMessage + error.stack).not.toContain(CANARY.slice(0, 8));
    expect(() => policy.assertAcceptable('a perfectly fine passphrase')).not.toThrow();
  });
});

describe('password hasher (argon2id, real library)', () => {
  const hasher = createPasswordHasher();

  it('hashes with argon2id at OWASP minimum, verifies, and never shows the password', async () => {
    const stored = await hasher.hash(CANARY);
    expect(stored).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    expect(stored).not.toContain(CANARY);
    expect(stored.toLowerCase()).not.toContain('canary');
    expect(await hasher.verify(stored, CANARY)).toBe(true);
    expect(await hasher.verify(stored, `${CANARY}x`)).toBe(false);
    // The same password in another Unicode form (decomposed umlauts) is the same password.
    expect(await hasher.verify(stored, CANARY.normalize('NFD'))).toBe(true);
    expect(hasher.needsRehash(stored)).toBe(false);
    expect(createPasswordHasher({ memoryCost: 2 * ARGON2ID_MINIMUM.memoryCost }).needsRehash(stored)).toBe(true);
    expect(createPasswordHasher({ timeCost: 3 }).needsRehash(stored)).toBe(true);
  });

  it('asks for a rehash of weaker, other-algorithm and unreadable hashes', () => {
    const salt = 'c29tZXNhbHRzb21lc2FsdA';
    const digest = 'n5ayGGZpe2m0ivjqDR4V9ZoTgfuO3Go+9Y1vwEWhNxY';
    expect(parseOptions(`$argon2id$v=19$m=19456,t=2,p=1$${salt}$${digest}`).memoryCost).toBe(19456);
    expect(hasher.needsRehash(`$argon2id$v=19$m=19456,t=2,p=1$${salt}$${digest}`)).toBe(false);
    expect(hasher.needsRehash(`$argon2id$v=19$m=4096,t=3,p=1$${salt}$${digest}`)).toBe(true);
    expect(hasher.needsRehash(`$argon2id$v=19$m=19456,t=1,p=1$${salt}$${digest}`)).toBe(true);
    expect(hasher.needsRehash(`$argon2i$v=19$m=65536,t=4,p=1$${salt}$${digest}`)).toBe(true);
    expect(hasher.needsRehash('$2b$12$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234')).toBe(true);
    expect(hasher.needsRehash('')).toBe(true);
  });

  it('refuses parameters below the OWASP minimum', () => {
    for (const weak of [{ memoryCost: 4096 }, { timeCost: 1 }, { parallelism: 0 }, { memoryCost: 19456.5 }]) {
      expect(() => createPasswordHasher(weak), JSON.stringify(weak)).toThrow(expect.objectContaining({ code: 'config_invalid' }));
    }
  });

  it('keeps the password out of every error it throws', async () => {
    const long = CANARY + 'y'.repeat(PASSWORD_MAX_LENGTH);
    const errors: unknown[] = [];
    await hasher.hash(long).catch((e: unknown) => errors.push(e));
    await hasher.verify('$argon2id$v=19$m=19456,t=2,p=1$broken', CANARY).catch((e: unknown) => errors.push(e));
    await hasher.verify('plain-text-in-the-database', CANARY).catch((e: unknown) => errors.push(e));
    expect(errors.map((e: any) => e.code)).toEqual(['password_rejected', 'internal', 'internal']);
    for (const error of errors as Error[]) {
      const text = JSON.stringify(error) + String(error) + error.stack + String(error.cause) + JSON.stringify((error as any).data);
      expect(text).not.toContain(CANARY);
    }
    expect(await hasher.verify('$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$n5ayGGZpe2m0ivjqDR4V9ZoTgfuO3Go+9Y1vwEWhNxY', long)).toBe(false);
  });

  it('spends a real verification on an unknown account and answers false', async () => {
    const started = performance.now();
    expect(await hasher.verifyUnknownAccount(CANARY)).toBe(false);
    expect(await hasher.verifyUnknownAccount('unknown-account-placeholder')).toBe(false);
    // One hash (made once per hasher) and two verifications: each costs milliseconds, not microseconds.
    expect(performance.now() - started).toBeGreaterThan(5);
  });
});
