import { describe, expect, it } from 'vitest';
import { classifyCommittedUrl } from '../../src/browser/blocked-schemes.js';
import { createUrlGuard, describeUrl } from '../../src/browser/url-guard.js';

// The one rule behind every layer of the lock, on the URL tricks that fool string comparisons.

const guard = createUrlGuard({ allowedHosts: ['portal.example.com', '*.cdn.example.com'], allowInsecureHttp: false });
const insecure = createUrlGuard({ allowedHosts: ['portal.example.com'], allowInsecureHttp: true });

describe('UrlGuard', () => {
  it.each([
    'https://portal.example.com/',
    'https://PORTAL.example.com:8443/login?x=1',
    'https://portal.example.com./',
    'wss://portal.example.com/socket',
    'https://a.cdn.example.com/app.js',
    'https://portal.example.com\\@evil.example/',
  ])('allows %s', (url) => {
    expect(guard.check(url)).toEqual({ ok: true });
  });

  it.each([
    ['https://portal.example.com@evil.example/', 'credentials'],
    ['https://user:pw@portal.example.com/', 'credentials'],
    ['https://evil.example/portal.example.com', 'host evil.example'],
    ['https://portal.example.com.evil.example/', 'not allowed'],
    ['https://evilportal.example.com/', 'not allowed'],
    ['https://p\u043ertal.example.com/', 'not allowed'],
    ['https://cdn.example.com/', 'not allowed'],
    ['https://a.b.cdn.example.com/', 'not allowed'],
    ['https://2130706433/', 'not allowed'],
    ['https://[::1]/', 'not allowed'],
    ['http://portal.example.com/', 'plain http'],
    ['ws://portal.example.com/', 'plain http'],
    ['file:///etc/passwd', 'scheme file:'],
    ['javascript:alert(1)', 'scheme javascript:'],
    ['data:text/html,x', 'scheme data:'],
    ['blob:https://portal.example.com/uuid', 'scheme blob:'],
    ['chrome://settings', 'scheme chrome:'],
    ['view-source:https://portal.example.com/', 'scheme view-source:'],
    ['not a url', 'unparsable'],
  ])('refuses %s', (url, reason) => {
    const verdict = guard.check(url);
    expect(verdict.ok).toBe(false);
    expect(verdict.ok ? '' : verdict.reason).toContain(reason);
  });

  it('allows plain http only when the asset says so', () => {
    expect(insecure.check('http://portal.example.com/')).toEqual({ ok: true });
    expect(insecure.check('ws://portal.example.com/')).toEqual({ ok: true });
    expect(insecure.check('http://evil.example/').ok).toBe(false);
  });

  it('refuses everything when no host is allowed', () => {
    expect(createUrlGuard({ allowedHosts: [], allowInsecureHttp: true }).check('https://portal.example.com/').ok).toBe(false);
  });
});

describe('describeUrl', () => {
  it('keeps origin and path, never the query or what a data: or javascript: URL carries', () => {
    expect(describeUrl('https://portal.example.com/reset?token=s3cret#frag')).toBe('https://portal.example.com/reset');
    expect(describeUrl('data:text/html,<script>secret</script>')).toBe('data:');
    expect(describeUrl('javascript:steal("x")')).toBe('javascript:');
    expect(describeUrl('file:///etc/passwd')).toBe('file:/etc/passwd');
    expect(describeUrl('chrome://settings/?search=x')).toBe('chrome://settings/');
    expect(describeUrl('about:blank')).toBe('about:blank');
    expect(describeUrl('::')).toBe('(unparsable URL)');
  });
});

describe('classifyCommittedUrl', () => {
  it.each([
    ['https://portal.example.com/', 'web'],
    ['about:blank', 'inert'],
    ['about:srcdoc', 'inert'],
    ['chrome-error://chromewebdata/', 'inert'],
    ['chrome://version/', 'blocked'],
    ['devtools://devtools/bundled/inspector.html', 'blocked'],
    ['file:///etc/passwd', 'blocked'],
    ['data:text/html,x', 'blocked'],
    ['blob:https://portal.example.com/uuid', 'blocked'],
    ['about:config', 'blocked'],
  ])('%s is %s', (url, kind) => {
    expect(classifyCommittedUrl(url).kind).toBe(kind);
  });
});
