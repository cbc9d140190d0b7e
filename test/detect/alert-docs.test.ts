import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { createMemoryState } from '../../src/cluster/index.js';
import { createDetect, signAlertBody, verifyAlertSignature } from '../../src/detect/index.js';
import { buildAudit, silentLogger } from '../support/audit-fixtures.js';
import { useTestDatabase } from '../support/databases.js';
import { startReceiver, waitFor } from './receiver.js';

// docs/operations.md, "Alerts", shows a real request and a verification snippet for receivers.
// These tests keep both true: the product sends exactly that body and signature, and the
// snippet (run as written) accepts the product's deliveries and refuses tampered ones.

const doc = readFileSync(join(resolve(dirname(fileURLToPath(import.meta.url)), '../..'), 'docs/operations.md'), 'utf8');
const blocks = new Map([...doc.matchAll(/^```\w* id=([\w-]+)\n([\s\S]*?)\n```$/gm)].map((m) => [m[1]!, m[2]!]));
const header = (name: string) => new RegExp(`^${name}: (.+)$`, 'm').exec(doc)?.[1];
type Verify = (secret: string, headers: Record<string, string | undefined>, rawBody: string, nowMs?: number) => boolean;
// Run as a receiver would: the snippet alone, as a CommonJS file.
const snippetDir = mkdtempSync(join(tmpdir(), 'webasset-alert-doc-'));
writeFileSync(join(snippetDir, 'verify.cjs'), `${blocks.get('alert-verify')!}\nmodule.exports = verifyWebassetAlert;\n`);
const docVerify = createRequire(import.meta.url)(join(snippetDir, 'verify.cjs')) as Verify;
afterAll(() => rmSync(snippetDir, { recursive: true, force: true }));

describe('docs/operations.md, Alerts', () => {
  const fresh = useTestDatabase();
  const secret = blocks.get('alert-secret')!;
  const body = blocks.get('alert-body')!;
  const timestamp = header('X-Webasset-Timestamp')!;
  const signature = header('X-Webasset-Signature')!;

  it('shows a signature that an independent HMAC, the product and the snippet all reproduce', () => {
    expect(signAlertBody(secret, timestamp, body)).toBe(signature);
    const nowMs = Number(timestamp) * 1000 + 1_000;
    expect(verifyAlertSignature({ secret, timestamp, signature, body, nowMs })).toBe(true);
    const headers = { 'x-webasset-timestamp': timestamp, 'x-webasset-signature': signature };
    expect(docVerify(secret, headers, body, nowMs)).toBe(true);
    expect(docVerify(secret, headers, body.replace('"count":6', '"count":7'), nowMs)).toBe(false);
    expect(docVerify(secret, headers, body, nowMs + 10 * 60_000)).toBe(false);
    expect(docVerify(`${secret}x`, headers, body, nowMs)).toBe(false);
    expect(docVerify(secret, { ...headers, 'x-webasset-signature': undefined }, body, nowMs)).toBe(false);
  });

  it('shows the body the product sends, byte for byte, which the snippet verifies', async () => {
    const example = JSON.parse(body) as { id: string; time: string; node: string };
    const clock = { now: () => Date.parse(example.time) };
    const audit = buildAudit(fresh.db.database, fresh.db.dataDir, { clock });
    await audit.trail.start();
    fresh.defer(() => audit.trail.close());
    const state = createMemoryState({ clock });
    fresh.defer(() => state.close());
    const receiver = await startReceiver();
    fresh.defer(() => receiver.close());
    const detect = createDetect({
      trail: audit.trail,
      state,
      clock,
      logger: silentLogger(),
      ids: { uuid: () => example.id, token: () => 'unused' },
      actor: { kind: 'system', id: example.node, name: 'webasset' },
      webhooks: { urls: [receiver.url], secret },
    });
    for (let i = 0; i < 6; i += 1) await detect.signInFailed({ account: 'alice', ip: `192.0.2.${i}`, context: {} });
    await waitFor(() => receiver.deliveries.length === 1);
    await detect.close();
    const [delivery] = receiver.deliveries;
    expect(delivery!.body).toBe(body);
    expect(delivery!.headers['x-webasset-timestamp']).toBe(timestamp);
    expect(delivery!.headers['x-webasset-signature']).toBe(signature);
    expect(docVerify(secret, delivery!.headers as Record<string, string>, delivery!.body, clock.now())).toBe(true);
  });
});
