import { describe, expect, it } from 'vitest';
import { createAccessRevocations, type AccessRevoked } from '../../src/identity/index.js';

const EVENT: AccessRevoked = { userId: '6f1c2d3e-0000-4000-8000-000000000001', by: null, reason: 'user disabled' };

describe('access revocations: the event identity tells when a user loses access', () => {
  it('runs every listener in order, each even after an earlier one failed, then throws the first failure', async () => {
    const revocations = createAccessRevocations();
    const seen: string[] = [];
    revocations.subscribe(async () => {
      seen.push('first');
      throw new Error('database away');
    });
    revocations.subscribe(async (event) => seen.push(`second ${event.reason}`));
    await expect(revocations.revoked(EVENT)).rejects.toThrow('database away');
    expect(seen).toEqual(['first', 'second user disabled']);
  });

  it('runs the fallback only while nobody listens, and a listener removed is not called again', async () => {
    const seen: string[] = [];
    const revocations = createAccessRevocations({ fallback: async () => seen.push('fallback') });
    await revocations.revoked(EVENT);
    const unsubscribe = revocations.subscribe(async () => seen.push('sessions'));
    await revocations.revoked(EVENT);
    unsubscribe();
    await revocations.revoked(EVENT);
    expect(seen).toEqual(['fallback', 'sessions', 'fallback']);
    expect(() => revocations.subscribe('nope' as never)).toThrow(TypeError);
  });
});
