import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';

const SECRET = 'a'.repeat(32);
const load = (env: Record<string, string>) => loadConfig({ env, cwd: '/tmp' });
const problems = (env: Record<string, string>): string[] => {
  try {
    load(env);
    return [];
  } catch (error) {
    return (error as { data: { problems: string[] } }).data.problems;
  }
};

describe('alert webhook settings', () => {
  it('takes a list of URLs with a secret, and hands every URL to the redactor (their path can be a credential)', () => {
    const hook = 'https://hooks.example.test/services/T000/B000/XXXXSECRETPATH';
    const { config, secrets } = load({ WEBASSET_ALERT_WEBHOOK_URLS: `${hook}, http://10.0.0.5:9000/alerts`, WEBASSET_ALERT_WEBHOOK_SECRET: SECRET });
    expect(config.alertWebhookUrls).toEqual([hook, 'http://10.0.0.5:9000/alerts']);
    expect(secrets).toEqual(expect.arrayContaining([hook, SECRET]));
    expect(load({}).config.alertWebhookUrls).toEqual([]);
  });

  it('refuses URLs without a secret, a short secret, credentials in a URL and other schemes, without echoing values', () => {
    expect(problems({ WEBASSET_ALERT_WEBHOOK_URLS: 'https://a.example.test/x' })).toEqual([expect.stringContaining('WEBASSET_ALERT_WEBHOOK_SECRET: required')]);
    expect(problems({ WEBASSET_ALERT_WEBHOOK_SECRET: 'short-canary' }).join()).toContain('WEBASSET_ALERT_WEBHOOK_SECRET: expected at least 32 characters');
    for (const bad of ['https://user:pw-canary@a.example.test/x', 'ftp://a.example.test/x', 'not a url']) {
      const found = problems({ WEBASSET_ALERT_WEBHOOK_URLS: bad, WEBASSET_ALERT_WEBHOOK_SECRET: SECRET });
      expect(found, bad).toEqual([expect.stringContaining('WEBASSET_ALERT_WEBHOOK_URLS: expected comma-separated')]);
      expect(found.join(), bad).not.toContain('canary');
    }
    expect(problems({ WEBASSET_ALERT_WEBHOOK_SECRET: 'short-canary' }).join()).not.toContain('short-canary');
  });
});
