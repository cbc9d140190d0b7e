import { beforeEach, describe, expect, it } from 'vitest';
import { AppError, base32Encode } from '../../src/core/index.js';
import { useTestDatabase } from '../support/databases.js';
import { ManualClock } from '../support/manual-clock.js';
import { buildStack, CANARY_PASSWORD, CANARY_USERNAME, CLI, eventually, type SessionStack, usePoolAndPortal } from './support.js';

// BrowserSessions.agent(): the owner's handle for MCP tool calls, against the real parts (database,
// audit trail, vault, recordings, Chromium, the demo portal). The canary is searched everywhere.

const shared = usePoolAndPortal();
/** A TOTP seed added to the vault entry: it must never come out either. */
const CANARY_SEED = base32Encode(Buffer.from('agent-canary-seed-0123'));

function refOf(text: string, needle: string): string {
  const ref = /\[ref=([a-z0-9]+)\]/.exec(text.split('\n').find((l) => l.includes(needle)) ?? '')?.[1];
  if (!ref) throw new Error(`no ref for ${needle} in:\n${text}`);
  return ref;
}

describe('browser sessions: the agent handle', () => {
  const fresh = useTestDatabase();
  let stack: SessionStack;
  let clock: ManualClock;

  beforeEach(async () => {
    clock = new ManualClock(Date.now());
    stack = await buildStack(fresh, shared.pool, shared.portalUrl, { clock });
    fresh.defer(() => stack.close());
    await stack.vault.set({ entryId: 'bank-login', values: new Map([['totpSeed', Buffer.from(CANARY_SEED)]]), merge: true }, CLI);
  });

  it('drives the portal through tools; one redaction read per session; fill_credential reads again; tool events recorded; the canary appears nowhere', async () => {
    const alice = await stack.operator('alice');
    const session = await stack.sessions.start(alice, 'bank');
    const handle = await stack.sessions.agent(session.id, alice, { requestId: 'mcp-1' });
    expect(handle.record).toMatchObject({ id: session.id, state: 'active' });
    const { controls, redact } = handle;
    const outputs: unknown[] = [];

    const accounts = await controls.snapshot({ redact });
    outputs.push(accounts);
    expect(accounts.text).toContain('€12,345.67');
    // The username is a vault value too: redacted like the password.
    expect(accounts.text).not.toContain(CANARY_USERNAME);
    handle.recordTool('snapshot', 'snapshot of the accounts page');

    // The careless page prints the password: the vault's values redact it.
    outputs.push(await controls.navigate(`${shared.portalUrl}/profile`, { redact }));
    const careless = await controls.snapshot({ redact });
    outputs.push(careless);
    expect(careless.text).toContain('Your password is');
    expect(careless.text).toContain('[REDACTED]');
    outputs.push(await controls.screenshot({ redact }).then((s) => ({ ...s, jpeg: s.jpeg.length })));
    handle.recordTool('navigate', `navigate to /profile; the page said ${CANARY_PASSWORD}`);

    // fill_credential: the field's value never comes back; the vault read is its own, audited.
    await controls.navigate(`${shared.portalUrl}/login`, { redact });
    const login = await controls.snapshot({ redact });
    const filled = await handle.fillCredential(refOf(login.text, 'textbox "Password"'), 'password', { requestId: 'mcp-2' });
    outputs.push(filled);
    expect(filled).toMatchObject({ field: 'password', target: 'textbox "Password"' });
    const totp = await handle.fillCredential(refOf(login.text, 'textbox "Username"'), 'totp');
    expect(totp).toMatchObject({ field: 'text' });
    const after = await controls.snapshot({ redact });
    outputs.push(after);
    expect(after.text).toMatch(/textbox "Password"[^\n]*: \[REDACTED\]/);
    // The one-time code is a secret too, in whatever field it was typed.
    expect(after.text).toMatch(/textbox "Username"[^\n]*: "?\[REDACTED\]"?/);
    expect(after.text).not.toMatch(/\d{6}/);
    // Only username, password and totp are ever typed: no other stored field (the seed above all), and nothing is read for them.
    await expect(handle.fillCredential(refOf(login.text, 'textbox "Username"'), 'totpSeed')).rejects.toMatchObject({ code: 'invalid_request' });
    await expect(handle.fillCredential(refOf(login.text, 'textbox "Password"'), 'branchCode')).rejects.toMatchObject({ code: 'invalid_request' });
    await expect(handle.fillCredential(refOf(login.text, 'textbox "Password"'), '../etc')).rejects.toMatchObject({ code: 'invalid_request' });
    outputs.push(await controls.click('e98765', { redact }).catch((e: AppError) => e.publicMessage));

    // A second handle reuses the values: still one `redact` read for the session.
    const again = await stack.sessions.agent(session.id, alice);
    outputs.push(await again.controls.snapshot({ redact: again.redact }));
    const reads = (await stack.auditRows({ action: 'vault.secret.read' })).map((r) => r.details as { purpose: string; session: string });
    expect(reads.filter((r) => r.purpose === 'redact')).toHaveLength(1);
    expect(reads.filter((r) => r.purpose === 'fill_credential')).toHaveLength(2);
    expect(reads.every((r) => r.session === session.id)).toBe(true);

    await stack.sessions.end(session.id, alice);
    // The values were wiped with the session, and the patterns made of them dropped.
    expect(handle.redact.values()).toEqual([]);
    expect(handle.redact.compiled?.entry).toBeUndefined();
    await expect(handle.controls.snapshot({ redact })).rejects.toMatchObject({ code: 'session_ended', publicMessage: 'This session was closed by its owner.' });
    await expect(stack.sessions.agent(session.id, alice)).rejects.toMatchObject({ code: 'session_ended', publicMessage: 'This session was closed by its owner.' });

    const [recording] = (await stack.recordings.list({})).items;
    const events = await stack.recordings.events(recording!.id);
    const tools = events.filter((e) => e.type === 'tool');
    expect(tools).toEqual([
      expect.objectContaining({ type: 'tool', tool: 'snapshot', summary: 'snapshot of the accounts page' }),
      expect.objectContaining({ type: 'tool', tool: 'navigate', summary: 'navigate to /profile; the page said [REDACTED]' }),
    ]);
    const summary = await stack.recordings.get(recording!.id);
    const chunks: Buffer[] = [];
    for (let seq = 1; seq <= (summary?.chunks ?? 0); seq++) chunks.push((await stack.recordings.chunk(recording!.id, seq)) ?? Buffer.alloc(0));
    expect(chunks.length).toBeGreaterThan(0);

    const everywhere = [JSON.stringify(outputs), await stack.auditText(), stack.logs.text(), JSON.stringify(events), ...chunks.map((c) => c.toString('latin1'))].join('\n');
    for (const canary of [CANARY_PASSWORD, CANARY_SEED, encodeURIComponent(CANARY_PASSWORD)]) expect(everywhere).not.toContain(canary);
  });

  it('after an administrator ends it, the agent is told so; a non-owner gets not_found; tool calls count as input', async () => {
    await stack.assets.update('bank', { policy: { idleTimeoutMinutes: 10 } }, CLI);
    const alice = await stack.operator('alice');
    const walter = await stack.operator('walter', 'bank', ['watch']);
    const mallory = await stack.operator('mallory');
    const session = await stack.sessions.start(alice, 'bank');

    await expect(stack.sessions.agent(session.id, mallory)).rejects.toMatchObject({ code: 'not_found' });
    await expect(stack.sessions.agent(session.id, walter)).rejects.toMatchObject({ code: 'not_found' });
    await expect(stack.sessions.agent('00000000-0000-4000-8000-000000000000', alice)).rejects.toMatchObject({ code: 'not_found' });

    const handle = await stack.sessions.agent(session.id, alice);
    clock.advance(9 * 60_000);
    await handle.controls.snapshot({ redact: handle.redact });
    // The record says when the last input was at once (the live view counts down the idle time from it), not at the next write to the database.
    const touchedAt = clock.now();
    expect(Date.parse((await stack.sessions.get(session.id, alice)).lastInputAt)).toBe(touchedAt);
    clock.advance(9 * 60_000);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect((await stack.sessions.get(session.id, alice)).state).toBe('active');

    await stack.sessions.end(session.id, CLI, { message: 'stop now' });
    const error = await stack.sessions.agent(session.id, alice).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AppError);
    expect(error).toMatchObject({ code: 'session_ended', status: 410, publicMessage: 'This session was ended by an administrator.' });
    await expect(handle.controls.click('e1', { redact: handle.redact })).rejects.toMatchObject({ code: 'session_ended', publicMessage: 'This session was ended by an administrator.' });
    await expect(handle.fillCredential('e1', 'password')).rejects.toMatchObject({ code: 'session_ended', publicMessage: 'This session was ended by an administrator.' });
  });

  it('an idle-timeout end is named as such', async () => {
    await stack.assets.update('bank', { policy: { idleTimeoutMinutes: 10 } }, CLI);
    const alice = await stack.operator('alice');
    const session = await stack.sessions.start(alice, 'bank');
    clock.advance(10 * 60_000 + 1);
    await eventually(async () => (await stack.sessions.get(session.id, alice)).state === 'ended');
    await expect(stack.sessions.agent(session.id, alice)).rejects.toMatchObject({ code: 'session_ended', publicMessage: expect.stringContaining('idle timeout') });
  });
});
