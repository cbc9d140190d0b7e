import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cli } from '../support/cli.js';
import { createPgDatabase, dropPgDatabase, TEST_DATABASE_URL } from '../support/databases.js';

describe('webasset tokens (agent tokens from the CLI)', () => {
  let dir: string;
  let dbUrl: string | undefined;
  let env: Record<string, string>;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'webasset-tokens-'));
    dbUrl = TEST_DATABASE_URL ? await createPgDatabase(TEST_DATABASE_URL) : undefined;
    env = { WEBASSET_DATA_DIR: join(dir, 'data'), LOG_LEVEL: 'warn', ...(dbUrl ? { DATABASE_URL: dbUrl } : {}) };
  });
  afterEach(async () => {
    if (dbUrl && TEST_DATABASE_URL) await dropPgDatabase(TEST_DATABASE_URL, dbUrl);
    rmSync(dir, { recursive: true, force: true });
  });

  it('creates a service-account token with scopes and expiry, prints it once, lists and revokes it', async () => {
    const missing = await cli(['tokens', 'create', '--name', 'claude', '--service-account', 'agent-bot', '--scope', 'mcp'], env, dir);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain('--create-service-account');

    const created = await cli(
      ['tokens', 'create', '--name', 'claude', '--service-account', 'agent-bot', '--create-service-account', '--scope', 'mcp', '--scope', 'api:read', '--expires-days', '30'],
      env,
      dir,
    );
    expect(created.stderr).toContain('service account agent-bot; scopes mcp api:read');
    expect(created.code).toBe(0);
    const token = created.stdout.trim();
    expect(token).toMatch(/^wat_[A-Za-z0-9_-]{43}$/);

    const listed = await cli(['tokens', 'list'], env, dir);
    expect(listed.code).toBe(0);
    expect(listed.stdout).not.toContain(token);
    const [line] = listed.stdout.trim().split('\n');
    const [id, role, state, , expires, lastUsed, scopes, account, onBehalf, name] = line!.split('\t');
    expect({ role, state, lastUsed, scopes, account, onBehalf, name }).toEqual({ role: 'agent', state: 'active', lastUsed: '-', scopes: 'mcp,api:read', account: 'agent-bot', onBehalf: '-', name: 'claude' });
    expect(Date.parse(expires!) - Date.now()).toBeGreaterThan(29 * 86_400_000);

    expect((await cli(['tokens', 'revoke', id!], env, dir)).code).toBe(0);
    expect((await cli(['tokens', 'list'], env, dir)).stdout).toContain('\trevoked\t');
  });

  it('refuses bad flags with a usage error and creates nothing', async () => {
    const bad = [
      ['--name', 'x', '--service-account', 'bot', '--create-service-account', '--scope', 'root'],
      ['--name', 'x', '--service-account', 'bot', '--create-service-account', '--scope', 'mcp', '--expires-days', '366'],
      ['--name', 'x', '--service-account', 'bot', '--create-service-account', '--scope', 'mcp', '--expires-days', '1e2'],
      ['--name', 'x', '--role', 'agent', '--service-account', 'bot'],
      ['--name', 'x', '--role', 'agent', '--on-behalf-of', 'olga'],
      ['--name', 'x'],
    ];
    for (const args of bad) {
      const res = await cli(['tokens', 'create', ...args], env, dir);
      expect(res.code, args.join(' ')).toBe(2);
      expect(res.stdout).toBe('');
    }
    expect((await cli(['tokens', 'list'], env, dir)).stdout).toBe('');
  });
});
