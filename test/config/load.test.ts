import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { AppError } from '../../src/core/index.js';

const KEY = Buffer.alloc(32, 1).toString('base64');

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).code).toBe('config_invalid');
    return ((error as AppError).data as { problems: string[] }).problems;
  }
  throw new Error('expected config_invalid');
}

describe('config', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'webasset-config-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('serves a single machine by default', () => {
    const { config } = loadConfig({ env: {}, cwd: dir });
    expect(config.port).toBe(8080);
    expect(config.host).toBe('127.0.0.1');
    expect(config.dataDir).toBe(join(dir, 'data'));
    expect(config.databaseUrl).toBeUndefined();
    expect(config.logLevel).toBe('info');
    expect(config.nodeId.length).toBeGreaterThan(0);
  });

  it('lists every problem at once, by variable name, without echoing values', () => {
    const secretish = 'not-base64-but-secret-value!';
    const problems = problemsOf(() =>
      loadConfig({
        env: { PORT: 'eighty', LOG_LEVEL: 'loud', DATABASE_URL: 'mysql://x', WEBASSET_MASTER_KEY: secretish, WEBASSET_FROBNICATE: '1' },
        cwd: dir,
      }),
    );
    const text = problems.join('\n');
    for (const name of ['PORT', 'LOG_LEVEL', 'DATABASE_URL', 'WEBASSET_MASTER_KEY', 'WEBASSET_FROBNICATE']) expect(text).toContain(name);
    expect(problems).toHaveLength(5);
    expect(text).not.toContain(secretish);
    expect(text).not.toContain('eighty');
  });

  it('reads secrets from _FILE variants, without the trailing newline, and refuses both at once', () => {
    const file = join(dir, 'master.key');
    writeFileSync(file, `${KEY}\n`);
    const loaded = loadConfig({ env: { WEBASSET_MASTER_KEY_FILE: file }, cwd: dir });
    expect(loaded.config.masterKey).toBe(KEY);
    expect(loaded.secrets).toContain(KEY);
    expect(problemsOf(() => loadConfig({ env: { WEBASSET_MASTER_KEY_FILE: file, WEBASSET_MASTER_KEY: KEY }, cwd: dir })).join()).toContain('not both');
    expect(problemsOf(() => loadConfig({ env: { OIDC_CLIENT_SECRET_FILE: join(dir, 'missing') }, cwd: dir })).join()).toContain('OIDC_CLIENT_SECRET_FILE');
  });

  it('layers defaults < webasset.yaml < environment < flags', () => {
    writeFileSync(join(dir, 'webasset.yaml'), 'port: 9000\nhost: 0.0.0.0\nlogLevel: debug\n');
    const fromFile = loadConfig({ env: {}, cwd: dir }).config;
    expect([fromFile.port, fromFile.host, fromFile.logLevel]).toEqual([9000, '0.0.0.0', 'debug']);
    const fromEnv = loadConfig({ env: { PORT: '9100' }, cwd: dir }).config;
    expect([fromEnv.port, fromEnv.host]).toEqual([9100, '0.0.0.0']);
    const fromFlags = loadConfig({ env: { PORT: '9100' }, cwd: dir, flags: { port: '9200' } }).config;
    expect(fromFlags.port).toBe(9200);
  });

  it('refuses unknown YAML keys, malformed YAML and a missing --config file', () => {
    writeFileSync(join(dir, 'webasset.yaml'), 'port: 9000\nprot: 1\n');
    expect(problemsOf(() => loadConfig({ env: {}, cwd: dir })).join()).toContain("unknown setting 'prot'");
    writeFileSync(join(dir, 'bad.yaml'), 'port: [1,\n');
    expect(problemsOf(() => loadConfig({ env: {}, cwd: dir, configPath: 'bad.yaml' })).join()).toContain('not valid YAML');
    expect(problemsOf(() => loadConfig({ env: {}, cwd: dir, configPath: 'nope.yaml' })).join()).toContain('file not found');
  });

  it('accepts secret files from YAML relative to the YAML file', () => {
    writeFileSync(join(dir, 'sign.key'), KEY);
    writeFileSync(join(dir, 'webasset.yaml'), 'auditSigningKeyFile: sign.key\n');
    expect(loadConfig({ env: {}, cwd: '/', configPath: join(dir, 'webasset.yaml') }).config.auditSigningKey).toBe(KEY);
  });

  it('takes the node URL for the live-view relay only as an http(s) origin, with Redis and the cluster key', () => {
    const cluster = { REDIS_URL: 'redis://127.0.0.1:6379', WEBASSET_CLUSTER_KEY: KEY };
    const { config, secrets } = loadConfig({ env: { ...cluster, WEBASSET_NODE_URL: 'http://10.0.3.12:8080' }, cwd: dir });
    expect(config).toMatchObject({ nodeUrl: 'http://10.0.3.12:8080', clusterKey: KEY });
    expect(secrets).toContain(KEY);
    for (const bad of ['ftp://10.0.3.12', 'http://10.0.3.12:8080/path', 'http://user:pw@10.0.3.12', 'http://10.0.3.12/?q=1', '10.0.3.12:8080']) {
      expect(problemsOf(() => loadConfig({ env: { ...cluster, WEBASSET_NODE_URL: bad }, cwd: dir })).join()).toContain('WEBASSET_NODE_URL');
    }
    expect(problemsOf(() => loadConfig({ env: { REDIS_URL: cluster.REDIS_URL, WEBASSET_NODE_URL: 'http://10.0.3.12:8080' }, cwd: dir })).join()).toContain('WEBASSET_CLUSTER_KEY');
    expect(problemsOf(() => loadConfig({ env: { WEBASSET_CLUSTER_KEY: KEY, WEBASSET_NODE_URL: 'http://10.0.3.12:8080' }, cwd: dir })).join()).toContain('REDIS_URL');
    expect(problemsOf(() => loadConfig({ env: { WEBASSET_CLUSTER_KEY: 'short' }, cwd: dir })).join()).toContain('WEBASSET_CLUSTER_KEY');
    const plain = loadConfig({ env: {}, cwd: dir }).config;
    expect([plain.nodeUrl, plain.clusterKey]).toEqual([undefined, undefined]);
  });

  it('registers the password inside DATABASE_URL as a secret', () => {
    const { secrets } = loadConfig({ env: { DATABASE_URL: 'postgres://app:s3cr%40t-pw@db:5432/wa' }, cwd: dir });
    expect(secrets).toContain('s3cr@t-pw');
  });
});

describe('list settings', () => {
  it('accept comma-separated lists and refuse bad entries', () => {
    const cwd = '/';
    const { config } = loadConfig({ env: { WEBASSET_TRUSTED_PROXIES: ' 10.0.0.0/8, ::1 ,loopback' }, cwd });
    expect(config.trustedProxies).toEqual(['10.0.0.0/8', '::1', 'loopback']);
    for (const bad of ['10.0.0.0/33', 'example.com', '10.0.0.1/8/1', '::1/129']) {
      expect(() => loadConfig({ env: { WEBASSET_TRUSTED_PROXIES: bad }, cwd }), bad).toThrow(AppError);
    }
    expect(() => loadConfig({ env: { WEBASSET_AUDIT_TRUSTED_KEYS: 'not-a-key' }, cwd })).toThrow(AppError);
  });
});
