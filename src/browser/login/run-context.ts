import type { BrowserContext, Page } from 'playwright-core';
import type { LoginGuard } from '../types.js';
import type { LoginCredential } from './credential.js';
import { StepFailure } from './failure.js';
import type { PasswordInjector } from './inject-password.js';

/** The state of one login run, shared by the recipe steps, the automatic recipe and the checks. */
export interface LoginRun {
  readonly page: Page;
  readonly context: BrowserContext;
  readonly guard: LoginGuard;
  readonly credential: LoginCredential;
  readonly injection: 'intercept' | 'fill';
  readonly startUrl: string;
  readonly deadline: number;
  readonly timeoutMs: number;
  /** The session ended: every step and poll stops (see cancelled()). */
  readonly signal: AbortSignal | undefined;
  /** Installed at the first password fill in intercept mode. */
  injector: PasswordInjector | undefined;
  /** Label of the step running now ('3: fill #password'): what a failure names. */
  current: string;
  /** The URL the login form was on (the default success check wants to leave it). */
  loginUrl: string;
  /** Main-frame navigations so far, and their count when the previous step began (waitFor navigation). */
  navigations: number;
  navigationsAtPreviousStep: number;
}

/** What a login ended by its session fails with. */
export const CANCELLED = 'the session ended during the login';

/** Throws when the session ended; called by every loop of the runner. */
export function checkCancelled(run: Pick<LoginRun, 'signal'>): void {
  if (run.signal?.aborted) throw new StepFailure(CANCELLED);
}

/** Milliseconds left before the deadline; a step that starts after it fails naming the overall timeout (or the end of the session). */
export function remaining(run: LoginRun): number {
  checkCancelled(run);
  const left = run.deadline - Date.now();
  if (left <= 0) throw new StepFailure(`the login took longer than ${Math.round(run.timeoutMs / 1000)} s`);
  return left;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
