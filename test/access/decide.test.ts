import { describe, expect, it } from 'vitest';
import { decide, isWithinWindow, PERMISSIONS, ROLE_PERMISSIONS, type DecisionInput, type Grant, type TimeWindow } from '../../src/access/index.js';
import { ROLES, type Principal } from '../../src/identity/index.js';

const U_ALICE = '11111111-1111-4111-8111-111111111111';
const U_AGENT = '22222222-2222-4222-8222-222222222222';
const G_OPS = 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa';
const G_OTHER = 'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb';
const ASSET = { id: 'loan-portal' };
// Monday 2026-01-05 10:00 UTC (11:00 in Berlin, winter time).
const MONDAY_10Z = new Date('2026-01-05T10:00:00Z');

function principal(over: Partial<Principal> = {}): Principal {
  return { kind: 'user', id: U_ALICE, name: 'Alice', roles: ['operator'], groups: [{ id: G_OPS, name: 'ops' }], via: 'session', mfa: true, ...over };
}

function grant(over: Partial<Grant> = {}): Grant {
  return { id: 'g1', subjectKind: 'group', subjectId: G_OPS, assetId: ASSET.id, actions: ['connect'], timeWindow: null, maxConcurrent: null, ...over };
}

const officeHours: TimeWindow = { timeZone: 'Europe/Berlin', days: [1, 2, 3, 4, 5], start: '09:00', end: '17:00' };
const nightShift: TimeWindow = { timeZone: 'Europe/Berlin', days: [6], start: '22:00', end: '06:00' };

type Row = [name: string, input: Partial<DecisionInput>, expected: true | string];

describe('decide(): role permissions', () => {
  const rows: Row[] = [
    ['admin reads the audit trail', { principal: principal({ roles: ['admin'] }), action: 'audit.read' }, true],
    ['auditor reads the policy', { principal: principal({ roles: ['auditor'] }), action: 'admin.policy.read' }, true],
    ['auditor cannot change the policy', { principal: principal({ roles: ['auditor'] }), action: 'admin.policy.write' }, 'role_lacks_permission'],
    ['operator holds no admin permission', { principal: principal({ roles: ['operator'] }), action: 'admin.users.read' }, 'role_lacks_permission'],
    ['agent holds no admin permission', { principal: principal({ kind: 'agent', roles: ['agent'], via: 'api_token', scopes: ['api:read'] }), action: 'audit.read' }, 'role_lacks_permission'],
    ['no roles, nothing', { principal: principal({ roles: [] }), action: 'audit.read' }, 'role_lacks_permission'],
    ['unknown permission', { principal: principal({ roles: ['admin'] }), action: 'root.everything' as never }, 'invalid_request'],
    ['unknown role is ignored', { principal: principal({ roles: ['superuser' as never] }), action: 'audit.read' }, 'role_lacks_permission'],
    ['prototype names are not roles', { principal: principal({ roles: ['__proto__' as never, 'constructor' as never] }), action: 'audit.read' }, 'role_lacks_permission'],
    ['admin web session without MFA', { principal: principal({ roles: ['admin'], mfa: false }), action: 'admin.users.read' }, 'mfa_required'],
    ['auditor web session without MFA', { principal: principal({ roles: ['auditor'], mfa: false }), action: 'audit.read' }, 'mfa_required'],
    ['admin needs MFA whatever the configured roles say', { principal: principal({ roles: ['admin'], mfa: false }), action: 'admin.users.read', mfaRoles: [] }, 'mfa_required'],
    ['configured roles add to admin and auditor', { principal: principal({ roles: ['operator'], mfa: false }), action: 'connect', asset: ASSET, grants: [grant()], mfaRoles: ['operator'] }, 'mfa_required'],
    ['admin token: no MFA to check', { principal: principal({ roles: ['admin'], mfa: false, via: 'api_token', scopes: ['api:write'] }), action: 'admin.users.write' }, true],
    ['token scope api:read cannot write', { principal: principal({ roles: ['admin'], via: 'api_token', scopes: ['api:read'] }), action: 'admin.users.write' }, 'token_scope'],
    ['token scope api:read reads', { principal: principal({ roles: ['admin'], via: 'api_token', scopes: ['api:read'] }), action: 'admin.users.read' }, true],
    ['token scope mcp cannot use the admin API', { principal: principal({ roles: ['admin'], via: 'api_token', scopes: ['mcp'] }), action: 'admin.users.read' }, 'token_scope'],
    ['token with an empty scope list', { principal: principal({ roles: ['admin'], via: 'api_token', scopes: [] }), action: 'audit.read' }, 'token_scope'],
    ['cli has no scope limit', { principal: principal({ roles: ['admin'], via: 'cli', mfa: false }), action: 'admin.policy.write' }, true],
    ['invalid time', { principal: principal({ roles: ['admin'] }), action: 'audit.read', now: new Date(Number.NaN) }, 'invalid_request'],
    ['malformed principal', { principal: { ...principal(), roles: undefined } as never, action: 'audit.read' }, 'invalid_request'],
  ];
  it.each(rows)('%s', (_name, input, expected) => expectDecision(input, expected));
});

describe('decide(): asset actions', () => {
  const rows: Row[] = [
    ['group grant allows connect', { grants: [grant()] }, true],
    ['user grant allows connect', { grants: [grant({ subjectKind: 'user', subjectId: U_ALICE })] }, true],
    ['no grants at all', { grants: [] }, 'no_grant'],
    ['grants omitted', { grants: undefined }, 'no_grant'],
    ['grant to another group', { grants: [grant({ subjectId: G_OTHER })] }, 'no_grant'],
    ['grant to another user', { grants: [grant({ subjectKind: 'user', subjectId: U_AGENT })] }, 'no_grant'],
    ['a user grant does not match a group with the same id', { grants: [grant({ subjectKind: 'user', subjectId: G_OPS })] }, 'no_grant'],
    ['grant on another asset', { grants: [grant({ assetId: 'other' })] }, 'no_grant'],
    ['grant of another action', { grants: [grant({ actions: ['watch'] })] }, 'no_grant'],
    ['watch granted', { action: 'watch', grants: [grant({ actions: ['connect', 'watch'] })] }, true],
    ['replay not granted to an operator', { action: 'replay', grants: [grant()] }, 'no_grant'],
    ['auditors replay any asset', { action: 'replay', principal: principal({ roles: ['auditor'] }), grants: [] }, true],
    ['administrators replay any asset', { action: 'replay', principal: principal({ roles: ['admin'] }), grants: [] }, true],
    ['admins do not connect without a grant', { principal: principal({ roles: ['admin'] }), grants: [] }, 'no_grant'],
    ['no asset given', { asset: undefined, grants: [grant()] }, 'asset_required'],
    ['asset needs MFA, session without it', { asset: { id: ASSET.id, mfaRequired: true }, principal: principal({ mfa: false }), grants: [grant()] }, 'mfa_required'],
    ['asset needs MFA, session with it', { asset: { id: ASSET.id, mfaRequired: true }, grants: [grant()] }, true],
    ['under the concurrency limit', { grants: [grant({ maxConcurrent: 2 })], activeSessions: 1 }, true],
    ['at the concurrency limit', { grants: [grant({ maxConcurrent: 2 })], activeSessions: 2 }, 'max_concurrent_sessions'],
    ['limit with an unknown count fails closed', { grants: [grant({ maxConcurrent: 2 })], activeSessions: undefined }, 'max_concurrent_sessions'],
    ['limit with a nonsense count fails closed', { grants: [grant({ maxConcurrent: 2 })], activeSessions: -1 }, 'max_concurrent_sessions'],
    ['limit does not apply to watch', { action: 'watch', grants: [grant({ actions: ['watch'], maxConcurrent: 1 })], activeSessions: 5 }, true],
    ['a second grant without a limit allows', { grants: [grant({ maxConcurrent: 1 }), grant({ id: 'g2', subjectKind: 'user', subjectId: U_ALICE })], activeSessions: 3 }, true],
    ['inside office hours', { grants: [grant({ timeWindow: officeHours })] }, true],
    ['outside office hours', { grants: [grant({ timeWindow: officeHours })], now: new Date('2026-01-05T17:30:00Z') }, 'outside_time_window'],
    ['office hours, but Saturday', { grants: [grant({ timeWindow: officeHours })], now: new Date('2026-01-10T10:00:00Z') }, 'outside_time_window'],
    ['an invalid time zone fails closed', { grants: [grant({ timeWindow: { ...officeHours, timeZone: 'Mars/Olympus' } })] }, 'outside_time_window'],
    ['a malformed window fails closed', { grants: [grant({ timeWindow: { ...officeHours, start: '9am' } })] }, 'outside_time_window'],
    ['token needs mcp or api:write to connect', { principal: principal({ kind: 'agent', roles: ['agent'], via: 'api_token', scopes: ['api:read'], groups: [] }), grants: [grant({ subjectKind: 'user', subjectId: U_ALICE })] }, 'token_scope'],
    ['agent token with mcp and a grant connects', { principal: principal({ kind: 'agent', roles: ['agent'], via: 'api_token', scopes: ['mcp'], groups: [], mfa: false }), grants: [grant({ subjectKind: 'user', subjectId: U_ALICE })] }, true],
  ];
  it.each(rows)('%s', (_name, input, expected) => expectDecision({ action: 'connect', asset: ASSET, ...input }, expected));
});

describe('decide(): an agent acting on behalf of an operator may do only what both may', () => {
  const agent = (over: Partial<Principal> = {}): Principal => ({
    kind: 'agent',
    id: U_AGENT,
    name: 'agent',
    roles: ['agent'],
    groups: [],
    via: 'api_token',
    mfa: false,
    scopes: ['mcp'],
    onBehalfOf: { id: U_ALICE, name: 'Alice', roles: ['operator'], groups: [{ id: G_OPS, name: 'ops' }] },
    ...over,
  });
  const agentGrant = grant({ id: 'ga', subjectKind: 'user', subjectId: U_AGENT });
  const rows: Row[] = [
    ['both granted', { principal: agent(), grants: [agentGrant, grant()] }, true],
    ['only the agent granted', { principal: agent(), grants: [agentGrant] }, 'on_behalf_of_denied'],
    ['only the operator granted', { principal: agent(), grants: [grant()] }, 'no_grant'],
    ['operator outside the time window', { principal: agent(), grants: [agentGrant, grant({ timeWindow: officeHours })], now: new Date('2026-01-05T20:00:00Z') }, 'on_behalf_of_denied'],
    ['operator at their concurrency limit', { principal: agent(), grants: [agentGrant, grant({ maxConcurrent: 1 })], activeSessions: 1 }, 'on_behalf_of_denied'],
    ['admin agent for an operator cannot use the admin API', { principal: agent({ roles: ['admin'], scopes: ['api:write'] }), action: 'admin.users.write', asset: undefined }, 'on_behalf_of_denied'],
  ];
  it.each(rows)('%s', (_name, input, expected) => expectDecision({ action: 'connect', asset: ASSET, ...input }, expected));
});

describe('weekly time windows', () => {
  // [window, instant, inside?]
  const berlinDay: TimeWindow = officeHours;
  const rows: Array<[string, TimeWindow, string, boolean]> = [
    ['start is inclusive', berlinDay, '2026-01-05T08:00:00Z', true],
    ['a minute before start', berlinDay, '2026-01-05T07:59:59Z', false],
    ['end is exclusive', berlinDay, '2026-01-05T16:00:00Z', false],
    ['last minute before end', berlinDay, '2026-01-05T15:59:59Z', true],
    // EU summer time began 2026-03-29: 09:00 in Berlin is then 07:00 UTC.
    ['summer: 07:30Z is 09:30 in Berlin', berlinDay, '2026-03-30T07:30:00Z', true],
    ['winter: 07:30Z is 08:30 in Berlin', berlinDay, '2026-03-27T07:30:00Z', false],
    ['summer: 15:30Z is 17:30 in Berlin', berlinDay, '2026-03-30T15:30:00Z', false],
    // Night shift opening Saturday 22:00, closing Sunday 06:00, across the night the clocks go forward.
    ['Saturday 22:00 opens', nightShift, '2026-03-28T21:00:00Z', true],
    ['Saturday 21:59 is before', nightShift, '2026-03-28T20:59:00Z', false],
    ['Sunday 05:30 CEST (03:30Z) still open', nightShift, '2026-03-29T03:30:00Z', true],
    ['Sunday 06:30 CEST (04:30Z) closed', nightShift, '2026-03-29T04:30:00Z', false],
    ['a week earlier, 04:30Z is 05:30 CET: open', nightShift, '2026-03-22T04:30:00Z', true],
    ['Sunday 22:00 does not open (only Saturday is listed)', nightShift, '2026-03-29T20:30:00Z', false],
    ['Friday night does not carry into Saturday morning', nightShift, '2026-03-28T03:00:00Z', false],
    // Autumn: clocks go back 2026-10-25 03:00 CEST → 02:00 CET; both 02:30s are inside a 02:00–03:00 window.
    ['autumn: first 02:30 (CEST)', { timeZone: 'Europe/Berlin', days: [7], start: '02:00', end: '03:00' }, '2026-10-25T00:30:00Z', true],
    ['autumn: second 02:30 (CET)', { timeZone: 'Europe/Berlin', days: [7], start: '02:00', end: '03:00' }, '2026-10-25T01:30:00Z', true],
    ['autumn: 03:00 CET closed', { timeZone: 'Europe/Berlin', days: [7], start: '02:00', end: '03:00' }, '2026-10-25T02:00:00Z', false],
    // Spring: 02:00–03:00 does not exist in Berlin that day; the window is simply never open.
    ['spring: 01:59 CET', { timeZone: 'Europe/Berlin', days: [7], start: '02:00', end: '03:00' }, '2026-03-29T00:59:00Z', false],
    ['spring: 03:00 CEST', { timeZone: 'Europe/Berlin', days: [7], start: '02:00', end: '03:00' }, '2026-03-29T01:00:00Z', false],
    ['end 24:00 covers the last minute', { timeZone: 'UTC', days: [1], start: '20:00', end: '24:00' }, '2026-01-05T23:59:59Z', true],
    ['end 24:00 does not reach Tuesday', { timeZone: 'UTC', days: [1], start: '20:00', end: '24:00' }, '2026-01-06T00:00:00Z', false],
    ['Sunday night shift wraps to Monday morning', { timeZone: 'UTC', days: [7], start: '23:00', end: '01:00' }, '2026-01-05T00:30:00Z', true],
    ['other side of the date line', { timeZone: 'Pacific/Kiritimati', days: [2], start: '00:00', end: '01:00' }, '2026-01-05T10:30:00Z', true],
    ['New York in DST', { timeZone: 'America/New_York', days: [1], start: '09:00', end: '10:00' }, '2026-07-06T13:30:00Z', true],
    ['New York in winter', { timeZone: 'America/New_York', days: [1], start: '09:00', end: '10:00' }, '2026-01-05T13:30:00Z', false],
  ];
  it.each(rows)('%s', (_name, window, instant, inside) => {
    expect(isWithinWindow(window, new Date(instant))).toBe(inside);
    const d = decide({ principal: principal(), action: 'connect', asset: ASSET, grants: [grant({ timeWindow: window })], now: new Date(instant) });
    expect(d.allowed).toBe(inside);
  });

  it('rejects malformed windows (the caller denies)', () => {
    for (const bad of [
      { ...officeHours, days: [] },
      { ...officeHours, days: [0] },
      { ...officeHours, days: [8] },
      { ...officeHours, days: [1, 1] },
      { ...officeHours, start: '24:00' },
      { ...officeHours, end: '17:60' },
      { ...officeHours, end: '09:00' },
      { ...officeHours, timeZone: '' },
      { ...officeHours, extra: true },
    ]) {
      expect(isWithinWindow(bad, MONDAY_10Z)).toHaveProperty('invalid');
    }
  });
});

describe('deny is the default (randomized)', () => {
  it('allows only what a matching grant or role permission allows, for 5000 random inputs', () => {
    const rnd = seeded(20260105);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
    const ids = [U_ALICE, U_AGENT, G_OPS, G_OTHER];
    const actions = [...PERMISSIONS, 'connect', 'watch', 'replay', 'nonsense'] as const;
    let allowed = 0;
    for (let i = 0; i < 5000; i++) {
      const roles = ROLES.filter(() => rnd() < 0.3);
      const p = principal({
        id: pick([U_ALICE, U_AGENT]),
        roles,
        groups: rnd() < 0.5 ? [{ id: pick([G_OPS, G_OTHER]), name: 'g' }] : [],
        via: pick(['session', 'api_token', 'cli'] as const),
        mfa: rnd() < 0.7,
        scopes: rnd() < 0.5 ? undefined : ['mcp', 'api:read', 'api:write'].filter(() => rnd() < 0.5),
      });
      const grants: Grant[] = Array.from({ length: Math.floor(rnd() * 3) }, (_, n) =>
        grant({
          id: `g${n}`,
          subjectKind: pick(['user', 'group'] as const),
          subjectId: pick(ids),
          assetId: pick([ASSET.id, 'other']),
          actions: (['connect', 'watch', 'replay'] as const).filter(() => rnd() < 0.5),
          timeWindow: rnd() < 0.3 ? officeHours : null,
          maxConcurrent: rnd() < 0.3 ? 1 + Math.floor(rnd() * 2) : null,
        }),
      );
      const action = pick(actions);
      const now = new Date(Date.UTC(2026, 0, 1) + Math.floor(rnd() * 366 * 86_400_000));
      const input: DecisionInput = { principal: p, action: action as never, asset: rnd() < 0.9 ? ASSET : undefined, grants, now, activeSessions: Math.floor(rnd() * 3) };
      const d = decide(input);
      if (!d.allowed) {
        expect(d.reason).toMatch(/^[a-z_]+$/);
        continue;
      }
      allowed++;
      // Every allow has a witness: a role permission, or a grant of this action on this asset to the caller now.
      if (action === 'connect' || action === 'watch' || action === 'replay') {
        const viaRole = action === 'replay' && p.roles.some((r) => (ROLE_PERMISSIONS[r] as readonly string[]).includes('recordings.replay'));
        const witness = grants.some(
          (g) =>
            g.assetId === ASSET.id &&
            g.actions.includes(action) &&
            ((g.subjectKind === 'user' && g.subjectId === p.id) || (g.subjectKind === 'group' && p.groups.some((x) => x.id === g.subjectId))) &&
            (g.timeWindow === null || isWithinWindow(g.timeWindow, now) === true) &&
            (action !== 'connect' || g.maxConcurrent === null || input.activeSessions! < g.maxConcurrent),
        );
        expect(input.asset, 'asset actions need an asset').toBeDefined();
        expect(viaRole || witness, JSON.stringify(input)).toBe(true);
      } else {
        expect(action).not.toBe('nonsense');
        expect(p.roles.some((r) => (ROLE_PERMISSIONS[r] as readonly string[]).includes(action))).toBe(true);
        if (p.via === 'session' && !p.mfa) expect(p.roles.some((r) => r === 'admin' || r === 'auditor')).toBe(false);
      }
      if (p.scopes !== undefined) expect(p.scopes.length).toBeGreaterThan(0);
    }
    // The generator is not degenerate: some inputs are allowed, most are not.
    expect(allowed).toBeGreaterThan(100);
    expect(allowed).toBeLessThan(2500);
  });

  it('never reads the clock: the same input gives the same answer', () => {
    const input: DecisionInput = { principal: principal(), action: 'connect', asset: ASSET, grants: [grant({ timeWindow: officeHours })], now: MONDAY_10Z };
    expect(decide(input)).toEqual(decide(structuredClone(input)));
  });
});

function expectDecision(partial: Partial<DecisionInput>, expected: true | string): void {
  const input: DecisionInput = { principal: principal(), action: 'audit.read', now: MONDAY_10Z, ...partial };
  const d = decide(input);
  if (expected === true) expect(d).toMatchObject({ allowed: true });
  else expect(d).toMatchObject({ allowed: false, reason: expected });
}

/** mulberry32: a small seeded generator, so a failure reproduces. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('decide(): passing a reverse proxy (ForwardAuth)', () => {
  const rule = (over: Partial<NonNullable<DecisionInput['host']>> = {}) => ({ rule: 'app.example.com', groups: ['ops'], roles: [], anySignedInUser: false, ...over });
  const rows: Row[] = [
    ['member of a required group passes', { principal: principal(), host: rule() }, true],
    ['no rule for the host: denied', { principal: principal(), host: null }, 'no_host_rule'],
    ['not in the group', { principal: principal({ groups: [{ id: G_OTHER, name: 'sales' }] }), host: rule() }, 'not_in_group'],
    ['group and role both needed', { principal: principal(), host: rule({ roles: ['auditor'] }) }, 'missing_role'],
    ['role rule', { principal: principal({ roles: ['auditor'], groups: [] }), host: rule({ groups: [], roles: ['auditor'] }) }, true],
    ['a rule naming nothing lets nobody through', { principal: principal(), host: rule({ groups: [] }) }, 'no_host_rule'],
    ['explicitly open to anyone signed in', { principal: principal({ groups: [] }), host: rule({ groups: [], anySignedInUser: true }) }, true],
    ['admin web session without MFA', { principal: principal({ roles: ['admin'], mfa: false }), host: rule() }, 'mfa_required'],
    ['an mcp-only token does not pass a proxy', { principal: principal({ kind: 'agent', roles: ['agent'], via: 'api_token', scopes: ['mcp'] }), host: rule() }, 'token_scope'],
    [
      'an agent for an operator outside the group',
      {
        principal: principal({ kind: 'agent', id: U_AGENT, roles: ['agent'], via: 'api_token', scopes: ['api:read'], onBehalfOf: { id: U_ALICE, name: 'Alice', roles: ['operator'], groups: [] } }),
        host: rule(),
      },
      'on_behalf_of_denied',
    ],
  ];
  for (const [name, input, expected] of rows) {
    it(name, () => {
      const decision = decide({ principal: principal(), action: 'proxy.pass', now: MONDAY_10Z, ...input });
      if (expected === true) expect(decision).toMatchObject({ allowed: true });
      else expect(decision).toMatchObject({ allowed: false, reason: expected });
    });
  }
});
