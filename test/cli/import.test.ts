import type { ChildProcess } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cli } from '../support/cli.js';
import { createPgDatabase, dropPgDatabase, TEST_DATABASE_URL } from '../support/databases.js';
import { startServe, stopServe } from '../support/serve-child.js';

const FIXTURE = join(import.meta.dirname, '..', 'fixtures', 'policy-reference.yaml');

// Each CLI run opens the embedded database; on a machine busy with other suites a test can take minutes.
describe('webasset import', { timeout: 300_000 }, () => {
  let dir: string;
  let env: Record<string, string>;
  let dbUrl: string | undefined;
  let server: ChildProcess | undefined;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'webasset-import-'));
    dbUrl = TEST_DATABASE_URL ? await createPgDatabase(TEST_DATABASE_URL) : undefined;
    env = { WEBASSET_DATA_DIR: join(dir, 'data'), ...(dbUrl ? { DATABASE_URL: dbUrl } : {}) };
    copyFileSync(FIXTURE, join(dir, 'policy.yaml'));
  });
  afterEach(async () => {
    await stopServe(server);
    if (dbUrl && TEST_DATABASE_URL) await dropPgDatabase(TEST_DATABASE_URL, dbUrl);
    rmSync(dir, { recursive: true, force: true });
  });

  const lines = (text: string) => text.trim().split('\n').filter(Boolean);

  it('imports the reference deployment (50 users, 6 groups, 25 portals) idempotently, with a dry run that changes nothing', async () => {
    expect((await cli(['migrate'], env, dir)).code).toBe(0);
    const dry = await cli(['import', 'policy.yaml', '--dry-run'], env, dir);
    expect(dry.code, dry.stderr).toBe(0);
    const planned = lines(dry.stdout);
    expect(planned.filter((l) => l.startsWith('+ user '))).toHaveLength(50);
    expect(planned.filter((l) => l.startsWith('+ group '))).toHaveLength(6);
    expect(planned.filter((l) => l.startsWith('+ asset '))).toHaveLength(25);
    expect(planned.filter((l) => l.startsWith('+ member '))).not.toHaveLength(0);
    expect(planned.filter((l) => l.startsWith('+ permission '))).not.toHaveLength(0);
    expect(planned.some((l) => l.startsWith('-') || l.startsWith('~'))).toBe(false);
    expect(dry.stderr).toContain('dry run');

    // The dry run changed nothing: the real run plans the same.
    const real = await cli(['import', 'policy.yaml'], env, dir);
    expect(real.code, real.stderr).toBe(0);
    expect(lines(real.stdout)).toEqual(planned);

    const again = await cli(['import', 'policy.yaml'], env, dir);
    expect(again.code).toBe(0);
    expect(again.stdout).toBe('');
    expect(again.stderr).toContain('No changes');

    // An edit shows as ~ with before → after; removal from the file deletes nothing without prune.
    const text = readFileSync(join(dir, 'policy.yaml'), 'utf8')
      .replace('displayName: Anna Meyer', 'displayName: Anna Meyer-Lang')
      .replace(/ {2}- id: helpdesk\n(?: {4}.*\n)+/, '');
    writeFileSync(join(dir, 'policy.yaml'), text.replace(/ {2}- group: \w[\w-]*\n {4}asset: helpdesk\n(?: {4}.*\n| {6}.*\n)+/g, ''));
    const edited = await cli(['import', 'policy.yaml'], env, dir);
    expect(edited.code, edited.stderr).toBe(0);
    expect(lines(edited.stdout)).toEqual(['~ user anna.meyer displayName: "Anna Meyer" → "Anna Meyer-Lang"']);

    // With prune, what the file no longer names goes.
    writeFileSync(join(dir, 'policy.yaml'), `${readFileSync(join(dir, 'policy.yaml'), 'utf8')}prune: [assets, permissions]\n`);
    const pruned = await cli(['import', 'policy.yaml'], env, dir);
    expect(pruned.code, pruned.stderr).toBe(0);
    expect(lines(pruned.stdout)).toContain('- asset helpdesk');
    expect(lines(pruned.stdout).every((l) => l.startsWith('- '))).toBe(true);

    const audit = await cli(['audit', 'export', '--format', 'ndjson', '--action', 'policy'], env, dir);
    const events = lines(audit.stdout)
      .map((l) => JSON.parse(l) as { action?: string; details?: Record<string, unknown> })
      .filter((e) => e.action === 'policy.imported');
    expect(events.map((e) => [e.details?.dryRun, e.details?.created])).toEqual([
      [true, planned.length],
      [false, planned.length],
      [false, 0],
      [false, 0],
      [false, 0],
    ]);
  });

  it('refuses a bad file with exit 2, naming the place, and changes nothing', async () => {
    expect((await cli(['migrate'], env, dir)).code).toBe(0);
    const cases: Array<[string, RegExp]> = [
      ['version: 2\n', /version/],
      ['version: 1\nusers:\n  - username: "Robert\'); DROP TABLE users;--"\n', /users\.0\.username/],
      ['version: 1\nusers:\n  - username: a\n    password: hunter2hunter2\n', /users\.0/],
      ['version: 1\ngroups:\n  - name: ops\n    members: [ghost]\n', /groups\.0\.members\.0/],
      ['version: 1\npermissions:\n  - group: nobody\n    asset: x\n    actions: [connect]\n', /permissions\.0/],
      ['version: 1\nassets:\n  - id: a\n    name: A\n    url: https://a.example.com\n    allowedHosts: [b.example.com]\n', /allowedHosts/],
      ['a: &x [1]\nb: *x\nversion: 1\n', /alias|file/],
      ['version: 1\nversion: 1\n', /line/],
      ['version: 1\nusers:\n  - username: a\n  - username: a\n', /users\.1/],
      ['version: 1\nprune: [users]\nusers:\n  - username: a\n', /administrator/],
    ];
    for (const [body, where] of cases) {
      writeFileSync(join(dir, 'bad.yaml'), body);
      const res = await cli(['import', 'bad.yaml'], env, dir);
      expect(res.code, body).toBe(2);
      expect(res.stderr, body).toContain('invalid_request');
      expect(res.stderr, body).toMatch(where);
      expect(res.stderr).not.toContain('hunter2');
    }
    expect((await cli(['import', 'missing.yaml'], env, dir)).code).toBe(2);
    const after = await cli(['import', join(dir, 'policy.yaml'), '--dry-run'], env, dir);
    expect(lines(after.stdout).filter((l) => l.startsWith('+ user '))).toHaveLength(50);
  });

  it("prints the JumpServer converter's warnings on stderr, naming the asset and step, never a value", async () => {
    expect((await cli(['migrate'], env, dir)).code).toBe(0);
    writeFileSync(
      join(dir, 'jumpserver.yaml'),
      `version: 1
assets:
  - id: bank-js
    name: Bank JS
    url: https://bank-js.example.com/login
    jumpServerAutofill:
      - { step: 1, command: type, target: id=username, value: "{USERNAME}" }
      - { step: 2, command: sleep, target: "2", value: "" }
      - { step: 3, command: type, target: id=pin, value: "S3cr3t-Canary-pin" }
      - { step: 4, command: "zap\\u001b[2J", target: "", value: "" }
      - { step: 5, command: type, target: id=password, value: "{SECRET}" }
`,
    );
    const res = await cli(['import', 'jumpserver.yaml', '--dry-run'], env, dir);
    expect(res.code, res.stderr).toBe(0);
    expect(lines(res.stdout)).toContain('+ asset bank-js');
    const warnings = lines(res.stderr).filter((l) => l.startsWith('warning: '));
    expect(warnings).toEqual([
      'warning: asset bank-js (assets.0.jumpServerAutofill) step 2 (sleep): dropped; recipe steps wait for their element (add a waitFor step if the portal needs one)',
      'warning: asset bank-js (assets.0.jumpServerAutofill) step 3 (type): types fixed text; if it is a secret, move it to the vault entry and use {{field:NAME}}',
      'warning: asset bank-js (assets.0.jumpServerAutofill) step 4 (zap\\u001b[2J): skipped, its target is empty (JumpServer skips it too)',
    ]);
    expect(res.stderr + res.stdout).not.toContain('S3cr3t-Canary');
    expect(res.stderr).not.toContain('\u001b');
  });

  it('runs inside a running server that holds the embedded database (admin socket)', async () => {
    server = (await startServe({ ...process.env, ...env, PORT: '0', HOST: '127.0.0.1' }, dir)).child;
    const other = mkdtempSync(join(tmpdir(), 'webasset-import-cwd-'));
    try {
      copyFileSync(FIXTURE, join(other, 'here.yaml'));
      // A relative path from another folder than the server's: the CLI sends the absolute path.
      const res = await cli(['import', 'here.yaml'], env, other);
      expect(res.code, res.stderr).toBe(0);
      expect(lines(res.stdout).filter((l) => l.startsWith('+ asset '))).toHaveLength(25);
      expect((await cli(['import', 'here.yaml'], env, other)).stderr).toContain('No changes');
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });
});
