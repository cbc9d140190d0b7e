import type { RequestContext } from '../access/index.js';
import { CREDENTIAL_FIELDS, redactAgentText, type AgentActionResult, type CredentialField, type AgentControls, type BrowserSession } from '../browser/index.js';
import { AppError, base32Decode, totp, type Clock } from '../core/index.js';
import type { Principal } from '../identity/index.js';
import type { VaultReader } from '../vault/index.js';
import type { LiveSession, LiveSessions } from './live-sessions.js';
import type { SessionAudit } from './session-audit.js';
import type { AgentHandle, EndReason, SessionRecord } from './types.js';

/** What an agent is told when its session is gone, by end reason. */
export const ENDED_MESSAGES: Record<EndReason, string> = {
  admin: 'This session was ended by an administrator.',
  user: 'This session was closed by its owner.',
  idle_timeout: 'This session ended after too long without input (idle timeout).',
  max_duration: 'This session reached the maximum duration its asset allows and was ended.',
  login_failed: 'This session ended because the portal login failed.',
  browser_crashed: 'This session ended because its browser stopped.',
  shutdown: 'This session ended because the server shut down.',
  node_restart: 'This session ended because its server node restarted.',
  recording_failed: 'This session ended because its recording could not be written (its asset requires recording).',
};

export function endedError(reason: EndReason | null | undefined): AppError {
  return new AppError('session_ended', { publicMessage: reason ? ENDED_MESSAGES[reason] : 'This browser session has ended.', data: reason ? { reason } : undefined });
}

const CONTROL_METHODS = ['snapshot', 'click', 'type', 'selectOption', 'pressKey', 'hover', 'navigate', 'goBack', 'waitFor', 'screenshot', 'fillCredential'] as const;
const MAX_TOOL_NAME = 64;
const MAX_SUMMARY = 500;

export interface AgentHandleDeps {
  vault: VaultReader;
  live: LiveSessions;
  audit: SessionAudit;
  clock: Clock;
}

/**
 * The owner's handle for tool calls on a live session of this node (`s`): each call counts as input
 * and fails with the session's end reason once it ended; the redaction values come from one vault
 * read per session (purpose `redact`), copied into Buffers that the session's end wipes.
 */
export async function openAgentHandle(deps: AgentHandleDeps, s: LiveSession, browser: BrowserSession, principal: Principal, context: RequestContext): Promise<AgentHandle> {
  const redact = s.secrets.redaction;
  await loadSecrets(deps, s, principal, context);

  const alive = () => {
    if (s.ending || browser.closed) throw endedError(s.endingReason ?? s.record.endReason);
  };
  /** A session_ended from the browser (it closed under the call) is answered with the session's reason. */
  const translate = (error: unknown): never => {
    if (error instanceof AppError && error.code === 'session_ended') throw endedError(s.endingReason ?? s.record.endReason);
    throw error;
  };
  const controls = {} as Record<(typeof CONTROL_METHODS)[number], (...args: never[]) => Promise<unknown>>;
  for (const name of CONTROL_METHODS) {
    controls[name] = async (...args: never[]) => {
      alive();
      deps.live.touch(s);
      try {
        return await (browser.agent[name] as (...a: never[]) => Promise<unknown>)(...args);
      } catch (error) {
        return translate(error);
      } finally {
        deps.live.touch(s);
      }
    };
  }

  return {
    get record(): SessionRecord {
      return s.record;
    },
    controls: controls as unknown as AgentControls,
    redact,
    async fillCredential(ref: string, field: string, callContext: RequestContext = context): Promise<AgentActionResult> {
      alive();
      // Only what a login form asks for: any other stored field (the TOTP seed above all) is never typed into a page.
      if (!isCredentialField(field)) throw new AppError('invalid_request', { publicMessage: `The field is one of ${CREDENTIAL_FIELDS.join(', ')}.` });
      const entryId = s.record.credential;
      if (!entryId) throw new AppError('invalid_request', { publicMessage: 'This asset has no credential to fill in.' });
      deps.live.touch(s);
      const value = await readField(deps, s, principal, entryId, field, callContext);
      try {
        alive();
        return await browser.agent.fillCredential(ref, value, { redact, secret: field }).catch(translate);
      } finally {
        value.fill(0);
        deps.live.touch(s);
      }
    },
    takeChoosersDismissed: () => browser.transfers.takeChoosersDismissed(),
    recordTool(tool: string, summary: string): void {
      if (s.ending || !s.recording) return;
      const name = String(tool).replace(/[^a-z0-9_.-]/gi, '').slice(0, MAX_TOOL_NAME);
      s.recording.event({ type: 'tool', tool: name, summary: redactAgentText(redact, String(summary)).slice(0, MAX_SUMMARY) });
    },
  };
}

function isCredentialField(field: unknown): field is CredentialField {
  return typeof field === 'string' && (CREDENTIAL_FIELDS as readonly string[]).includes(field);
}

/** The credential's values, read once per session; a read that lands after the end is wiped at once. */
export async function loadSecrets(deps: AgentHandleDeps, s: LiveSession, principal: Principal, context: RequestContext): Promise<void> {
  const secrets = s.secrets;
  if (secrets.values || secrets.wiped) return;
  const entryId = s.record.credential;
  if (!entryId) {
    secrets.values = [];
    return;
  }
  secrets.loading ??= (async () => {
    const fields = await deps.vault.read({ entryId, sessionId: s.record.id, purpose: 'redact', actor: deps.audit.actorOf(principal), context });
    try {
      const copies: Buffer[] = [];
      for (const name of fields.names) {
        const value = fields.get(name);
        if (value && value.length > 0) copies.push(Buffer.from(value));
      }
      return copies;
    } finally {
      fields.dispose();
    }
  })();
  try {
    const values = await secrets.loading;
    if (secrets.wiped) {
      for (const v of values) v.fill(0);
      throw endedError(s.endingReason ?? s.record.endReason);
    }
    secrets.values ??= values;
  } catch (error) {
    // A failed read is tried again by the next call; without the values no tool runs (fail closed).
    secrets.loading = null;
    throw error;
  }
}

/** One audited vault read (purpose `fill_credential`) for one field; the caller wipes the copy. TOTP is computed now from `totpSeed`. */
async function readField(deps: AgentHandleDeps, s: LiveSession, principal: Principal, entryId: string, field: CredentialField, context: RequestContext): Promise<Buffer> {
  const fields = await deps.vault.read({ entryId, sessionId: s.record.id, purpose: 'fill_credential', actor: deps.audit.actorOf(principal), context });
  try {
    if (field === 'totp') {
      const seed = fields.get('totpSeed');
      if (!seed || seed.length === 0) throw new AppError('invalid_request', { publicMessage: 'The credential has no TOTP seed.' });
      let key: Buffer;
      try {
        key = base32Decode(seed.toString('utf8').replace(/\s+/g, ''));
      } catch {
        throw new AppError('invalid_request', { publicMessage: "The credential's TOTP seed is not base32." });
      }
      try {
        return Buffer.from(totp(key, deps.clock.now()), 'utf8');
      } finally {
        key.fill(0);
      }
    }
    const value = fields.get(field);
    if (!value || value.length === 0) throw new AppError('invalid_request', { publicMessage: `The credential has no field ${field}.` });
    return Buffer.from(value);
  } finally {
    fields.dispose();
  }
}
