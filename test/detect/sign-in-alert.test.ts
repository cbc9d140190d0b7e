import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { verifyAlertSignature } from '../../src/detect/index.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { startReceiver, waitFor } from './receiver.js';

const SECRET = 'canary-alert-secret-for-the-sign-in-test-0001';
const PASSWORD = 'canary password never leaves 7391';

describe('failed sign-ins over HTTP raise one signed alert per burst', () => {
  let srv: TestServer | undefined;
  afterEach(async () => {
    await srv?.stop();
    srv = undefined;
  });

  it('seven wrong passwords for one unknown account: one alert for the account and one for the IP, never the password', async () => {
    const receiver = await startReceiver();
    try {
      srv = await startTestServer({ WEBASSET_ALERT_WEBHOOK_URLS: receiver.url, WEBASSET_ALERT_WEBHOOK_SECRET: SECRET });
      for (let i = 0; i < 7; i += 1) {
        const res = await fetch(`${srv.url}/api/auth/login`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ username: 'ghost', password: PASSWORD }),
        });
        expect(res.status).toBe(401);
      }
      await waitFor(() => receiver.deliveries.length === 2);
      await srv.services.audit.trail.flush();
      const { rows } = await sql<{ details: string }>`SELECT details FROM audit_events WHERE action = 'alert.raised'`.execute(srv.services.database.db);
      expect(rows.map((r) => (JSON.parse(r.details) as { subject: { kind: string } }).subject.kind).sort()).toEqual(['account', 'ip']);
      for (const d of receiver.deliveries) {
        const timestamp = d.headers['x-webasset-timestamp'] as string;
        expect(verifyAlertSignature({ secret: SECRET, timestamp, signature: d.headers['x-webasset-signature'] as string, body: d.body, nowMs: Date.now() })).toBe(true);
        expect(d.body).not.toContain(PASSWORD);
        expect(d.body).not.toContain('ghost');
      }
      const { rows: all } = await sql<{ row: string }>`SELECT t::text AS row FROM audit_events t`.execute(srv.services.database.db);
      const everything = [all.map((r) => r.row).join('\n'), srv.logs.text()].join('\n');
      expect(everything).not.toContain(PASSWORD);
      expect(everything).not.toContain(SECRET);
      expect(everything).not.toContain('canary-url-query-secret');
    } finally {
      await srv?.stop();
      await receiver.close();
    }
  });
});
