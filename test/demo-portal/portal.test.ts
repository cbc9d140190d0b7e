import { createHash } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { base32Decode, totp } from '../../src/core/index.js';
import { createDemoPortal, type DemoPortal } from '../../src/demo-portal/index.js';

const USERNAME = 'alice';
const PASSWORD = 'canary-portal-password-7f3a';
const SEED = 'KRSXG5CTMVRXEZLUKRSXG5CTMVRXEZLU';

/** A tiny cookie-keeping client: enough to walk the portal's forms without a browser. */
function client(base: string) {
  let cookie = '';
  const request = async (method: string, path: string, form?: Record<string, string>, json?: unknown) => {
    const headers: Record<string, string> = cookie ? { cookie } : {};
    let body: string | undefined;
    if (form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(form).toString();
    } else if (json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(json);
    }
    const response = await fetch(base + path, { method, headers, body, redirect: 'manual' });
    const set = response.headers.get('set-cookie');
    if (set) cookie = set.split(';')[0]!.endsWith('=') ? '' : set.split(';')[0]!;
    return { status: response.status, location: response.headers.get('location'), text: await response.text(), headers: response.headers };
  };
  return { get: (path: string) => request('GET', path), post: (path: string, form: Record<string, string>) => request('POST', path, form), postJson: (path: string, json: unknown) => request('POST', path, undefined, json) };
}

describe('demo portal', () => {
  let portal: DemoPortal;
  let base: string;
  beforeAll(async () => {
    portal = createDemoPortal({ username: USERNAME, password: PASSWORD, totpSeed: SEED });
    base = await portal.start(0, '127.0.0.1');
  });
  afterAll(() => portal.stop());

  it('signs in on /login, shows the balance, and the accounts page needs the session', async () => {
    const c = client(base);
    expect((await c.get('/accounts')).location).toBe('/login');
    const login = await c.get('/login');
    expect(login.text).toContain('id="password"');
    expect(login.headers.get('content-security-policy')).toContain("script-src 'self'");
    const signedIn = await c.post('/login', { username: USERNAME, password: PASSWORD });
    expect(signedIn).toMatchObject({ status: 303, location: '/accounts' });
    const accounts = await c.get('/accounts');
    expect(accounts.text).toMatch(/id="balance">€12,345\.67</);
    expect(accounts.text).not.toContain(PASSWORD);
  });

  it('shows a visible error for a wrong password and never echoes what was typed', async () => {
    const c = client(base);
    const wrong = await c.post('/login', { username: USERNAME, password: 'wrong-guess-123' });
    expect(wrong.status).toBe(401);
    expect(wrong.text).toContain('id="login-error"');
    expect(wrong.text).not.toContain('wrong-guess-123');
    expect((await c.get('/accounts')).location).toBe('/login');
  });

  it('asks for the current TOTP code on /login-totp and refuses a wrong one', async () => {
    const c = client(base);
    expect((await c.post('/login-totp', { username: USERNAME, password: PASSWORD })).location).toBe('/login-totp/code');
    expect((await c.get('/login-totp/code')).text).toContain('autocomplete="one-time-code"');
    expect((await c.get('/accounts')).location).toBe('/login');
    const code = totp(base32Decode(SEED), Date.now());
    const wrongCode = code === '000000' ? '111111' : '000000';
    expect((await c.post('/login-totp/code', { code: wrongCode })).text).toContain('id="login-error"');
    expect((await c.post('/login-totp/code', { code: totp(base32Decode(SEED), Date.now()) })).location).toBe('/accounts');
    expect((await c.get('/accounts')).status).toBe(200);
  });

  it('takes the username first and the password on a second page on /login-two-page', async () => {
    const c = client(base);
    const first = await c.get('/login-two-page');
    expect(first.text).not.toContain('id="password"');
    expect((await c.post('/login-two-page', { username: USERNAME })).location).toBe('/login-two-page/password');
    expect((await c.get('/login-two-page/password')).text).toContain('id="password"');
    expect((await c.post('/login-two-page/password', { password: 'nope-nope' })).status).toBe(401);
    expect((await c.post('/login-two-page/password', { password: PASSWORD })).location).toBe('/accounts');
  });

  it('serves the iframe variant from the same origin and posts to the top window', async () => {
    const c = client(base);
    expect((await c.get('/login-iframe')).text).toContain('<iframe id="login-frame"');
    expect((await c.get('/login-iframe/form')).text).toContain('target="_top"');
    expect((await c.post('/login-iframe/form', { username: USERNAME, password: 'x-wrong' })).location).toBe('/login-iframe?error=1');
    expect((await c.post('/login-iframe/form', { username: USERNAME, password: PASSWORD })).location).toBe('/accounts');
  });

  it('accepts the JSON login of /login-json and records what page scripts report to /spy', async () => {
    const c = client(base);
    expect((await c.postJson('/api/login', { username: USERNAME, password: 'bad' })).status).toBe(401);
    expect((await c.postJson('/api/login', { username: USERNAME, password: PASSWORD })).status).toBe(200);
    expect((await c.get('/accounts')).status).toBe(200);
    await fetch(`${base}/spy`, { method: 'POST', body: 'what-the-script-saw' });
    expect(portal.observed).toContain('what-the-script-saw');
  });

  it('takes only the hash of the password on /login-hashed (what its page script sends)', async () => {
    const c = client(base);
    expect((await c.get('/login-hashed')).text).toContain('/static/hash-login.js');
    expect((await c.post('/login-hashed', { username: USERNAME, passwordHash: PASSWORD })).status).toBe(401);
    const hash = createHash('sha256').update(PASSWORD).digest('hex');
    expect((await c.post('/login-hashed', { username: USERNAME, passwordHash: hash })).location).toBe('/accounts');
  });

  it('makes a transfer with the form token, and signs out', async () => {
    const c = client(base);
    await c.post('/login', { username: USERNAME, password: PASSWORD });
    const form = await c.get('/transfer');
    const csrf = /name="csrf" value="([^"]+)"/.exec(form.text)![1]!;
    expect((await c.post('/transfer', { csrf: 'forged', to: 'NL91ABNA0417164300', amount: '10' })).location).toBe('/login');
    const sent = await c.post('/transfer', { csrf, to: 'NL91 ABNA 0417 1643 00', amount: '25.50' });
    expect(sent.text).toContain('Sent €25.50 to NL91ABNA0417164300.');
    expect(sent.text).toContain('€12,320.17');
    expect((await c.post('/transfer', { csrf, to: 'NL91ABNA0417164300', amount: '999999' })).status).toBe(400);
    expect((await c.post('/logout', { csrf })).text).toContain('id="signed-out"');
    expect((await c.get('/accounts')).location).toBe('/login');
  });

  it('a transfer may name a purpose from the list; an unknown one is ignored', async () => {
    const c = client(base);
    await c.post('/login', { username: USERNAME, password: PASSWORD });
    const form = await c.get('/transfer');
    expect(form.text).toContain('<select id="purpose" name="purpose">');
    const csrf = /name="csrf" value="([^"]+)"/.exec(form.text)![1]!;
    expect((await c.post('/transfer', { csrf, to: 'NL91ABNA0417164300', amount: '1', purpose: 'rent' })).text).toContain('Sent €1.00 to NL91ABNA0417164300. Purpose: Rent.');
    expect((await c.post('/transfer', { csrf, to: 'NL91ABNA0417164300', amount: '1', purpose: '<b>' })).text).toContain('Sent €1.00 to NL91ABNA0417164300.</p>');
  });

  it('the careless /profile page prints the password in text and attributes, signed in only (the agent redaction canary)', async () => {
    const c = client(base);
    expect((await c.get('/profile')).location).toBe('/login');
    await c.post('/login', { username: USERNAME, password: PASSWORD });
    const profile = await c.get('/profile');
    expect(profile.text).toContain(`<code>${PASSWORD}</code>`);
    expect(profile.text).toContain(`title="${PASSWORD}"`);
    expect(profile.text).toContain(`value="${PASSWORD}"`);
    expect(profile.text).toContain(`href="/accounts?hint=${PASSWORD}"`);
  });
});

describe('webasset demo-portal', () => {
  const dir = mkdtempSync(join(tmpdir(), 'demo-portal-cli-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  async function run(args: string[], onOutput: (text: string) => Promise<void>) {
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    let stop!: (signal: string) => void;
    const stopSignal = new Promise<string>((resolve) => (stop = resolve));
    let out = '';
    let err = '';
    let seen = false;
    stderr.on('data', (c: Buffer) => (err += c.toString()));
    const done = new Promise<void>((resolve, reject) =>
      stdout.on('data', (c: Buffer) => {
        out += c.toString();
        if (!seen && out.includes('Credentials:')) {
          seen = true;
          onOutput(out).then(resolve, reject).finally(() => stop('SIGTERM'));
        }
      }),
    );
    const code = await runCli(['demo-portal', ...args], { env: {}, cwd: dir, stdin: new PassThrough(), stdout, stderr, stopSignal });
    if (seen) await done;
    return { code, out, err };
  }

  it('prints the URL and where the credentials come from, never the password, and stops on the signal', async () => {
    writeFileSync(join(dir, 'creds.json'), JSON.stringify({ username: 'bob', password: 'canary-cli-password-99' }));
    const result = await run(['--port', '0', '--credentials', 'creds.json'], async (out) => {
      const url = /listening on (http:\/\/127\.0\.0\.1:\d+)\//.exec(out)![1]!;
      const response = await fetch(`${url}/login`, { method: 'POST', body: 'username=bob&password=canary-cli-password-99', headers: { 'content-type': 'application/x-www-form-urlencoded' }, redirect: 'manual' });
      expect(response.headers.get('location')).toBe('/accounts');
    });
    expect(result.code).toBe(0);
    expect(result.out).toContain('Credentials: from creds.json');
    expect(result.out).not.toContain('canary-cli-password-99');
  });

  it('refuses a malformed credentials file without quoting it', async () => {
    writeFileSync(join(dir, 'bad.json'), JSON.stringify({ username: 'bob', password: 'canary-bad-file-pw', extra: 'x' }));
    const result = await run(['--port', '0', '--credentials', 'bad.json'], async () => {});
    expect(result.code).not.toBe(0);
    expect(result.err).toContain('bad.json');
    expect(result.err).not.toContain('canary-bad-file-pw');
  });
});
