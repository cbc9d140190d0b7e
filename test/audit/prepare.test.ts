import { describe, expect, it } from 'vitest';
import type { AuditAction, AuditEventInput } from '../../src/audit/index.js';
import { MAX_DETAILS_BYTES, prepareEvent, type PrepareDeps } from '../../src/audit/prepare.js';
import { AppError, createRedactor, randomIds, REDACTED, systemClock } from '../../src/core/index.js';

const deps: PrepareDeps = { clock: systemClock, ids: randomIds, redactor: createRedactor(), nodeId: 'n1' };

function base(extra: Partial<AuditEventInput> = {}): AuditEventInput {
  return { actor: { kind: 'user', id: 'u1' }, action: 'audit.read', outcome: 'success', ...extra };
}

function rejection(input: AuditEventInput): AppError {
  try {
    prepareEvent(input, deps);
  } catch (error) {
    expect(error).toBeInstanceOf(AppError);
    return error as AppError;
  }
  throw new Error('prepareEvent accepted an invalid event');
}

/** Details whose canonical text is exactly `bytes` bytes long, made of `unit` (1 or 2 UTF-8 bytes). */
function detailsOfSize(bytes: number, unit: 'a' | 'é'): Record<string, unknown> {
  const overhead = Buffer.byteLength('{"blob":""}');
  const width = Buffer.byteLength(unit);
  const room = bytes - overhead;
  return { blob: unit.repeat(Math.floor(room / width)) + 'a'.repeat(room % width) };
}

describe('prepareEvent', () => {
  it('rejects an action that is not in the catalog', () => {
    for (const action of ['no.such.action', 'AUDIT.READ', 'audit.read ', '', 'toString', '__proto__', 'hasOwnProperty']) {
      const error = rejection(base({ action: action as AuditAction }));
      expect(error.code).toBe('audit_event_invalid');
      expect(error.detail).toMatch(/action/);
    }
  });

  it('rejects details larger than the limit, counted in UTF-8 bytes', () => {
    for (const unit of ['a', 'é'] as const) {
      const atLimit = prepareEvent(base({ details: detailsOfSize(MAX_DETAILS_BYTES, unit) }), deps);
      expect(Buffer.byteLength(atLimit.details)).toBe(MAX_DETAILS_BYTES);
      const error = rejection(base({ details: detailsOfSize(MAX_DETAILS_BYTES + 1, unit) }));
      expect(error.code).toBe('audit_event_invalid');
      expect(error.detail).toMatch(/exceed/);
    }
  });

  it('rejects details that have no JSON form, without echoing their values', () => {
    const cases: Array<Record<string, unknown>> = [
      { big: 10n },
      { fn: () => 1 },
      { n: Number.NaN },
      { n: Number.POSITIVE_INFINITY },
      { deep: JSON.parse('['.repeat(40) + ']'.repeat(40)) as unknown },
    ];
    for (const details of cases) {
      const error = rejection(base({ details }));
      expect(error.code).toBe('audit_event_invalid');
    }
  });

  it('rejects malformed events with audit_event_invalid, naming the fields but not the values', () => {
    const bad: AuditEventInput[] = [
      base({ outcome: 'maybe' as AuditEventInput['outcome'] }),
      base({ actor: { kind: 'robot' as 'user', id: 'u1' } }),
      base({ actor: { kind: 'user', id: '' } }),
      base({ target: { kind: 'asset', id: '' } }),
      base({ details: ['not', 'a', 'record'] as unknown as Record<string, unknown> }),
    ];
    for (const input of bad) {
      const error = rejection(input);
      expect(error.code).toBe('audit_event_invalid');
      expect(error.message).not.toContain('robot');
    }
  });

  it('redacts a registered secret in every text field, the target kind included', () => {
    const secret = 'secret-canary-81QmZ';
    const event = prepareEvent(
      {
        actor: { kind: 'user', id: `id-${secret}`, name: `name-${secret}` },
        action: 'auth.denied',
        outcome: 'denied',
        target: { kind: `kind-${secret}`, id: `id-${secret}` },
        sourceIp: `ip-${secret}`,
        userAgent: `ua-${secret}`,
        requestId: `req-${secret}`,
        details: { [`key-${secret}`]: [`v-${secret}`], password: 'not-registered-pw' },
      },
      { ...deps, redactor: createRedactor([secret]) },
    );
    const text = JSON.stringify(event);
    expect(text).not.toContain(secret);
    expect(text).not.toContain('not-registered-pw');
    expect(event.targetKind).toBe(`kind-${REDACTED}`);
  });
});
