import { describe, expect, it } from 'vitest';
import { createMemoryState } from '../../src/cluster/index.js';
import { loadConfig } from '../../src/config/index.js';
import { AppError, randomIds } from '../../src/core/index.js';
import { loggableUrl } from '../../src/http/request-log.js';
import { checkReturnTo, parseGroupMap } from '../../src/identity/index.js';
import { identityFromClaims, mapGroups, providerDidMfa } from '../../src/identity/oidc-claims.js';
import { mustUseMfa } from '../../src/identity/mfa.js';
import { createOidcTransactions, type OidcTransaction } from '../../src/identity/oidc-transactions.js';

// The small parts of OpenID Connect sign-in, each on its own; the whole flow runs against a real
// provider in oidc.test.ts.

describe('checkReturnTo', () => {
  it('keeps paths on this site', () => {
    expect(checkReturnTo(undefined)).toBe('/');
    expect(checkReturnTo('')).toBe('/');
    expect(checkReturnTo('/assets?view=mine#top')).toBe('/assets?view=mine#top');
    expect(checkReturnTo('/a/../b')).toBe('/b');
  });

  it.each([
    'https://evil.test/',
    'http:/evil.test',
    '//evil.test',
    '///evil.test',
    '/\\evil.test',
    '\\/evil.test',
    '/%2F%2Fevil.test',
    '/%2f/evil.test',
    '/%5Cevil.test',
    'javascript:alert(1)',
    'evil.test',
    '/a\nb',
    '/a\tb',
    '/a b',
    '/%E0%A4%A',
    `/${'a'.repeat(2048)}`,
  ])('refuses %j with return_to_invalid', (value) => {
    expect(() => checkReturnTo(value)).toThrow(AppError);
    try {
      checkReturnTo(value);
    } catch (error) {
      expect((error as AppError).code).toBe('return_to_invalid');
    }
  });
});

describe('groups claim mapping', () => {
  it('takes values 1:1 without a map, and only mapped ones with a map', () => {
    expect(mapGroups(['ops', 'ops', 'admins'], null)).toEqual(['ops', 'admins']);
    const map = parseGroupMap(['WebAsset Admins=admins', 'ops-team=operators', 'ops-team=readers']);
    expect(mapGroups(['ops-team', 'WebAsset Admins', 'unknown'], map)).toEqual(['operators', 'readers', 'admins']);
    expect(mapGroups(['unknown'], map)).toEqual([]);
    expect(parseGroupMap([])).toBeNull();
  });

  it('refuses a pair without both sides', () => {
    expect(() => parseGroupMap(['=admins'])).toThrow(/OIDC_GROUP_MAP/);
    expect(() => parseGroupMap(['ops='])).toThrow(/OIDC_GROUP_MAP/);
  });
});

describe('provider MFA and who needs it', () => {
  const accepted = { amr: ['mfa', 'otp', 'hwk'], acr: ['gold'] };
  it('counts an accepted amr or acr, nothing else', () => {
    expect(providerDidMfa({ amr: ['pwd', 'otp'], acr: null }, accepted)).toBe(true);
    expect(providerDidMfa({ amr: ['pwd'], acr: 'gold' }, accepted)).toBe(true);
    expect(providerDidMfa({ amr: ['pwd'], acr: '1' }, accepted)).toBe(false);
    expect(providerDidMfa({ amr: [], acr: null }, accepted)).toBe(false);
  });

  it('requires it for the listed roles and for users flagged', () => {
    expect(mustUseMfa(['admin'], false, ['admin', 'auditor'])).toBe(true);
    expect(mustUseMfa(['operator'], false, ['admin', 'auditor'])).toBe(false);
    expect(mustUseMfa(['operator'], true, ['admin', 'auditor'])).toBe(true);
    expect(mustUseMfa(['operator'], false, ['admin', 'operator'])).toBe(true);
    // admin and auditor need it whatever the configured list says.
    expect(mustUseMfa(['admin'], false, ['operator'])).toBe(true);
    expect(mustUseMfa(['auditor'], false, [])).toBe(true);
  });
});

describe('identityFromClaims', () => {
  it('reads the claims, dropping wrong types and oversized values', () => {
    const identity = identityFromClaims(
      { sub: 's1', preferred_username: 'alice', email: 'a@b.test', name: 'Alice', groups: ['ops', 7, '', 'x'.repeat(300), 'admins'], amr: ['pwd', 1, 'otp'], acr: 'gold' },
      'groups',
      'https://idp.test',
    );
    expect(identity).toEqual({ issuer: 'https://idp.test', subject: 's1', username: 'alice', email: 'a@b.test', name: 'Alice', groupClaims: ['ops', 'admins'], amr: ['pwd', 'otp'], acr: 'gold' });
  });

  it('falls back for the username and name, accepts one group as a string, needs sub', () => {
    expect(identityFromClaims({ sub: 's2', email: 'b@b.test', roles: 'ops' }, 'roles', 'i')).toMatchObject({ username: 'b@b.test', name: 'b@b.test', groupClaims: ['ops'], email: 'b@b.test' });
    expect(identityFromClaims({ sub: 's3' }, 'groups', 'i')).toMatchObject({ username: 's3', email: null, groupClaims: [], amr: [], acr: null });
    expect(identityFromClaims({ preferred_username: 'nobody' }, 'groups', 'i')).toBeNull();
  });
});

describe('sign-in transactions', () => {
  const tx = (createdAtMs: number): OidcTransaction => ({ state: 's', nonce: 'n', codeVerifier: 'v', returnTo: '/', createdAtMs });

  it('are taken once, even by callers racing for the same id', async () => {
    let now = 1_000_000;
    const clock = { now: () => now };
    const state = createMemoryState({ clock, onError: () => {} });
    try {
      const transactions = createOidcTransactions({ state, ids: randomIds, clock, ttlMs: 600_000 });
      const id = await transactions.save(tx(now));
      expect(id).toMatch(/^[\w-]{43}$/);
      const results = await Promise.all([transactions.take(id), transactions.take(id), transactions.take(id)]);
      expect(results.filter((r) => r !== null)).toHaveLength(1);
      expect(await transactions.take(id)).toBeNull();

      const late = await transactions.save(tx(now));
      now += 600_001;
      expect(await transactions.take(late)).toBeNull();
      expect(await transactions.take('not-an-id')).toBeNull();
    } finally {
      await state.close();
    }
  });
});

describe('request log lines', () => {
  it('never carry codes, states or tokens from a URL', () => {
    expect(loggableUrl('/auth/oidc/callback?code=abc&state=def&iss=https%3A%2F%2Fidp')).toBe('/auth/oidc/callback?code=[REDACTED]&state=[REDACTED]&iss=https%3A%2F%2Fidp');
    expect(loggableUrl('/x?id_token_hint=eyJ.a.b&ok=1')).toBe('/x?id_token_hint=[REDACTED]&ok=1');
    expect(loggableUrl('/x?%63ode=abc')).toBe('/x?%63ode=[REDACTED]');
    // Credentials some clients put in a URL (an MCP client told to use a query token): never logged, though /mcp refuses them.
    expect(loggableUrl('/mcp?bearer=t1&api_key=t2&apikey=t3&password=p&secret=s&x=1')).toBe('/mcp?bearer=[REDACTED]&api_key=[REDACTED]&apikey=[REDACTED]&password=[REDACTED]&secret=[REDACTED]&x=1');
    expect(loggableUrl('/api/audit?action=auth.sso')).toBe('/api/audit?action=auth.sso');
    expect(loggableUrl('/plain')).toBe('/plain');
  });
});

describe('SSO settings', () => {
  const base = { OIDC_ISSUER: 'https://idp.test/realms/bank', OIDC_CLIENT_ID: 'webasset', WEBASSET_PUBLIC_URL: 'https://webasset.test' };
  const problems = (env: Record<string, string>): string => {
    try {
      loadConfig({ env, cwd: '/nonexistent' });
      return '';
    } catch (error) {
      return ((error as AppError).data as { problems: string[] }).problems.join('\n');
    }
  };

  it('have defaults that suit Authentik and Keycloak', () => {
    const { config } = loadConfig({ env: base, cwd: '/nonexistent' });
    expect(config).toMatchObject({ oidcGroupsClaim: 'groups', oidcGroupMap: [], oidcScopes: ['openid', 'profile', 'email'], oidcMfaAmr: ['mfa', 'otp', 'hwk', 'swk', 'totp'], oidcMfaAcr: [] });
  });

  it('parse lists and maps', () => {
    const { config } = loadConfig({ env: { ...base, OIDC_SCOPES: 'openid profile,email groups', OIDC_GROUP_MAP: 'WebAsset Admins=admins, ops=operators', OIDC_MFA_ACR: 'gold,2' }, cwd: '/nonexistent' });
    expect(config.oidcScopes).toEqual(['openid', 'profile', 'email', 'groups']);
    expect(config.oidcGroupMap).toEqual(['WebAsset Admins=admins', 'ops=operators']);
    expect(config.oidcMfaAcr).toEqual(['gold', '2']);
  });

  it('refuse SSO without a public URL, scopes without openid, and broken map entries', () => {
    expect(problems({ OIDC_ISSUER: base.OIDC_ISSUER, OIDC_CLIENT_ID: 'x' })).toMatch(/WEBASSET_PUBLIC_URL: required with OIDC_ISSUER/);
    expect(problems({ ...base, OIDC_SCOPES: 'profile email' })).toMatch(/OIDC_SCOPES: must include openid/);
    expect(problems({ ...base, OIDC_GROUP_MAP: 'admins' })).toMatch(/OIDC_GROUP_MAP/);
    expect(problems({ ...base, OIDC_GROUP_MAP: 'x=<script>' })).toMatch(/OIDC_GROUP_MAP/);
  });
});
