import type { BrowserContext, Page } from 'playwright-core';
import type { LoginGuard, LoginInput, LoginOutcome } from '../types.js';
import { runAutoRecipe } from './auto-recipe.js';
import { awaitVerdict, type Checks } from './checks.js';
import { wrapCredential, type LoginCredential } from './credential.js';
import { describeFailure, StepFailure } from './failure.js';
import { CANCELLED, remaining, type LoginRun } from './run-context.js';
import { runSteps } from './steps.js';

export const DEFAULT_LOGIN_TIMEOUT_MS = 30_000;

/**
 * Signs the page in: read the credential (once), open the start URL, run the recipe (or the
 * automatic one), then wait for the success or failure check. Never throws and never returns a
 * value: a failure names the step ('3: fill #password') and says why in our own words. The
 * credential is disposed and the password interception removed whatever happens. When
 * `input.signal` aborts (the session ended), the outcome is a failure at once.
 */
export async function runLogin(page: Page, context: BrowserContext, input: LoginInput, guard: LoginGuard): Promise<LoginOutcome> {
  const started = Date.now();
  const timeoutMs = input.timeoutMs ?? DEFAULT_LOGIN_TIMEOUT_MS;
  const injection = input.recipe?.injection ?? 'intercept';
  const checks: Checks = { success: input.successCheck, failure: input.failureCheck };
  const signal = input.signal;
  let step = '0: read the credential';
  let credential: LoginCredential | undefined;
  let run: LoginRun | undefined;
  const onNavigated = (frame: unknown) => {
    if (run && frame === page.mainFrame()) run.navigations++;
  };
  const failed = (message: string): LoginOutcome => ({ ok: false, step: run?.current ?? step, message, durationMs: Date.now() - started });
  page.on('framenavigated', onNavigated);
  try {
    // No credential is read for a session that has ended; one read while it ended is disposed below.
    if (signal?.aborted) return failed(CANCELLED);
    try {
      credential = wrapCredential(await input.readCredential());
    } catch {
      return failed('the credential could not be read');
    }
    if (signal?.aborted) return failed(CANCELLED);
    step = '0: open the start URL';
    if (!guard.isAllowedOrigin(input.startUrl)) throw new StepFailure('refused: the start URL is not on an allowed origin (or is plain http)');
    const deadline = started + timeoutMs;
    const current: LoginRun = {
      page,
      context,
      guard,
      credential,
      injection,
      startUrl: input.startUrl,
      deadline,
      timeoutMs,
      signal,
      injector: undefined,
      current: step,
      loginUrl: '',
      navigations: 0,
      navigationsAtPreviousStep: 0,
    };
    run = current;
    // The steps stop at their next check of the signal; the race answers at once, without waiting for a Playwright call in flight.
    return await untilAborted(signal, signInAndCheck(current, input, checks, started));
  } catch (error) {
    return failed(describeFailure(error, timeoutMs));
  } finally {
    page.off('framenavigated', onNavigated);
    await run?.injector?.uninstall().catch(() => undefined);
    credential?.dispose();
  }
}

async function signInAndCheck(run: LoginRun, input: LoginInput, checks: Checks, started: number): Promise<LoginOutcome> {
  const failed = (message: string): LoginOutcome => ({ ok: false, step: run.current, message, durationMs: Date.now() - started });
  await run.page.goto(input.startUrl, { waitUntil: 'domcontentloaded', timeout: remaining(run) });
  run.loginUrl = run.page.url();

  if (input.recipe) await runSteps(run, run.page, input.recipe.steps);
  else await runAutoRecipe(run, checks);

  run.current = `${nextNumber(run.current)}: check the result`;
  const result = await awaitVerdict(run, checks);
  if (result === 'success') return { ok: true, injection: run.injection, durationMs: Date.now() - started };
  if (result === 'timeout') return failed(`neither the success nor the failure check passed within ${Math.round(run.timeoutMs / 1000)} s`);
  const unsent = run.injector !== undefined && run.injector.swaps === 0;
  return failed(
    unsent
      ? 'the portal refused the login (failure check); the password was never sent in a form or JSON request to the login endpoint, so this portal may need injection: fill'
      : 'the portal refused the login (failure check)',
  );
}

/** Settles with `work`, or throws the cancellation as soon as `signal` aborts (the work's own rejection is then ignored). */
function untilAborted<T>(signal: AbortSignal | undefined, work: Promise<T>): Promise<T> {
  if (!signal) return work;
  work.catch(() => undefined);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new StepFailure(CANCELLED));
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/** '3: fill #x' → 4; '4.2: fill #x' → 5 (the check follows the last top-level step). */
function nextNumber(label: string): number {
  return Number.parseInt(label, 10) + 1 || 1;
}
