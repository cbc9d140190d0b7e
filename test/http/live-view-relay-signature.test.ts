import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createRelaySigner, RELAY_HEADER } from '../../src/http/live-view/relay-signature.js';

const KEY = randomBytes(32).toString('base64');
const PATH = '/api/sessions/s-1/live';
const ORIGIN = 'https://webasset.example';
const FACTS = { ip: '198.51.100.7', proto: 'https' as const, host: 'webasset.example' };

function signed(now = 1_700_000_000_000, key = KEY) {
  return createRelaySigner({ clusterKey: key, now: () => now }).headers('GET', PATH, ORIGIN, FACTS, 'node-b');
}

describe('relayed live-view requests: the cluster signature', () => {
  const verifier = createRelaySigner({ clusterKey: KEY, now: () => 1_700_000_005_000 });
  const verify = (headers: Record<string, string>, url = PATH, method = 'GET') => verifier.verify({ method, url, headers: { origin: ORIGIN, ...headers } });

  it('believes the forwarded facts under a valid signature from a node with the same key', () => {
    expect(verify(signed())).toEqual({ ...FACTS, fromNode: 'node-b' });
  });

  it('believes nothing when a signed field was changed, or the method, path or Origin differ', () => {
    const headers = signed();
    expect(verify({ ...headers, 'x-forwarded-for': '203.0.113.1' })).toBeNull();
    expect(verify({ ...headers, 'x-forwarded-proto': 'http' })).toBeNull();
    expect(verify({ ...headers, 'x-forwarded-host': 'evil.example' })).toBeNull();
    expect(verify({ ...headers, [RELAY_HEADER]: headers[RELAY_HEADER]!.replace('n=node-b', 'n=node-c') })).toBeNull();
    expect(verify({ ...headers, [RELAY_HEADER]: headers[RELAY_HEADER]!.replace(/t=\d+/, 't=1700000001000') })).toBeNull();
    expect(verify(headers, '/api/sessions/s-2/live')).toBeNull();
    expect(verify(headers, PATH, 'POST')).toBeNull();
    expect(verify({ ...headers, origin: 'https://evil.example' })).toBeNull();
  });

  it('believes nothing from another key, outside the time window, or in a malformed header', () => {
    expect(verify(signed(1_700_000_000_000, randomBytes(32).toString('base64')))).toBeNull();
    expect(verify(signed(1_700_000_005_000 - 31_000))).toBeNull();
    expect(verify(signed(1_700_000_005_000 + 31_000))).toBeNull();
    const headers = signed();
    expect(verify({ ...headers, [RELAY_HEADER]: 'v2' + headers[RELAY_HEADER]!.slice(2) })).toBeNull();
    expect(verify({ ...headers, [RELAY_HEADER]: `${headers[RELAY_HEADER]!}x` })).toBeNull();
    expect(verify({ ...headers, 'x-forwarded-for': `${FACTS.ip}, 10.0.0.1` })).toBeNull();
    const { [RELAY_HEADER]: _dropped, ...unsigned } = headers;
    expect(verify(unsigned)).toBeNull();
  });

  it('refuses a key that is not 32 bytes', () => {
    expect(() => createRelaySigner({ clusterKey: randomBytes(16).toString('base64') })).toThrow(TypeError);
  });
});
