import type { Kysely } from 'kysely';
import { z } from 'zod';
import { checkRecipeHosts, type Access, type AssetRecord, type RequestContext } from '../access/index.js';
import type { AuditTrail } from '../audit/index.js';
import type { BrowserPool, BrowserSession, LoginOutcome } from '../browser/index.js';
import { AppError, loginRecipeSchema, pageCheckSchema, type Clock, type IdGenerator } from '../core/index.js';
import type { Principal } from '../identity/index.js';
import type { Tables } from '../store/index.js';
import type { VaultReader } from '../vault/index.js';
import { createSessionAudit } from './session-audit.js';
import { createSessionStore } from './session-store.js';
import type { SessionsLogger } from './types.js';

export interface TrialLoginDeps {
  db: Kysely<Tables>;
  access: Access;
  assets: { get(id: string): Promise<AssetRecord | null> };
  vault: VaultReader;
  pool: BrowserPool;
  trail: AuditTrail;
  clock: Clock;
  ids: IdGenerator;
  nodeId: string;
  logger: SessionsLogger;
  /** Deadline of the login (default 30 s, as a session's). */
  loginTimeoutMs?: number | undefined;
}

/** What to try instead of the saved definition: absent keeps the saved value, null the default (automatic recipe, default checks). */
export interface TrialInput {
  loginRecipe?: unknown;
  successCheck?: unknown;
  failureCheck?: unknown;
}

/**
 * The step that failed, numbered as a session's failed login names it: `index` is the top-level
 * step (1 for the recipe's first); 0 is before the recipe (reading the credential, opening the
 * start URL) and the number after the last step is the success/failure check. `kind` is the
 * step's kind (`fill`, `click`, ..., `auto` for the automatic recipe, `credential`, `start`,
 * `check`); `label` is the runner's label (`4.2: fill #otp`): selectors and URLs, never a value.
 */
export interface FailedStep {
  index: number;
  kind: string;
  label: string;
}

export type TrialResult = { ok: true; durationMs: number } | { ok: false; failedStep: FailedStep; message: string; durationMs: number };

export interface TrialLogin {
  /**
   * Runs the asset's login (or `input`'s unsaved recipe and checks) in a throwaway isolated context
   * of the shared pool, as a session's login runs: the asset's hosts only, the credential read from
   * the vault inside the browser module, its concurrency limit held while it runs. Needs
   * `admin.policy.write`. Audited as `asset.login_tested`. The answer never holds a value.
   */
  run(principal: Principal, assetId: string, input: TrialInput, context?: RequestContext): Promise<TrialResult>;
  /** Stops the trials in flight (they answer as failed) and refuses new ones. */
  shutdown(): void;
}

const inputSchema = z.strictObject({
  loginRecipe: loginRecipeSchema.nullable().optional(),
  successCheck: pageCheckSchema.nullable().optional(),
  failureCheck: pageCheckSchema.nullable().optional(),
});

/** Attempts when a start of the same caller on the same asset got in between the count and the reservation. */
const RESERVE_ATTEMPTS = 5;

export function createTrialLogin(deps: TrialLoginDeps): TrialLogin {
  for (const key of ['db', 'access', 'assets', 'vault', 'pool', 'trail', 'clock', 'ids', 'logger'] as const) {
    if (!deps[key]) throw new TypeError(`createTrialLogin: ${key} is required`);
  }
  const store = createSessionStore(deps.db);
  const audit = createSessionAudit(deps.trail, deps.nodeId);
  const inFlight = new Set<AbortController>();
  let accepting = true;

  /** Holds a place under the credential's limit: a browser-session row in state `starting`, deleted when the trial ends. */
  async function reserve(principal: Principal, asset: AssetRecord, context: RequestContext): Promise<string> {
    for (let attempt = 1; ; attempt++) {
      const own = await store.countLive({ assetId: asset.id, userId: principal.id });
      const result = await store.reserve({
        id: deps.ids.uuid(),
        assetId: asset.id,
        userId: principal.id,
        principalKind: 'user',
        credential: asset.credential,
        onBehalfOf: null,
        nodeId: deps.nodeId,
        now: deps.clock.now(),
        // Only the credential's limit: a test is not one of the asset's sessions, but it uses the account.
        maxSessions: null,
        maxSessionsPerCredential: asset.policy.maxSessionsPerCredential,
        decidedOwnCount: own,
      });
      if (result.ok) return result.record.id;
      if (result.code === 'asset_gone') throw new AppError('not_found', { publicMessage: 'No such asset.' });
      if (result.code === 'decide_again') {
        if (attempt < RESERVE_ATTEMPTS) continue;
        throw new AppError('conflict', { publicMessage: 'Sessions of yours on this asset are starting; try again.' });
      }
      await audit.record('asset.login_tested', 'denied', { kind: 'asset', id: asset.id }, audit.actorOf(principal), { vaultEntry: asset.credential, reason: result.code, inUse: result.inUse, limit: result.limit }, context);
      throw new AppError(result.code, {
        publicMessage: `This asset's credential is in use by ${result.inUse} session${result.inUse === 1 ? '' : 's'} (at most ${result.limit} at once); test the login when one ends.`,
        data: { inUse: result.inUse, limit: result.limit },
      });
    }
  }

  async function logIn(principal: Principal, asset: AssetRecord, trial: Required<Pick<AssetRecord, 'loginRecipe' | 'successCheck' | 'failureCheck'>>, id: string, entryId: string, context: RequestContext, signal: AbortSignal): Promise<LoginOutcome> {
    let browser: BrowserSession;
    const { downloads, uploads, clipboardCopy, clipboardPaste } = asset.policy;
    try {
      browser = await deps.pool.open({
        sessionId: id,
        allowedHosts: asset.allowedHosts,
        allowInsecureHttp: asset.allowInsecureHttp,
        policy: { downloads, uploads, clipboardCopy, clipboardPaste },
        recordKeystrokes: 'masked',
        onEvent: () => undefined,
      });
    } catch (error) {
      deps.logger.error({ err: error, asset: asset.id }, 'could not open a browser context for a login test');
      throw error instanceof AppError ? error : new AppError('browser_unavailable', { cause: error });
    }
    try {
      return await browser.login({
        startUrl: asset.startUrl,
        recipe: trial.loginRecipe,
        successCheck: trial.successCheck,
        failureCheck: trial.failureCheck,
        readCredential: () => deps.vault.read({ entryId, sessionId: id, purpose: 'login_test', actor: audit.actorOf(principal), context }),
        timeoutMs: deps.loginTimeoutMs ?? 30_000,
        signal,
      });
    } finally {
      await browser.close().catch((error: unknown) => deps.logger.warn({ err: error, asset: asset.id }, 'could not close the context of a login test'));
    }
  }

  return {
    async run(principal, assetId, input, context = {}) {
      await deps.access.authorize(principal, 'admin.policy.write', context);
      const parsed = parseTrialInput(input);
      const asset = typeof assetId === 'string' ? await deps.assets.get(assetId) : null;
      if (!asset) throw new AppError('not_found', { publicMessage: 'No such asset.' });
      if (asset.credential === null) throw new AppError('conflict', { publicMessage: 'This asset names no vault entry: its sessions open without a login, so there is no login to test.' });
      if (!accepting) throw new AppError('shutting_down');
      const trial = {
        loginRecipe: parsed.loginRecipe === undefined ? asset.loginRecipe : parsed.loginRecipe,
        successCheck: parsed.successCheck === undefined ? asset.successCheck : parsed.successCheck,
        failureCheck: parsed.failureCheck === undefined ? asset.failureCheck : parsed.failureCheck,
      };
      checkRecipeHosts(trial.loginRecipe, asset.allowedHosts);
      const unsaved = Object.values(parsed).some((value) => value !== undefined);
      const id = await reserve(principal, asset, context);
      const cancel = new AbortController();
      inFlight.add(cancel);
      let outcome: LoginOutcome;
      try {
        outcome = await logIn(principal, asset, trial, id, asset.credential, context, cancel.signal);
      } finally {
        inFlight.delete(cancel);
        await store.release(id).catch((error: unknown) => deps.logger.error({ err: error, asset: asset.id }, 'could not release the place a login test held'));
      }
      const result = toResult(outcome);
      await audit.record(
        'asset.login_tested',
        result.ok ? 'success' : 'failure',
        { kind: 'asset', id: asset.id },
        audit.actorOf(principal),
        {
          vaultEntry: asset.credential,
          recipe: trial.loginRecipe ? 'custom' : 'automatic',
          unsaved,
          durationMs: result.durationMs,
          ...(result.ok ? {} : { step: result.failedStep.index, stepKind: result.failedStep.kind, message: result.message }),
        },
        context,
      );
      return result;
    },

    shutdown() {
      accepting = false;
      for (const cancel of inFlight) cancel.abort();
    },
  };
}

/**
 * The unsaved recipe and checks, by the schemas PATCH /api/admin/assets/:id uses (problems name the field, never the value).
 * An absolute goto off the allowed hosts is refused with them (checkRecipeHosts), before anything is held or run.
 */
function parseTrialInput(input: TrialInput): z.infer<typeof inputSchema> {
  const result = inputSchema.safeParse(input ?? {});
  if (result.success) return result.data;
  throw new AppError('invalid_request', {
    publicMessage: 'The request is invalid; see details.',
    data: result.error.issues.map((i) => ({ field: i.path.join('.') || 'body', problem: i.message })),
  });
}

/** The runner's outcome as the API answers it: the failed step by number and kind, and why, in the runner's own words. */
export function toResult(outcome: LoginOutcome): TrialResult {
  if (outcome.ok) return { ok: true, durationMs: outcome.durationMs };
  const failedStep = describeLabel(outcome.step);
  return { ok: false, failedStep, message: `Step ${failedStep.label} failed: ${outcome.message}`.slice(0, 500), durationMs: outcome.durationMs };
}

/** '4.2: fill #otp' → { index: 4, kind: 'fill' }; '0: read the credential' → credential; 'N: check the result' → check. */
function describeLabel(label: string): FailedStep {
  const index = Number.parseInt(label, 10);
  const text = label.slice(label.indexOf(':') + 1).trim();
  const kind =
    text === 'read the credential' ? 'credential' : text === 'open the start URL' ? 'start' : text === 'check the result' ? 'check' : text.startsWith('auto:') ? 'auto' : (/^[A-Za-z]+/.exec(text)?.[0] ?? 'step');
  return { index: Number.isFinite(index) ? index : 0, kind, label: label.slice(0, 160) };
}
