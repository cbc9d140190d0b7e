import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  base32Decode,
  base32Encode,
  checkTotpOnce,
  createInMemoryTotpReplayGuard,
  generateRecoveryCodes,
  generateTotpSecret,
  hashRecoveryCode,
  hotp,
  matchRecoveryCode,
  normalizeRecoveryCode,
  otpauthUri,
  qrCodeDataUrl,
  qrCodeSvg,
  totp,
  verifyTotp,
} from '../../src/identity/index.js';

// RFC 4226 Appendix D and RFC 6238 Appendix B both use this ASCII key for HMAC-SHA1.
const RFC_KEY = Buffer.from('12345678901234567890', 'ascii');
const RFC_SECRET = base32Encode(RFC_KEY);

describe('HOTP and TOTP', () => {
  it('reproduces the RFC 4226 Appendix D values', () => {
    const expected = ['755224', '287082', '359152', '969429', '338314', '254676', '287922', '162583', '399871', '520489'];
    expect(expected.map((_, counter) => hotp(RFC_KEY, counter))).toEqual(expected);
  });

  it('reproduces the RFC 6238 Appendix B values for SHA-1 (8 digits)', () => {
    const vectors: Array<[number, string]> = [
      [59, '94287082'],
      [1111111109, '07081804'],
      [1111111111, '14050471'],
      [1234567890, '89005924'],
      [2000000000, '69279037'],
      [20000000000, '65353130'],
    ];
    for (const [seconds, code] of vectors) expect(totp(RFC_KEY, seconds * 1000, { digits: 8 }), String(seconds)).toBe(code);
    // The six-digit code we use is the same value truncated to its last six digits.
    expect(totp(RFC_KEY, 59_000)).toBe('287082');
  });

  it('accepts the current step and one step on each side, and nothing further', () => {
    const now = 1111111111_000; // step 37037037, 1 s into the step
    const step = Math.floor(now / 30_000);
    const at = (s: number) => hotp(RFC_KEY, s);
    expect(verifyTotp(RFC_SECRET, at(step), { now })).toBe(step);
    expect(verifyTotp(RFC_SECRET, at(step - 1), { now })).toBe(step - 1);
    expect(verifyTotp(RFC_SECRET, at(step + 1), { now })).toBe(step + 1);
    expect(verifyTotp(RFC_SECRET, at(step - 2), { now })).toBeNull();
    expect(verifyTotp(RFC_SECRET, at(step + 2), { now })).toBeNull();
    expect(verifyTotp(RFC_SECRET, at(step - 1), { now, window: 0 })).toBeNull();
    // Step edges: the last millisecond of a step and the first of the next.
    const edge = (step + 1) * 30_000;
    expect(verifyTotp(RFC_SECRET, at(step + 2), { now: edge - 1 })).toBeNull();
    expect(verifyTotp(RFC_SECRET, at(step + 2), { now: edge })).toBe(step + 2);
    expect(verifyTotp(RFC_SECRET, at(step - 1), { now: edge })).toBeNull();
  });

  it('refuses a code that is not six digits without computing, and an unreadable stored secret without showing it', () => {
    const now = 59_000;
    for (const bad of ['', '28708', '2870820', '28708a', ' 287082', '287082 ', '２８７０８２', '+87082', '287082\n']) {
      expect(verifyTotp('!not base32!', bad, { now }), JSON.stringify(bad)).toBeNull();
    }
    let error: unknown;
    try {
      verifyTotp('!not-base32-canary!', '287082', { now });
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({ code: 'internal' });
    expect(JSON.stringify(error) + String(error) + (error as Error).stack).not.toContain('canary');
  });

  it('accepts a code once, and refuses it and older codes of the window afterwards', async () => {
    const guard = createInMemoryTotpReplayGuard();
    const now = 1234567890_000;
    const step = Math.floor(now / 30_000);
    const input = (s: number, userId = 'alice') => ({ userId, secret: RFC_SECRET, code: hotp(RFC_KEY, s) });
    expect(await checkTotpOnce(input(step), { now, guard })).toBe(true);
    expect(await checkTotpOnce(input(step), { now, guard })).toBe(false);
    expect(await checkTotpOnce(input(step - 1), { now, guard })).toBe(false);
    expect(await checkTotpOnce(input(step, 'bob'), { now, guard })).toBe(true);
    expect(await checkTotpOnce(input(step + 1), { now: now + 30_000, guard })).toBe(true);
    expect(await checkTotpOnce({ userId: 'carol', secret: RFC_SECRET, code: '000000' }, { now, guard })).toBe(false);
  });
});

describe('base32', () => {
  it('matches the RFC 4648 test vectors, without padding', () => {
    const vectors: Array<[string, string]> = [
      ['', ''],
      ['f', 'MY'],
      ['fo', 'MZXQ'],
      ['foo', 'MZXW6'],
      ['foob', 'MZXW6YQ'],
      ['fooba', 'MZXW6YTB'],
      ['foobar', 'MZXW6YTBOI'],
    ];
    for (const [plain, encoded] of vectors) {
      expect(base32Encode(Buffer.from(plain))).toBe(encoded);
      expect(base32Decode(encoded).toString()).toBe(plain);
    }
    expect(base32Decode('mzxw6ytboi======').toString()).toBe('foobar');
  });

  it('round-trips random bytes of every length, and refuses foreign characters', () => {
    for (let length = 0; length <= 40; length++) {
      const bytes = randomBytes(length);
      expect(base32Decode(base32Encode(bytes)).equals(bytes)).toBe(true);
    }
    for (const bad of ['MZ1W', 'MZ0W', 'MZ W', 'MZ-W', 'MZ=W']) expect(() => base32Decode(bad), bad).toThrow(expect.objectContaining({ code: 'invalid_request' }));
  });

  it('makes secrets of 20 random bytes, 32 characters without padding', () => {
    const secret = generateTotpSecret();
    expect(secret).toMatch(/^[A-Z2-7]{32}$/);
    expect(base32Decode(secret)).toHaveLength(20);
    expect(generateTotpSecret()).not.toBe(secret);
  });
});

describe('otpauth URI and QR code', () => {
  const secret = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP';

  it('percent-encodes the label and the issuer (spaces as %20, colons, Unicode)', () => {
    const uri = otpauthUri({ issuer: 'Bank Gateway Zürich', account: 'alice smith:ops@example.com', secret });
    expect(uri).toBe(
      'otpauth://totp/Bank%20Gateway%20Z%C3%BCrich:alice%20smith%3Aops%40example.com' +
        `?secret=${secret}&issuer=Bank%20Gateway%20Z%C3%BCrich&algorithm=SHA1&digits=6&period=30`,
    );
    const parsed = new URL(uri);
    expect(parsed.protocol).toBe('otpauth:');
    expect(parsed.searchParams.get('issuer')).toBe('Bank Gateway Zürich');
    expect(parsed.host).toBe('totp');
    const [issuer, account] = parsed.pathname.slice(1).split(':');
    expect(decodeURIComponent(issuer!)).toBe('Bank Gateway Zürich');
    expect(decodeURIComponent(account!)).toBe('alice smith:ops@example.com');
    expect(otpauthUri({ issuer: 'A&B=C?', account: '名前', secret })).toContain('otpauth://totp/A%26B%3DC%3F:%E5%90%8D%E5%89%8D?');
  });

  it('refuses an issuer with a colon, empty names and short or malformed secrets', () => {
    const cases = [
      { issuer: 'Bank:Gateway', account: 'alice', secret },
      { issuer: ' ', account: 'alice', secret },
      { issuer: 'Bank', account: '', secret },
      { issuer: 'Bank', account: 'alice', secret: 'JBSWY3DP' },
      { issuer: 'Bank', account: 'alice', secret: 'not base32 at all!' },
    ];
    for (const input of cases) expect(() => otpauthUri(input), JSON.stringify(input)).toThrow(expect.objectContaining({ code: 'invalid_request' }));
  });

  it('renders the URI as an SVG and as a PNG data URL', async () => {
    const uri = otpauthUri({ issuer: 'Bank', account: 'alice', secret });
    const svg = await qrCodeSvg(uri);
    expect(svg).toMatch(/^<svg [^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    expect(svg).not.toMatch(/<script/i);
    const dataUrl = await qrCodeDataUrl(uri);
    expect(dataUrl).toMatch(/^data:image\/png;base64,/);
    const png = Buffer.from(dataUrl.slice('data:image/png;base64,'.length), 'base64');
    expect(png.subarray(0, 8).toString('hex')).toBe('89504e470d0a1a0a');
  });
});

describe('recovery codes', () => {
  it('makes ten distinct, grouped codes of 80 bits by default', () => {
    const codes = generateRecoveryCodes();
    expect(codes).toHaveLength(10);
    expect(new Set(codes).size).toBe(10);
    for (const code of codes) expect(code).toMatch(/^[A-Z2-7]{4}(-[A-Z2-7]{4}){3}$/);
    expect(generateRecoveryCodes(3)).toHaveLength(3);
    for (const n of [0, -1, 1.5, 101]) expect(() => generateRecoveryCodes(n)).toThrow(expect.objectContaining({ code: 'invalid_request' }));
  });

  it('stores a SHA-256 of the normalized code, and matches it however it is typed', () => {
    const codes = generateRecoveryCodes(5);
    const stored = codes.map(hashRecoveryCode);
    const plain = codes[2]!.replace(/-/g, '');
    expect(stored[2]).toBe(createHash('sha256').update(plain).digest('hex'));
    expect(stored.join()).not.toContain(plain);
    expect(matchRecoveryCode(codes[2]!, stored)).toBe(2);
    expect(matchRecoveryCode(` ${codes[2]!.toLowerCase()} `, stored)).toBe(2);
    expect(matchRecoveryCode(plain.match(/.{4}/g)!.join(' '), stored)).toBe(2);
  });

  it('refuses malformed and unknown codes, and a used code once the caller removed its hash', () => {
    const codes = generateRecoveryCodes(3);
    const stored = codes.map(hashRecoveryCode);
    for (const bad of ['', 'ABCD-EFGH', 'ABCD-EFGH-IJKL-MNO1', 'ABCD-EFGH-IJKL-MNOPQ', 'x'.repeat(10_000)]) {
      expect(normalizeRecoveryCode(bad)).toBeNull();
      expect(matchRecoveryCode(bad, stored)).toBeNull();
    }
    expect(matchRecoveryCode(generateRecoveryCodes(1)[0]!, stored)).toBeNull();
    // Single use: the caller deletes the hash that matched.
    const index = matchRecoveryCode(codes[0]!, stored)!;
    const remaining = stored.filter((_, i) => i !== index);
    expect(matchRecoveryCode(codes[0]!, remaining)).toBeNull();
    expect(matchRecoveryCode(codes[1]!, remaining)).toBe(0);
    expect(() => hashRecoveryCode('not a code')).toThrow(expect.objectContaining({ code: 'invalid_request' }));
  });
});
