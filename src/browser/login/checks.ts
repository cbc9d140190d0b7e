import type { Frame, Page } from 'playwright-core';
import { compileUrlPattern, type PageCheck } from '../../core/index.js';
import { checkCancelled, sleep, type LoginRun } from './run-context.js';

/** How often the checks look again: one or two CDP round trips each, so cheap; smaller is a faster login. */
export const POLL_MS = 50;

/** Fields that mean "still on a login form". */
export const PASSWORD_FIELD = 'input[type="password"]';
export const ONE_TIME_CODE_FIELD =
  'input[autocomplete="one-time-code"], input[name*="otp" i], input[id*="otp" i], input[name*="mfa" i], input[name="code" i], input[id="code" i], input[name*="2fa" i]';
/** What portals commonly use for "wrong password" (used only while a login field is still shown). */
const ERROR_ELEMENT = '[role="alert"], .error, .alert-danger, .alert-error, .login-error, [aria-invalid="true"]';

/** True when some frame of the page shows an element matching `selector`; never waits. */
export async function visibleInAnyFrame(page: Page, selector: string): Promise<boolean> {
  for (const frame of framesMainFirst(page)) {
    if (await isVisible(frame, selector)) return true;
  }
  return false;
}

export function framesMainFirst(page: Page): Frame[] {
  const main = page.mainFrame();
  return [main, ...page.frames().filter((frame) => frame !== main)];
}

async function isVisible(frame: Frame, selector: string): Promise<boolean> {
  try {
    return await frame.locator(selector).filter({ visible: true }).first().isVisible();
  } catch {
    // A frame that navigates or detaches while we look: not visible now, the next poll looks again.
    return false;
  }
}

async function textVisible(page: Page, text: string): Promise<boolean> {
  for (const frame of framesMainFirst(page)) {
    try {
      if (await frame.getByText(text).filter({ visible: true }).first().isVisible()) return true;
    } catch {
      // as above
    }
  }
  return false;
}

/** Every given part of the check holds now. */
export async function checkHolds(page: Page, check: PageCheck): Promise<boolean> {
  if (check.url !== undefined && !compileUrlPattern(check.url)(page.url())) return false;
  if (check.selector !== undefined && !(await visibleInAnyFrame(page, check.selector))) return false;
  if (check.text !== undefined && !(await textVisible(page, check.text))) return false;
  return true;
}

/** Default success: no password field left anywhere and the page moved off the login URL. */
async function defaultSuccess(run: LoginRun): Promise<boolean> {
  return run.page.url() !== run.loginUrl && !(await visibleInAnyFrame(run.page, PASSWORD_FIELD)) && !(await visibleInAnyFrame(run.page, ONE_TIME_CODE_FIELD));
}

/** Default failure: a login field is still shown together with an error-looking element. */
async function defaultFailure(run: LoginRun): Promise<boolean> {
  const onForm = (await visibleInAnyFrame(run.page, PASSWORD_FIELD)) || (await visibleInAnyFrame(run.page, ONE_TIME_CODE_FIELD));
  return onForm && (await visibleInAnyFrame(run.page, ERROR_ELEMENT));
}

export interface Checks {
  success: PageCheck | null;
  failure: PageCheck | null;
}

/** Which way the login went so far: 'success', 'failure', or undefined while undecided. */
export async function verdict(run: LoginRun, checks: Checks): Promise<'success' | 'failure' | undefined> {
  if (await (checks.success ? checkHolds(run.page, checks.success) : defaultSuccess(run))) return 'success';
  if (await (checks.failure ? checkHolds(run.page, checks.failure) : defaultFailure(run))) return 'failure';
  return undefined;
}

/** Polls the checks until one decides or the deadline passes ('timeout'); throws StepFailure when the session ends. */
export async function awaitVerdict(run: LoginRun, checks: Checks): Promise<'success' | 'failure' | 'timeout'> {
  for (;;) {
    checkCancelled(run);
    const result = await verdict(run, checks);
    if (result) return result;
    if (Date.now() >= run.deadline) return 'timeout';
    await sleep(Math.min(POLL_MS, Math.max(0, run.deadline - Date.now())));
  }
}
