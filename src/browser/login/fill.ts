import type { ElementHandle } from 'playwright-core';
import { parseTemplate, TOTP_STEP_SECONDS } from '../../core/index.js';
import { formClaimSelector, READ_FORM_CLAIM } from '../form-claim.js';
import { StepFailure } from './failure.js';
import { installPasswordInjector } from './inject-password.js';
import { remaining, sleep, type LoginRun } from './run-context.js';

/**
 * Fills a value template into a field. A template that draws on the credential is filled only into
 * a page whose origin the asset allows, and only when its form posts to an allowed origin; in
 * intercept mode `{{password}}` is typed as the placeholder and the form's endpoint armed for the swap.
 */
export async function fillTemplate(run: LoginRun, field: ElementHandle, template: string): Promise<void> {
  const parts = parseTemplate(template);
  const secret = parts.some((part) => part.kind !== 'literal');
  let endpoint: string | undefined;
  if (secret) endpoint = await checkedEndpoint(run, field);
  let passwordAs: string | undefined;
  if (run.injection === 'intercept' && parts.some((part) => part.kind === 'field' && part.name === 'password')) {
    run.injector ??= await installPasswordInjector(run.context, run.guard, run.credential.field('password'));
    run.injector.arm(endpoint!);
    passwordAs = run.injector.placeholder;
  }
  if (parts.some((part) => part.kind === 'totp')) await freshTotpWindow(run);
  await field.fill(run.credential.resolve(parts, passwordAs), { timeout: remaining(run) });
}

/** A code typed in the last moments of its 30 s window may arrive after it: wait for the next one (at most 2 s). */
async function freshTotpWindow(run: LoginRun): Promise<void> {
  const left = TOTP_STEP_SECONDS * 1000 - (Date.now() % (TOTP_STEP_SECONDS * 1000));
  if (left < 2000 && left + 50 < remaining(run)) await sleep(left + 50);
}

/**
 * Where the field's value would go: its form's action URL (or the page, for a script-driven form).
 * The page's URL comes from Playwright, not from the page, so a page script cannot dress it up. The
 * form is read in the page's main world, which the page's scripts can make lie, and then checked on
 * the handle in Playwright's utility world (../form-claim.ts): a claim that does not hold there is
 * refused like a foreign action. The frame and the claim are asked together, so the check adds one
 * round trip.
 */
async function checkedEndpoint(run: LoginRun, field: ElementHandle): Promise<string> {
  const [frame, claim] = await Promise.all([field.ownerFrame(), field.evaluate(READ_FORM_CLAIM)]);
  const pageUrl = frame?.url();
  if (!pageUrl || !run.guard.isAllowedOrigin(pageUrl)) throw new StepFailure("refused: the field's page is not on an allowed origin (or is plain http)");
  const foreign = () => new StepFailure('refused: the form posts to an origin that is not allowed (or over plain http)');
  const held = await field.$(formClaimSelector(claim));
  if (!held) throw foreign();
  void held.dispose().catch(() => undefined);
  let endpoint = pageUrl;
  if (claim.action !== null) {
    try {
      endpoint = new URL(claim.action === '' ? pageUrl : claim.action, pageUrl).href;
    } catch {
      throw new StepFailure('refused: the form has an unusable action URL');
    }
  }
  if (!run.guard.isAllowedOrigin(endpoint)) throw foreign();
  return endpoint;
}
