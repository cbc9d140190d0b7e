import { describe, expect, it } from 'vitest';
import { canonicalJson, createRedactor, isSecretFieldName, REDACTED } from '../../src/core/index.js';

describe('redactor', () => {
  it('replaces registered values inside text, longest first', () => {
    const r = createRedactor(['hunter2-long', 'hunter2']);
    expect(r.redactText('a hunter2-long b hunter2 c')).toBe(`a ${REDACTED} b ${REDACTED} c`);
    expect(r.containsSecret('x hunter2 y')).toBe(true);
    expect(r.containsSecret('nothing here')).toBe(false);
  });

  it('ignores values too short to be told from ordinary words, and escapes regex characters', () => {
    const r = createRedactor(['abc', 'a+b(c)*']);
    expect(r.redactText('abc a+b(c)* aab')).toBe(`abc ${REDACTED} aab`);
  });

  it('blanks fields named like secrets at any depth, and keeps the rest', () => {
    const r = createRedactor(['s3cret-value']);
    const out = r.redactValue({
      user: 'alice',
      password: 'x',
      nested: [{ totpSeed: 'JBSWY3DP', apiToken: 'wat_1', client_secret: 'y', note: 'has s3cret-value inside' }],
      keyId: 'abc',
    });
    expect(out).toMatchObject({ user: 'alice', password: REDACTED, keyId: 'abc' });
    expect((out.nested as Array<Record<string, unknown>>)[0]).toMatchObject({
      totpSeed: REDACTED,
      apiToken: REDACTED,
      client_secret: REDACTED,
      note: `has ${REDACTED} inside`,
    });
  });

  it('keeps a __proto__ key (as JSON.parse makes it) as an ordinary key', () => {
    const out = createRedactor().redactValue(JSON.parse('{"__proto__":{"x":1},"y":2}') as Record<string, unknown>);
    expect(Object.keys(out)).toEqual(['__proto__', 'y']);
    expect(canonicalJson(out)).toBe('{"__proto__":{"x":1},"y":2}');
  });

  it.each([
    ['password', true],
    ['newPassword', true],
    ['totp_seed', true],
    ['Authorization', true],
    ['session-id', true],
    ['otp', true],
    ['footprint', false],
    ['keyId', false],
    ['username', false],
    // A token's id names the token (the audit's tokenId); the token itself stays secret.
    ['tokenId', false],
    ['token', true],
    ['tokenIdAndSecret', true],
  ])('treats %s as secret: %s', (name, secret) => {
    expect(isSecretFieldName(name)).toBe(secret);
  });
});

describe('canonical JSON', () => {
  it('sorts keys, drops undefined, and refuses what JSON cannot hold', () => {
    expect(canonicalJson({ b: 1, a: [true, null, 'x'], c: undefined, d: { z: 0, y: -0.5 } })).toBe('{"a":[true,null,"x"],"b":1,"d":{"y":-0.5,"z":0}}');
    expect(() => canonicalJson({ n: Number.NaN })).toThrow();
    expect(() => canonicalJson({ f: () => 1 })).toThrow();
  });
});
