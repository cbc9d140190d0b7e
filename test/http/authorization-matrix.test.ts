import { randomUUID } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Permission } from '../../src/access/index.js';
import { routeTableOf, type RouteEntry } from '../../src/http/index.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { anonymous, call, CLI, sessionCaller, tokenCaller, type Caller } from './admin-callers.js';

/**
 * Every route of the real server × every kind of caller × their own or
 * someone else's resource. The table below is keyed by route; a route that
 * is not in it (or whose declared access differs from the table) fails, so a
 * new route cannot ship without someone deciding who may call it.
 */

type CallerName = 'anonymous' | 'operator' | 'auditor' | 'admin' | 'agentToken' | 'adminWrongScope';
const CALLERS: readonly CallerName[] = ['anonymous', 'operator', 'agentToken', 'adminWrongScope', 'auditor', 'admin'];

/** Who holds each permission. Written out, not derived from ROLE_PERMISSIONS: widening a role must fail here first. */
const WHO_MAY: Record<Permission, readonly CallerName[]> = {
  'audit.read': ['auditor', 'admin'],
  'audit.export': ['auditor', 'admin'],
  'admin.users.read': ['auditor', 'admin'],
  'admin.users.write': ['admin'],
  'admin.policy.read': ['auditor', 'admin'],
  'admin.policy.write': ['admin'],
  'admin.sessions.read': ['auditor', 'admin'],
  'admin.sessions.revoke': ['admin'],
  'admin.tokens.read': ['admin'],
  'admin.tokens.write': ['admin'],
  'admin.vault.read': ['admin'],
  'admin.vault.write': ['admin'],
  'admin.recordings.write': ['admin'],
  'recordings.replay': ['auditor', 'admin'],
};

/** The resources one route is exercised on, made fresh for each route. */
interface Fixtures {
  callers: Record<CallerName, Caller & { sessionId?: string | undefined }>;
  victim: { userId: string; sessionId: string; caller: Caller };
  groupId: string;
  assetId: string;
  permissionId: string;
  tokenId: string;
  /** Browser-session rows (live on another node, so no browser is started here): each signed-in caller's own, and the victim's. */
  browserSessions: Partial<Record<CallerName, string>> & { victim: string };
  /** A sealed recording of the victim's session on the asset (made only for the recording routes). */
  recordingId: string;
}

type Params = (fx: Fixtures, who: CallerName) => { own?: Record<string, string> | undefined; other: Record<string, string> };

interface Expectation {
  /** Must equal the route's declared `config.access`. */
  rule: 'public' | 'authenticated' | Permission;
  params?: Params;
  body?: (fx: Fixtures) => unknown;
  /** Public routes: the status each caller gets (they run for everyone; what they answer is their business). */
  statuses?: Partial<Record<CallerName, number>> & { default?: number };
  /** Own-resource routes: what an allowed caller gets on someone else's resource (it must not act on it). */
  otherStatus?: number;
  /** The same, per caller, where roles differ (an administrator may read or end anyone's browser session). */
  otherStatusBy?: Partial<Record<CallerName, number>>;
  /** Statuses an allowed caller may get besides 2xx (the sample input may be refused by the route's own rules). */
  allowedAlso?: number[];
  /** Exact statuses for callers the route itself turns away after access allowed them (e.g. browser-only routes). */
  routeRefuses?: Partial<Record<CallerName, number>>;
}

const ownUser: Params = (fx, who) => ({ own: fx.callers[who].userId ? { id: fx.callers[who].userId } : undefined, other: { id: fx.victim.userId } });
const group: Params = (fx) => ({ other: { id: fx.groupId } });
const asset: Params = (fx) => ({ other: { id: fx.assetId } });
const permission: Params = (fx) => ({ other: { id: fx.permissionId } });
const member: Params = (fx, who) => ({
  own: fx.callers[who].userId ? { id: fx.groupId, userId: fx.callers[who].userId } : undefined,
  other: { id: fx.groupId, userId: fx.victim.userId },
});
const token: Params = (fx) => ({ other: { id: fx.tokenId } });
const vaultEntry: Params = () => ({ other: { id: 'matrix-entry' } });
const ENROLMENT_TOKEN = 'x'.repeat(43);
const enrolment: Params = () => ({ other: { token: ENROLMENT_TOKEN } });
/** A file of the built UI (test/support/build-ui.ts builds it before the run). */
const uiFile: Params = () => ({ other: { file: readdirSync(new URL('../../web/app/dist/assets/', import.meta.url)).find((name) => name.endsWith('.js'))! } });
const browserSession: Params = (fx, who) => ({ own: fx.browserSessions[who] ? { id: fx.browserSessions[who] } : undefined, other: { id: fx.browserSessions.victim } });
/** A file of a browser session (a download kept, a file chooser): the session as above, the file's id made up. */
const sessionFile =
  (name: 'downloadId' | 'chooserId'): Params =>
  (fx, who) => {
    const { own, other } = browserSession(fx, who);
    const file = { [name]: '00000000-0000-4000-8000-000000000000' };
    return { own: own ? { ...own, ...file } : undefined, other: { ...other, ...file } };
  };
const recording: Params = (fx) => ({ other: { id: fx.recordingId } });
/** Operators and agents of the matrix hold `connect` on the asset, not `replay`: one recording is not found, the list is forbidden. */
const noReplayGrant = { operator: 404, agentToken: 404 } as const;

const TABLE: Record<string, Expectation> = {
  'GET /healthz': { rule: 'public', statuses: { default: 200 } },
  'GET /readyz': { rule: 'public', statuses: { default: 200 } },
  // No per-host rules are configured: deny by default, after identifying the caller.
  'GET /authz': { rule: 'public', statuses: { anonymous: 401, default: 403 } },
  'GET /auth/oidc/login': { rule: 'public', statuses: { default: 404 } },
  'GET /auth/oidc/callback': { rule: 'public', statuses: { default: 404 } },
  'GET /auth/oidc/logged-out': { rule: 'public', statuses: { default: 200 } },
  'POST /api/auth/login': { rule: 'public', body: () => ({ username: 'nobody', password: 'not the password at all' }), statuses: { default: 401 } },
  'POST /api/auth/login/mfa': { rule: 'public', body: () => ({ code: '000000' }), statuses: { default: 401 } },
  'POST /api/auth/login/enrol/totp/start': { rule: 'public', body: () => ({}), statuses: { default: 401 } },
  'POST /api/auth/login/enrol/totp/confirm': { rule: 'public', body: () => ({ code: '000000' }), statuses: { default: 401 } },
  'GET /api/auth/enrolment/:token': { rule: 'public', params: enrolment, statuses: { default: 404 } },
  'POST /api/auth/enrolment/:token/password': { rule: 'public', params: enrolment, body: () => ({ password: 'a long enough passphrase 1' }), statuses: { default: 404 } },
  'POST /api/auth/enrolment/:token/totp/start': { rule: 'public', params: enrolment, body: () => ({}), statuses: { default: 404 } },
  'POST /api/auth/enrolment/:token/totp/confirm': { rule: 'public', params: enrolment, body: () => ({ code: '000000' }), statuses: { default: 404 } },

  'GET /api/auth/session': { rule: 'authenticated' },
  'POST /api/auth/logout': { rule: 'authenticated', allowedAlso: [400] },
  'POST /api/auth/logout-all': { rule: 'authenticated', allowedAlso: [400] },
  'GET /api/auth/sessions': { rule: 'authenticated', allowedAlso: [400] },
  'DELETE /api/auth/sessions/:id': {
    rule: 'authenticated',
    params: (fx, who) => ({ own: fx.callers[who].sessionId ? { id: fx.callers[who].sessionId } : undefined, other: { id: fx.victim.sessionId } }),
    otherStatus: 404,
    allowedAlso: [400],
  },
  'POST /api/auth/mfa/totp/start': { rule: 'authenticated', body: () => ({}), allowedAlso: [400, 409], routeRefuses: { agentToken: 403 } },
  'POST /api/auth/mfa/totp/confirm': { rule: 'authenticated', body: () => ({ code: '000000' }), allowedAlso: [400, 409], routeRefuses: { agentToken: 403 } },
  'POST /api/auth/mfa/recovery-codes': { rule: 'authenticated', body: () => ({}), allowedAlso: [400, 409] },

  'GET /api/audit': { rule: 'audit.read' },
  // The matrix sends no `format`: 400 for everyone the route access lets through (downloads are tested in audit-export-api.test.ts).
  'GET /api/audit/export': { rule: 'audit.export', routeRefuses: { auditor: 400, admin: 400 } },
  'GET /api/audit/verification': { rule: 'audit.read' },
  'POST /api/audit/verification': { rule: 'audit.read' },

  'GET /api/admin/users': { rule: 'admin.users.read' },
  'GET /api/admin/users/:id': { rule: 'admin.users.read', params: ownUser },
  'POST /api/admin/users': { rule: 'admin.users.write', body: () => ({ username: `new-${Math.random().toString(36).slice(2, 10)}`, roles: ['operator'] }) },
  'PATCH /api/admin/users/:id': { rule: 'admin.users.write', params: ownUser, body: () => ({ displayName: 'Renamed' }) },
  'DELETE /api/admin/users/:id': { rule: 'admin.users.write', params: ownUser, allowedAlso: [404, 409] },
  'POST /api/admin/users/:id/disable': { rule: 'admin.users.write', params: ownUser, body: () => ({ reason: 'matrix' }), allowedAlso: [404, 409] },
  'POST /api/admin/users/:id/enable': { rule: 'admin.users.write', params: ownUser, allowedAlso: [404] },
  'POST /api/admin/users/:id/reset-mfa': { rule: 'admin.users.write', params: ownUser, allowedAlso: [404, 409] },
  'GET /api/admin/users/:id/sessions': { rule: 'admin.sessions.read', params: ownUser, allowedAlso: [404] },
  'DELETE /api/admin/users/:id/sessions': { rule: 'admin.sessions.revoke', params: ownUser, allowedAlso: [404] },

  'GET /api/admin/groups': { rule: 'admin.policy.read' },
  'GET /api/admin/groups/:id': { rule: 'admin.policy.read', params: group },
  'POST /api/admin/groups': { rule: 'admin.policy.write', body: () => ({ name: `g-${Math.random().toString(36).slice(2, 10)}` }) },
  'PATCH /api/admin/groups/:id': { rule: 'admin.policy.write', params: group, body: () => ({ description: 'changed' }) },
  'DELETE /api/admin/groups/:id': { rule: 'admin.policy.write', params: group, allowedAlso: [404] },
  'GET /api/admin/groups/:id/members': { rule: 'admin.policy.read', params: group },
  'POST /api/admin/groups/:id/members': { rule: 'admin.policy.write', params: group, body: (fx) => ({ userId: fx.victim.userId }), allowedAlso: [409] },
  'DELETE /api/admin/groups/:id/members/:userId': { rule: 'admin.policy.write', params: member, allowedAlso: [404] },

  'GET /api/admin/assets': { rule: 'admin.policy.read' },
  'GET /api/admin/assets/:id': { rule: 'admin.policy.read', params: asset },
  'POST /api/admin/assets': { rule: 'admin.policy.write', body: () => ({ id: `a-${Math.random().toString(36).slice(2, 10)}`, name: 'A', url: 'https://a.example.com/' }) },
  'PATCH /api/admin/assets/:id': { rule: 'admin.policy.write', params: asset, body: () => ({ name: 'Renamed' }) },
  'DELETE /api/admin/assets/:id': { rule: 'admin.policy.write', params: asset, allowedAlso: [404] },
  // The matrix's asset names no vault entry: no login to test (409); tests run in admin-test-login.test.ts.
  'POST /api/admin/assets/:id/test-login': { rule: 'admin.policy.write', params: asset, allowedAlso: [409] },
  'GET /api/admin/alerts': { rule: 'audit.read' },

  'GET /api/admin/permissions': { rule: 'admin.policy.read' },
  'GET /api/admin/permissions/:id': { rule: 'admin.policy.read', params: permission },
  'POST /api/admin/permissions': { rule: 'admin.policy.write', body: (fx) => ({ subjectKind: 'user', subjectId: fx.victim.userId, assetId: fx.assetId, actions: ['watch'] }), allowedAlso: [409] },
  'PATCH /api/admin/permissions/:id': { rule: 'admin.policy.write', params: permission, body: () => ({ maxConcurrent: 3 }) },
  'DELETE /api/admin/permissions/:id': { rule: 'admin.policy.write', params: permission, allowedAlso: [404] },

  'GET /api/admin/tokens': { rule: 'admin.tokens.read' },
  'GET /api/admin/tokens/:id': { rule: 'admin.tokens.read', params: token },
  'POST /api/admin/tokens': { rule: 'admin.tokens.write', body: () => ({ name: 'matrix', role: 'auditor' }), allowedAlso: [400] },
  'DELETE /api/admin/tokens/:id': { rule: 'admin.tokens.write', params: token, allowedAlso: [404] },

  'GET /api/admin/vault': { rule: 'admin.vault.read' },
  'GET /api/admin/vault/:id': { rule: 'admin.vault.read', params: vaultEntry, allowedAlso: [404] },
  'GET /api/admin/vault/:id/history': { rule: 'admin.vault.read', params: vaultEntry, allowedAlso: [404] },
  'PUT /api/admin/vault/:id': { rule: 'admin.vault.write', params: vaultEntry, body: () => ({ fields: { username: 'matrix', password: 'matrix password' } }) },
  'DELETE /api/admin/vault/:id': { rule: 'admin.vault.write', params: vaultEntry, allowedAlso: [404] },
  'GET /api/admin/vault/:id/reference': { rule: 'admin.vault.read', params: vaultEntry, allowedAlso: [404] },
  'PUT /api/admin/vault/:id/reference': { rule: 'admin.vault.write', params: vaultEntry, body: () => ({ provider: 'infisical', projectId: 'p1', environment: 'prod', keys: { password: 'PORTAL_PASSWORD' } }) },
  'DELETE /api/admin/vault/:id/reference': { rule: 'admin.vault.write', params: vaultEntry, allowedAlso: [404] },

  // Live view (the socket itself is tested in live-view*.test.ts): a plain GET without an upgrade is refused by the route.
  'GET /api/sessions/:id/live': { rule: 'authenticated', allowedAlso: [400] },
  'GET /sessions/:id/view': { rule: 'authenticated', routeRefuses: { adminWrongScope: 403 } },

  // Browser sessions: the sessions module decides. No grant on this asset: every start is refused (starts are tested in sessions*.test.ts).
  'POST /api/sessions': { rule: 'authenticated', body: () => ({ assetId: 'matrix-no-grant' }), allowedAlso: [403] },
  'GET /api/sessions': { rule: 'authenticated' },
  'GET /api/sessions/:id': { rule: 'authenticated', params: browserSession, otherStatusBy: { operator: 404, agentToken: 404, auditor: 200, admin: 200 } },
  'DELETE /api/sessions/:id': { rule: 'authenticated', params: browserSession, otherStatusBy: { operator: 404, agentToken: 404, auditor: 403, admin: 200 } },
  // Files of a session: its owner only, on the node holding it (the fixtures' sessions live on another node: 404 for the owner too).
  'GET /api/sessions/:id/downloads/:downloadId': { rule: 'authenticated', params: sessionFile('downloadId'), otherStatus: 404, allowedAlso: [404] },
  'POST /api/sessions/:id/uploads/:chooserId': { rule: 'authenticated', params: sessionFile('chooserId'), body: () => ({}), otherStatus: 404, allowedAlso: [404] },
  'DELETE /api/sessions/:id/uploads/:chooserId': { rule: 'authenticated', params: sessionFile('chooserId'), otherStatus: 404, allowedAlso: [404] },
  'GET /viewer/viewer.js': { rule: 'public', statuses: { default: 200 } },
  'GET /viewer/viewer.css': { rule: 'public', statuses: { default: 200 } },
  'GET /viewer/letterbox.js': { rule: 'public', statuses: { default: 200 } },

  // The web UI: its page at each client route and its hashed files, the same for everyone; what it may see comes from the API.
  'GET /': { rule: 'public', statuses: { default: 200 } },
  'GET /sign-in': { rule: 'public', statuses: { default: 200 } },
  'GET /enrol': { rule: 'public', statuses: { default: 200 } },
  'GET /my-sessions': { rule: 'public', statuses: { default: 200 } },
  // The auditor's desk: the page is the same for everyone; its searches need audit.read and replay (GET /api/audit, GET /api/recordings).
  'GET /audit': { rule: 'public', statuses: { default: 200 } },
  'GET /recordings': { rule: 'public', statuses: { default: 200 } },
  // The administrator's console: the page is the same for everyone; every change it makes goes through /api/admin and /api/sessions.
  'GET /admin': { rule: 'public', statuses: { default: 200 } },
  // The live view page of a session: the same page for everyone; the session itself comes from GET /api/sessions/:id and its socket.
  'GET /sessions/:id': { rule: 'public', statuses: { default: 200 } },
  'GET /ui/assets/:file': { rule: 'public', params: uiFile, statuses: { default: 200 } },
  'GET /api/auth/options': { rule: 'public', statuses: { default: 200 } },
  // The launcher's list: the access module decides what each caller sees (test/e2e/web-ui.test.ts, test/access/access.test.ts).
  'GET /api/assets': { rule: 'authenticated' },

  // Recordings: replay is decided by the access module (auditors and administrators replay all; others need `replay` on the asset).
  'GET /api/recordings': { rule: 'authenticated', routeRefuses: { operator: 403, agentToken: 403 } },
  'GET /api/recordings/:id': { rule: 'authenticated', params: recording, routeRefuses: noReplayGrant },
  'GET /api/recordings/:id/frames': { rule: 'authenticated', params: recording, routeRefuses: noReplayGrant },
  // The matrix's recording has events only: "no frame" (404) for whoever may replay it.
  'GET /api/recordings/:id/frame': { rule: 'authenticated', params: recording, routeRefuses: noReplayGrant, allowedAlso: [404] },
  'GET /api/recordings/:id/manifest': { rule: 'authenticated', params: recording, routeRefuses: noReplayGrant },
  'GET /api/recordings/:id/evidence': { rule: 'authenticated', params: recording, routeRefuses: noReplayGrant },
  'GET /recordings/:id/replay': { rule: 'authenticated', params: recording, routeRefuses: { ...noReplayGrant, adminWrongScope: 403 } },
  // The matrix sends no `format`: 400 for everyone the route access lets through (exports are tested in recordings-export.test.ts).
  'GET /api/recordings/:id/export': { rule: 'authenticated', params: recording, allowedAlso: [400], routeRefuses: { operator: 400, agentToken: 400 } },
  'POST /api/recordings/:id/legal-hold': { rule: 'admin.recordings.write', params: recording, body: () => ({ hold: true, reason: 'matrix' }) },
  // The matrix sends no body with DELETE: the reason is required (400); with one it is deleted (tested in recordings.test.ts).
  'DELETE /api/recordings/:id': { rule: 'admin.recordings.write', params: recording, allowedAlso: [400] },
  'GET /replay/replay.js': { rule: 'public', statuses: { default: 200 } },
  'GET /replay/messages.js': { rule: 'public', statuses: { default: 200 } },
  // MCP: bearer tokens with the `mcp` scope only (a web session is answered 401). The matrix's empty body is not JSON-RPC (400/406);
  // GET and DELETE are 405 (stateless server). The protocol itself is tested in test/mcp/.
  'POST /mcp': { rule: 'authenticated', allowedAlso: [400, 406], routeRefuses: { operator: 401, auditor: 401, admin: 401 } },
  'GET /mcp': { rule: 'authenticated', allowedAlso: [405], routeRefuses: { operator: 401, auditor: 401, admin: 401 } },
  'DELETE /mcp': { rule: 'authenticated', allowedAlso: [405], routeRefuses: { operator: 401, auditor: 401, admin: 401 } },
  'GET /.well-known/oauth-protected-resource/mcp': { rule: 'public', statuses: { default: 200 } },
  'GET /.well-known/oauth-protected-resource': { rule: 'public', statuses: { default: 200 } },

  'GET /replay/replay.css': { rule: 'public', statuses: { default: 200 } },
};

describe('authorization matrix: every route × caller × own or other resource', () => {
  let ts: TestServer;
  let routes: RouteEntry[];
  let withHead: Set<string>;
  let serial = 0;

  beforeAll(async () => {
    // Rate limits would answer 429 long before the matrix is through; they have their own tests.
    ts = await startTestServer({ WEBASSET_API_RATE_LIMIT: '1000000', WEBASSET_SIGNIN_IP_LIMIT: '100000', WEBASSET_AUTH_FAILURE_LIMIT: '10000' });
    // HEAD routes are Fastify's automatic twins of GET routes: they are checked with the GET entry.
    const all = routeTableOf(ts.server.http);
    routes = all.filter((r) => r.method !== 'HEAD' && r.method !== 'OPTIONS');
    // A download that runs (and audits) an export declines its twin (exposeHeadRoute: false).
    withHead = new Set(all.filter((r) => r.method === 'HEAD').map((r) => r.url));
  });
  afterAll(async () => {
    await ts?.stop();
  });

  it('has an expectation for every route, with the same access rule the route declares', () => {
    expect(routes.length).toBeGreaterThan(20);
    const problems: string[] = [];
    for (const route of routes) {
      const key = `${route.method} ${route.url}`;
      const entry = TABLE[key];
      if (!entry) {
        problems.push(`${key}: not in the authorization matrix table`);
        continue;
      }
      const declared = route.access?.kind === 'permission' ? route.access.permission : route.access?.kind;
      if (declared !== entry.rule) problems.push(`${key}: declares ${String(declared)}, the table says ${entry.rule}`);
    }
    const live = new Set(routes.map((r) => `${r.method} ${r.url}`));
    for (const key of Object.keys(TABLE)) if (!live.has(key)) problems.push(`${key}: in the table but not a route`);
    expect(problems).toEqual([]);
  });

  async function fixtures(key: string): Promise<Fixtures> {
    const n = ++serial;
    const make = async (name: CallerName): Promise<Caller & { sessionId?: string }> => {
      switch (name) {
        case 'anonymous':
          return anonymous;
        case 'operator':
          return sessionCaller(ts, `m${n}-operator`, ['operator']);
        case 'auditor':
          return sessionCaller(ts, `m${n}-auditor`, ['auditor']);
        case 'admin':
          return sessionCaller(ts, `m${n}-admin`, ['admin']);
        case 'agentToken':
          return tokenCaller(ts, `m${n}-agent`, 'agent');
        case 'adminWrongScope':
          return tokenCaller(ts, `m${n}-admin-mcp`, 'admin', ['mcp']);
      }
    };
    const callers = {} as Fixtures['callers'];
    for (const name of CALLERS) callers[name] = await make(name);
    for (const name of CALLERS) {
      const c = callers[name];
      if (c.userId) c.sessionId = (await ts.services.sessions.listForUser(c.userId))[0]?.sessionId;
    }
    const victimCaller = await sessionCaller(ts, `m${n}-victim`, ['operator']);
    const victimSession = (await ts.services.sessions.listForUser(victimCaller.userId!))[0]!.sessionId;
    const g = await ts.services.groups.create({ name: `m${n}-group` }, CLI);
    for (const name of CALLERS) if (callers[name].userId) await ts.services.groups.addMember(g.id, callers[name].userId, CLI);
    await ts.services.groups.addMember(g.id, victimCaller.userId!, CLI);
    const a = await ts.services.assets.create({ id: `m${n}-asset`, name: 'Asset', url: `https://m${n}.example.com/` }, CLI);
    const p = await ts.services.grants.create({ subjectKind: 'group', subjectId: g.id, assetId: a.id, actions: ['connect'] }, CLI);
    const t = await ts.services.tokens.create({ name: `m${n}-victim-token`, role: 'auditor', createdBy: CLI });
    const browserRow = async (userId: string) => {
      const id = randomUUID();
      await ts.services.database.db
        .insertInto('browser_sessions')
        .values({ id, asset_id: a.id, user_id: userId, principal_kind: 'user', state: 'active', end_reason: null, end_message: null, created_at_ms: Date.now(), active_at_ms: Date.now(), ended_at_ms: null, last_input_at_ms: Date.now(), node_id: 'matrix-other-node', credential: null })
        .execute();
      return id;
    };
    const browserSessions: Fixtures['browserSessions'] = { victim: await browserRow(victimCaller.userId!) };
    for (const name of CALLERS) {
      const userId = callers[name].userId;
      if (userId) browserSessions[name] = await browserRow(userId);
    }
    let recordingId = '';
    if (key.includes('/recordings')) {
      const recorder = await ts.services.recordings.begin({ sessionId: browserSessions.victim, assetId: a.id, userId: victimCaller.userId!, retentionDays: 30 });
      recorder.event({ type: 'navigated', tabId: 't1', url: `https://m${n}.example.com/`, title: 'Matrix' });
      await recorder.seal({ complete: true });
      recordingId = recorder.recordingId;
    }
    return {
      callers,
      victim: { userId: victimCaller.userId!, sessionId: victimSession, caller: victimCaller },
      recordingId,
      groupId: g.id,
      assetId: a.id,
      permissionId: p.id,
      tokenId: t.id,
      browserSessions,
    };
  }

  async function sideEffects(): Promise<number> {
    await ts.services.audit.trail.flush();
    const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM audit_events WHERE action NOT LIKE 'auth.%' AND action NOT IN ('audit.read', 'session.rotated')`.execute(ts.services.database.db);
    return rows[0]!.n;
  }

  const isAllowed = (entry: Expectation, who: CallerName, url: string): boolean => {
    if (entry.rule === 'public') return true;
    if (who === 'anonymous') return false;
    // A token limited to `mcp` is refused everywhere under /api.
    if (who === 'adminWrongScope' && url.startsWith('/api/')) return false;
    if (entry.rule === 'authenticated') return true;
    return WHO_MAY[entry.rule].includes(who);
  };

  // One test per route, so a failure names it and no test runs long.
  describe.each(Object.keys(TABLE))('%s', (key) => {
    it('answers every caller as the table says, and a refused call changes nothing', async () => {
      const failures: string[] = [];
      const [method0, url] = key.split(' ') as [string, string];
      const route = { method: method0, url };
      const entry = TABLE[key]!;
      const fx = await fixtures(key);
      for (const who of CALLERS) {
        const sets = entry.params ? entry.params(fx, who) : { other: {} };
        // Someone else's first: acting on one's own resource may end one's own session (delete, disable, sign out).
        const variants: Array<['own' | 'other', Record<string, string>]> = [['other', sets.other]];
        if (sets.own) variants.push(['own', sets.own]);
        for (const [whose, params] of variants) {
          const path = route.url.replace(/:(\w+)/g, (_, name: string) => encodeURIComponent(params[name] ?? 'missing'));
          const methods = route.method === 'GET' && withHead.has(route.url) ? ['GET', 'HEAD'] : [route.method];
          for (const method of methods) {
            const failure = await check(entry, fx, who, whose, method, path, route.url);
            if (failure) failures.push(failure);
          }
        }
      }
      // Nobody ended the victim's session through their own-session routes.
      if (key === 'DELETE /api/auth/sessions/:id' && (await call(ts, fx.victim.caller, 'GET', '/api/auth/session')).status !== 200) {
        failures.push(`${key}: someone else's call ended the victim's session`);
      }
      expect(failures).toEqual([]);
    });
  });

  async function check(entry: Expectation, fx: Fixtures, who: CallerName, whose: 'own' | 'other', method: string, path: string, url: string): Promise<string | undefined> {
    const allowed = isAllowed(entry, who, url);
    const before = allowed ? 0 : await sideEffects();
    const send = () => call(ts, fx.callers[who], method, path, method === 'GET' || method === 'HEAD' || method === 'DELETE' ? undefined : (entry.body?.(fx) ?? {}));
    let res = await send();
    // GET /authz sheds load by design (503 server_busy) when the machine is busy running other suites: that is not an answer about access.
    for (let attempt = 0; attempt < 20 && res.status === 503 && url === '/authz'; attempt++) {
      await new Promise((r) => setTimeout(r, 250));
      res = await send();
    }
    const label = `${method} ${url} as ${who} (${whose}): ${res.status} ${res.text.slice(0, 160)}`;
    if (res.status >= 500) return `${label}; a server error`;
    if (entry.rule === 'public') {
      const want = entry.statuses?.[who] ?? entry.statuses?.default;
      return want !== undefined && res.status !== want ? `${label}; expected ${want}` : undefined;
    }
    if (!allowed) {
      const want = who === 'anonymous' ? 401 : 403;
      if (res.status !== want) return `${label}; expected ${want}`;
      return (await sideEffects()) !== before ? `${label}; a refused call changed something` : undefined;
    }
    const otherStatus = entry.otherStatusBy?.[who] ?? entry.otherStatus;
    if (whose === 'other' && otherStatus !== undefined) {
      return res.status !== otherStatus ? `${label}; expected ${otherStatus} on someone else's resource` : undefined;
    }
    const refused = entry.routeRefuses?.[who];
    if (refused !== undefined) return res.status !== refused ? `${label}; expected ${refused} from the route itself` : undefined;
    const ok = (res.status >= 200 && res.status < 300) || (entry.allowedAlso ?? []).includes(res.status);
    return ok ? undefined : `${label}; expected 2xx${entry.allowedAlso ? ` or ${entry.allowedAlso.join('/')}` : ''}`;
  }
});

/** SQL and script payloads in every field of every admin body: refused with 4xx, or stored verbatim and returned as JSON. */
describe('hostile text in every field of admin bodies', () => {
  const PAYLOADS = [
    "'; DROP TABLE users; --",
    "' OR '1'='1",
    '"); DELETE FROM groups; --',
    '<script>alert(1)</script>',
    '"><img src=x onerror=alert(1)>',
    '{{7*7}}${7*7}',
    '../../../../etc/passwd',
    'ünïcödé ✓ \u202e',
    'line\nbreak',
    '\u0000nul',
  ];
  let ts: TestServer;
  let admin: Caller;
  let userId: string;
  let groupId: string;
  beforeAll(async () => {
    ts = await startTestServer({ WEBASSET_API_RATE_LIMIT: '1000000' });
    admin = await sessionCaller(ts, 'payload-admin', ['admin']);
    userId = (await ts.services.users.create({ username: 'payload-target', source: 'local' }, CLI)).id;
    groupId = (await ts.services.groups.create({ name: 'payload-group' }, CLI)).id;
    await ts.services.assets.create({ id: 'payload-asset', name: 'P', url: 'https://p.example.com/' }, CLI);
  });
  afterAll(async () => {
    await ts?.stop();
  });

  async function lastDisableReason(): Promise<string | undefined> {
    await ts.services.audit.trail.flush();
    const { rows } = await sql<{ details: string }>`SELECT details FROM audit_events WHERE action = 'user.disabled' ORDER BY seq DESC LIMIT 1`.execute(ts.services.database.db);
    return rows[0] ? (JSON.parse(rows[0].details) as { reason?: string }).reason : undefined;
  }

  async function counts(): Promise<string> {
    const { rows } = await sql<{ t: string; n: number }>`
      SELECT 'users' AS t, count(*)::int AS n FROM users UNION ALL SELECT 'groups', count(*)::int FROM groups
      UNION ALL SELECT 'members', count(*)::int FROM group_members UNION ALL SELECT 'assets', count(*)::int FROM assets
      UNION ALL SELECT 'permissions', count(*)::int FROM permissions`.execute(ts.services.database.db);
    return rows.map((r) => `${r.t}=${r.n}`).join(' ');
  }

  /** [method, path, body with PAYLOAD where a field goes, where to read it back, the field to compare]. */
  const bodies = (p: string): Array<{ method: string; path: string; body: Record<string, unknown>; read?: (json: unknown) => string | undefined | Promise<string | undefined> }> => {
    const unique = Math.random().toString(36).slice(2, 8);
    return [
      { method: 'POST', path: '/api/admin/users', body: { username: p } },
      { method: 'POST', path: '/api/admin/users', body: { username: `u${unique}`, displayName: p }, read: (j) => (j as { user: { displayName: string } }).user.displayName },
      { method: 'POST', path: '/api/admin/users', body: { username: `e${unique}`, email: p } },
      { method: 'PATCH', path: `/api/admin/users/${userId}`, body: { displayName: p }, read: (j) => (j as { after: { displayName: string } }).after.displayName },
      // The reason is free text kept in the audit record.
      { method: 'POST', path: `/api/admin/users/${userId}/disable`, body: { reason: p }, read: () => lastDisableReason() },
      { method: 'POST', path: '/api/admin/groups', body: { name: p } },
      { method: 'POST', path: '/api/admin/groups', body: { name: `g${unique}`, description: p }, read: (j) => (j as { description: string }).description },
      { method: 'PATCH', path: `/api/admin/groups/${groupId}`, body: { description: p }, read: (j) => (j as { after: { description: string } }).after.description },
      { method: 'POST', path: `/api/admin/groups/${groupId}/members`, body: { userId: p } },
      { method: 'POST', path: '/api/admin/assets', body: { id: p, name: 'x', url: 'https://x.example.com/' } },
      { method: 'POST', path: '/api/admin/assets', body: { id: `a${unique}`, name: p, url: 'https://x.example.com/' }, read: (j) => (j as { name: string }).name },
      { method: 'POST', path: '/api/admin/assets', body: { id: `b${unique}`, name: 'x', url: p } },
      { method: 'POST', path: '/api/admin/assets', body: { id: `c${unique}`, name: 'x', url: 'https://x.example.com/', allowedHosts: [p] } },
      { method: 'POST', path: '/api/admin/permissions', body: { subjectKind: 'group', subjectId: p, assetId: 'payload-asset', actions: ['connect'] } },
      { method: 'POST', path: '/api/admin/permissions', body: { subjectKind: 'group', subjectId: groupId, assetId: p, actions: ['connect'] } },
      { method: 'POST', path: '/api/admin/permissions', body: { subjectKind: 'group', subjectId: groupId, assetId: 'payload-asset', actions: [p] } },
      {
        method: 'POST',
        path: '/api/admin/permissions',
        body: { subjectKind: 'group', subjectId: groupId, assetId: 'payload-asset', actions: ['connect'], timeWindow: { timeZone: p, days: [1], start: '09:00', end: '10:00' } },
      },
    ];
  };

  it('refuses them with 4xx and changes nothing, or stores them verbatim and returns them as JSON', async () => {
    const failures: string[] = [];
    for (const payload of PAYLOADS) {
      for (const { method, path, body, read } of bodies(payload)) {
        const before = await counts();
        const res = await call(ts, admin, method, path, body);
        const label = `${method} ${path} ${JSON.stringify(body)} → ${res.status}`;
        if (res.status >= 500) failures.push(`${label}: server error`);
        if (res.status >= 400) {
          if (![400, 404, 409].includes(res.status)) failures.push(`${label}: unexpected refusal`);
          if ((await counts()) !== before) failures.push(`${label}: refused, but something changed`);
          continue;
        }
        // Accepted: only a field meant for free text, kept exactly, and the answer is JSON (escaped by the serializer).
        if (!read) {
          failures.push(`${label}: accepted a payload in a structured field`);
          continue;
        }
        if ((await read(res.json)) !== payload) failures.push(`${label}: not stored verbatim`);
        if (path.endsWith('/disable')) await call(ts, admin, 'POST', `/api/admin/users/${userId}/enable`);
      }
    }
    // Disabling with a hostile reason is fine (free text); undo it so later rows still see the user.
    await call(ts, admin, 'POST', `/api/admin/users/${userId}/enable`);
    expect(failures).toEqual([]);
  });

  it('returns stored hostile text unchanged and JSON-typed when read back', async () => {
    const payload = '<script>alert(1)</script>\'; DROP TABLE groups; --';
    const created = await call(ts, admin, 'POST', '/api/admin/groups', { name: 'readback', description: payload });
    expect(created.status).toBe(201);
    const response = await fetch(`${ts.url}/api/admin/groups/${(created.json as { id: string }).id}`, { headers: admin.headers('GET') });
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(((await response.json()) as { description: string }).description).toBe(payload);
    expect((await call(ts, admin, 'GET', '/api/admin/groups')).status).toBe(200);
  });
});
