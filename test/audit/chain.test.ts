import { describe, expect, it } from 'vitest';
import { canonicalEventText, chainHash, createEventHasher, toView, type AuditEventInput } from '../../src/audit/index.js';
import type { PreparedEvent } from '../../src/audit/event.js';
import { prepareEvent, type PrepareDeps } from '../../src/audit/prepare.js';
import { canonicalJson, createRedactor, type IdGenerator } from '../../src/core/index.js';
import { eventCarrying } from '../support/audit-fixtures.js';

const GENESIS = '0'.repeat(64);

function deps(overrides: Partial<PrepareDeps> = {}): PrepareDeps {
  let n = 0;
  const ids: IdGenerator = { uuid: () => `00000000-0000-4000-8000-${String(++n).padStart(12, '0')}`, token: () => 'unused' };
  return { clock: { now: () => Date.UTC(2026, 0, 2, 3, 4, 5, 678) }, ids, redactor: createRedactor(), nodeId: 'node-ü "1"', ...overrides };
}

/** The object the hand-written canonical text stands for, built the obvious way. */
function equivalentObject(event: PreparedEvent, seq: number): unknown {
  return {
    action: event.action,
    actor: { id: event.actorId, kind: event.actorKind, name: event.actorName },
    details: JSON.parse(event.details) as unknown,
    id: event.id,
    nodeId: event.nodeId,
    outcome: event.outcome,
    requestId: event.requestId,
    seq,
    sourceIp: event.sourceIp,
    target: event.targetKind === null ? null : { id: event.targetId, kind: event.targetKind },
    time: new Date(event.timeMs).toISOString(),
    userAgent: event.userAgent,
  };
}

const TRICKY: Record<string, string> = {
  quotes: 'say "hi" \\ and \'bye\' / </script>',
  controls: 'tab\there\nnew line\r\u0001\u001f\u007f',
  unicode: 'ação – ñ ✓ 日本語 😀 e\u0301 \u202eRTL\u202c',
  separators: 'line\u2028para\u2029end',
  loneHigh: 'before \uD800 after',
  loneLow: 'before \uDC00 after',
  reversedPair: '\uDE00\uD83D',
  nul: 'a\u0000b',
  bom: '\uFEFFstart',
};

function trickyInput(value: string): AuditEventInput {
  return eventCarrying(
    value,
    { [`key ${value}`]: value, nested: { list: [value, 1.5, -0, 1e21, true, null], [value]: { deeper: value } }, z: 1, A: 2, é: 3 },
    'agent',
  );
}

describe('canonicalEventText', () => {
  for (const [name, value] of Object.entries(TRICKY)) {
    it(`equals canonicalJson of the equivalent object (${name})`, () => {
      const event = prepareEvent(trickyInput(value), deps());
      for (const seq of [1, 42, 9_007_199_254_740_991]) {
        const text = canonicalEventText(event, seq);
        expect(text).toBe(canonicalJson(equivalentObject(event, seq)));
        // What an export carries (toView) must hash to the same text, or offline verification breaks.
        const [chained] = createEventHasher().link({ seq: seq - 1, hash: GENESIS }, [event]);
        const { prevHash, hash, ...view } = toView(chained!);
        expect(canonicalJson(view)).toBe(text);
        expect(hash).toBe(chainHash(prevHash, text));
      }
    });
  }

  it('equals canonicalJson for event times across seconds, before 1970 and after 9999', () => {
    const times = [
      Date.UTC(2026, 0, 2, 3, 4, 5, 0), Date.UTC(2026, 0, 2, 3, 4, 5, 7), Date.UTC(2026, 0, 2, 3, 4, 5, 42), Date.UTC(2026, 0, 2, 3, 4, 5, 999),
      Date.UTC(2026, 0, 2, 3, 4, 6, 1), Date.UTC(2026, 0, 2, 3, 4, 5, 500), 0, 1, 999, 1000, -1, -999, -1000, -1001, -86_400_001,
      253_402_300_799_999, 253_402_300_800_000, 253_402_300_800_001, 8_640_000_000_000_000, -8_640_000_000_000_000, 1000, 1001,
    ];
    for (const time of times) {
      const event = prepareEvent(trickyInput('t'), deps({ clock: { now: () => time } }));
      expect(canonicalEventText(event, 3), `time ${time}`).toBe(canonicalJson(equivalentObject(event, 3)));
    }
  });

  it('equals canonicalJson when every optional field is empty', () => {
    const event = prepareEvent({ actor: { kind: 'system', id: 'node-1' }, action: 'system.started', outcome: 'success' }, deps());
    expect(event).toMatchObject({ actorName: null, targetKind: null, targetId: null, sourceIp: null, userAgent: null, requestId: null, details: '{}' });
    expect(canonicalEventText(event, 7)).toBe(canonicalJson(equivalentObject(event, 7)));
  });

  it('has no lone surrogate or NUL left after prepare, so the database stores exactly the hashed text', () => {
    for (const value of Object.values(TRICKY)) {
      const event = prepareEvent(trickyInput(value), deps());
      const text = canonicalEventText(event, 1);
      for (const field of [event.actorId, event.actorName, event.targetKind, event.targetId, event.sourceIp, event.userAgent, event.requestId, event.details]) {
        expect(field!.isWellFormed()).toBe(true);
        expect(field).not.toContain('\u0000');
      }
      // JSON.stringify would write a lone surrogate as a \uXXXX escape that the stored text could not reproduce.
      expect(text).not.toMatch(/\\ud[89a-f][0-9a-f]{2}/i);
      expect(text).not.toContain('\\u0000');
    }
  });

  it('keeps text fields well-formed when cutting them to length splits a surrogate pair', () => {
    const emoji = '😀';
    const event = prepareEvent(
      {
        actor: { kind: 'user', id: 'u1' },
        action: 'audit.read',
        outcome: 'success',
        sourceIp: 'x'.repeat(63) + emoji,
        userAgent: 'a'.repeat(511) + emoji,
        requestId: 'r'.repeat(127) + emoji,
      },
      deps(),
    );
    for (const field of [event.sourceIp, event.userAgent, event.requestId]) expect(field!.isWellFormed()).toBe(true);
    expect(event.userAgent!.length).toBeLessThanOrEqual(512);
    expect(canonicalEventText(event, 1)).toBe(canonicalJson(equivalentObject(event, 1)));
  });

  it('chains each hash over the previous one', () => {
    const d = deps();
    const events = [1, 2, 3].map((n) => prepareEvent({ actor: { kind: 'user', id: `u${n}` }, action: 'audit.read', outcome: 'success' }, d));
    const chained = createEventHasher().link({ seq: 0, hash: GENESIS }, events);
    expect(chained.map((e) => e.seq)).toEqual([1, 2, 3]);
    expect(chained[0]!.prevHash).toBe(GENESIS);
    for (let i = 1; i < chained.length; i++) expect(chained[i]!.prevHash).toBe(chained[i - 1]!.hash);
    for (const e of chained) expect(e.hash).toBe(chainHash(e.prevHash, canonicalEventText(e, e.seq)));
  });
});
