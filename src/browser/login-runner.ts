// The seam to the login runner (src/browser/login/run-login.ts, written beside this module).
// Until that file exists, login fails closed with a message that says so.
import type { BrowserContext, Page } from 'playwright-core';
import type { LoginGuard, LoginInput, LoginOutcome } from './types.js';

export async function runLogin(_page: Page, _context: BrowserContext, _input: LoginInput, _guard: LoginGuard): Promise<LoginOutcome> {
  return { ok: false, step: '0: runner', message: 'the login runner is not installed', durationMs: 0 };
}
