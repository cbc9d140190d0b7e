import { sql } from 'kysely';
import { beforeEach, describe, expect, it } from 'vitest';
import { createAssets, DEFAULT_SESSION_POLICY, importPolicy, type Assets } from '../../src/access/index.js';
import type { AuditTrail } from '../../src/audit/index.js';
import { randomIds } from '../../src/core/index.js';
import type { Principal } from '../../src/identity/index.js';
import { buildAudit } from '../support/audit-fixtures.js';
import { useTestDatabase } from '../support/databases.js';

const admin: Principal = { kind: 'user', id: 'admin-1', name: 'Admin', roles: ['admin'], groups: [], via: 'cli', mfa: true };
const recipe = { steps: [{ fill: '#user', value: '{{username}}' }, { fill: '#pass', value: '{{password}}' }, { click: 'button[type=submit]' }] };

describe('asset definition: start URL, credential, recipe, checks, policy', () => {
  const fresh = useTestDatabase();
  let trail: AuditTrail;
  let assets: Assets;

  beforeEach(async () => {
    const clock = { now: () => Date.parse('2026-01-05T10:00:00Z') };
    const audit = buildAudit(fresh.db.database, fresh.db.dataDir, { clock });
    await audit.trail.start();
    fresh.defer(() => audit.trail.close());
    trail = audit.trail;
    assets = createAssets({ db: fresh.db.database.db, trail, clock });
  });

  async function auditDetails(action: string): Promise<Array<Record<string, any>>> {
    await trail.flush();
    const { rows } = await sql<{ details: string }>`SELECT details FROM audit_events WHERE action = ${action} ORDER BY seq`.execute(fresh.db.database.db);
    return rows.map((r) => JSON.parse(r.details) as Record<string, any>);
  }

  it('fills in the defaults for an asset without a definition', async () => {
    const created = await assets.create({ id: 'plain', name: 'Plain', url: 'https://plain.example.com/login' }, admin);
    expect(created).toMatchObject({
      startUrl: 'https://plain.example.com/login',
      credential: null,
      loginRecipe: null,
      successCheck: null,
      failureCheck: null,
      allowInsecureHttp: false,
      policy: DEFAULT_SESSION_POLICY,
    });
    expect(created.policy).toEqual({ idleTimeoutMinutes: 15, maxDurationMinutes: 480, downloads: 'block', uploads: 'block', clipboardCopy: 'deny', clipboardPaste: 'deny', maxSessions: null, maxSessionsPerCredential: 1, recording: 'required', recordKeystrokes: 'masked', recordingRetentionDays: 365 });
    expect(await assets.get('plain')).toEqual(created);
  });

  it('stores the definition, merges a policy patch field by field, and resets a field with null', async () => {
    await assets.create(
      {
        id: 'bank',
        name: 'Bank',
        url: 'https://bank.example.com/',
        allowedHosts: ['bank.example.com', '*.auth.example.com'],
        startUrl: 'https://login.auth.example.com/start',
        credential: 'bank-shared',
        loginRecipe: recipe,
        successCheck: { url: '**/accounts' },
        failureCheck: { text: 'Invalid password' },
        policy: { idleTimeoutMinutes: 5, downloads: 'allow' },
      },
      admin,
    );
    const stored = (await assets.get('bank'))!;
    expect(stored).toMatchObject({ startUrl: 'https://login.auth.example.com/start', credential: 'bank-shared', loginRecipe: recipe, successCheck: { url: '**/accounts' } });
    expect(stored.policy).toEqual({ ...DEFAULT_SESSION_POLICY, idleTimeoutMinutes: 5, downloads: 'allow' });

    const { before, after } = await assets.update('bank', { policy: { maxSessionsPerCredential: 2 }, startUrl: null, loginRecipe: null }, admin);
    expect(before.policy.maxSessionsPerCredential).toBe(1);
    expect(after.policy).toEqual({ ...DEFAULT_SESSION_POLICY, idleTimeoutMinutes: 5, downloads: 'allow', maxSessionsPerCredential: 2 });
    expect(after.startUrl).toBe('https://bank.example.com/');
    expect(after.loginRecipe).toBeNull();
    expect(after.credential).toBe('bank-shared');
    expect(await assets.get('bank')).toEqual(after);

    // The same values again change nothing and record nothing.
    await assets.update('bank', { policy: { maxSessionsPerCredential: 2 } }, admin);
    expect(await auditDetails('asset.updated')).toHaveLength(1);
  });

  it('shows the vault entry in audit records (a field named credential would be blanked) and never a value', async () => {
    await assets.create({ id: 'audited', name: 'A', url: 'https://a.example.com/', credential: 'entry-a', loginRecipe: recipe }, admin);
    await assets.update('audited', { credential: 'entry-b' }, admin);
    await assets.delete('audited', admin);
    const [created] = await auditDetails('asset.created');
    const { maxSessionsPerCredential, ...limits } = DEFAULT_SESSION_POLICY;
    expect(created!.after).toMatchObject({ vaultEntry: 'entry-a', loginRecipe: recipe, startUrl: null, policy: { ...limits, maxSessionsPerVaultEntry: maxSessionsPerCredential } });
    expect(JSON.stringify(created)).not.toContain('[REDACTED]');
    expect(created!.after).not.toHaveProperty('credential');
    const [updated] = await auditDetails('asset.updated');
    expect(updated!.before.vaultEntry).toBe('entry-a');
    expect(updated!.after.vaultEntry).toBe('entry-b');
    const [deleted] = await auditDetails('asset.deleted');
    expect(deleted!.before.vaultEntry).toBe('entry-b');
  });

  it('refuses bad definitions with invalid_request naming the field, and changes nothing', async () => {
    await assets.create({ id: 'base', name: 'Base', url: 'https://base.example.com/' }, admin);
    const bad: Array<[Record<string, unknown>, string]> = [
      [{ startUrl: 'https://elsewhere.example.org/' }, 'startUrl'],
      [{ startUrl: 'javascript:alert(1)' }, 'startUrl'],
      [{ credential: 'Not An Id!' }, 'credential'],
      [{ loginRecipe: { steps: [{ fill: '#p', value: '{{secret}}' }] } }, 'loginRecipe'],
      [{ loginRecipe: { steps: [{ goto: 'https://evil.example.org/login' }] } }, 'loginRecipe'],
      [{ loginRecipe: { steps: [] } }, 'loginRecipe'],
      [{ successCheck: {} }, 'successCheck'],
      [{ failureCheck: { url: '/(unclosed/' } }, 'failureCheck'],
      [{ policy: { idleTimeoutMinutes: 0 } }, 'policy'],
      [{ policy: { downloads: 'sometimes' } }, 'policy'],
      [{ policy: { maxSessionsPerCredential: null } }, 'policy'],
      [{ policy: { recording: 'optional' } }, 'policy'],
      [{ policy: { recordKeystrokes: 'all' } }, 'policy'],
      [{ policy: { recordingRetentionDays: 0 } }, 'policy'],
      [{ policy: { recordingRetentionDays: 36_501 } }, 'policy'],
      [{ policy: { surprise: true } }, 'policy'],
      [{ allowInsecureHttp: 'yes' }, 'allowInsecureHttp'],
    ];
    for (const [patch, field] of bad) {
      const error = await assets.update('base', patch as never, admin).then(
        () => undefined,
        (e: unknown) => e as { code: string; data: Array<{ field: string }> },
      );
      expect(error?.code, JSON.stringify(patch)).toBe('invalid_request');
      expect(error!.data.map((d) => d.field.split('.')[0]), JSON.stringify(patch)).toContain(field);
    }
    await expect(assets.create({ id: 'bad', name: 'B', url: 'https://b.example.com/', startUrl: 'https://c.example.com/' }, admin)).rejects.toMatchObject({ code: 'invalid_request' });
    expect(await assets.get('bad')).toBeNull();
    expect(await auditDetails('asset.updated')).toEqual([]);
  });

  it('reads a definition written by hand field by field, falling back to defaults for what does not parse', async () => {
    await assets.create({ id: 'hand', name: 'H', url: 'https://h.example.com/' }, admin);
    const broken = JSON.stringify({ mfaRequired: true, credential: 'ok-entry', policy: { idleTimeoutMinutes: 'soon', downloads: 'allow' }, loginRecipe: { steps: 'no' } });
    await sql`UPDATE assets SET definition = ${broken}::jsonb WHERE id = 'hand'`.execute(fresh.db.database.db);
    const read = (await assets.get('hand'))!;
    expect(read.mfaRequired).toBe(true);
    expect(read.credential).toBe('ok-entry');
    expect(read.loginRecipe).toBeNull();
    // The policy object did not parse as a whole: every policy field is its (restrictive) default.
    expect(read.policy).toEqual(DEFAULT_SESSION_POLICY);
  });

  it('takes the definition from an import file; absent fields stay, and a second run changes nothing', async () => {
    const deps = { db: fresh.db.database.db, trail, clock: { now: () => Date.now() }, ids: randomIds };
    const file = (extra: string) => `version: 1
assets:
  - id: portal
    name: Portal
    url: https://portal.example.com/
    credential: portal-entry
    successCheck: { selector: '#logout' }
    policy: { maxSessions: 3, uploads: allow }
${extra}`;
    const first = await importPolicy(deps, { source: file(''), fileName: 'p.yaml', dryRun: false, by: admin });
    expect(first.changes).toEqual([{ op: '+', kind: 'asset', key: 'portal' }]);
    expect(await assets.get('portal')).toMatchObject({ credential: 'portal-entry', successCheck: { selector: '#logout' }, policy: { ...DEFAULT_SESSION_POLICY, maxSessions: 3, uploads: 'allow' } });
    expect((await importPolicy(deps, { source: file(''), fileName: 'p.yaml', dryRun: false, by: admin })).changes).toEqual([]);

    const changed = file('    loginRecipe: { steps: [ { click: "#sso" } ], injection: fill }\n').replace('credential: portal-entry', 'credential: other-entry');
    const second = await importPolicy(deps, { source: changed, fileName: 'p.yaml', dryRun: false, by: admin });
    expect(second.changes).toHaveLength(1);
    expect(second.changes[0]).toMatchObject({ op: '~', field: 'loginRecipe,vaultEntry', before: { vaultEntry: 'portal-entry', loginRecipe: null }, after: { vaultEntry: 'other-entry' } });
    expect((await assets.get('portal'))!.loginRecipe).toEqual({ steps: [{ click: '#sso' }], injection: 'fill' });

    const refused = file('').replace('credential: portal-entry', 'startUrl: https://other.example.org/');
    await expect(importPolicy(deps, { source: refused, fileName: 'p.yaml', dryRun: false, by: admin })).rejects.toMatchObject({
      code: 'invalid_request',
      data: [{ field: 'assets.0.startUrl', problem: 'its host must be one of allowedHosts' }],
    });
  });
});
