import type { FrameLocator, Locator, Page } from 'playwright-core';
import { compileUrlPattern, type RecipeStep } from '../../core/index.js';
import { StepFailure } from './failure.js';
import { fillTemplate } from './fill.js';
import { checkCancelled, remaining, sleep, type LoginRun } from './run-context.js';

type Scope = Page | FrameLocator;

/** Runs recipe steps in order; nested blocks are numbered `4.1`, `4.2`. The running step's label is kept in `run.current`. */
export async function runSteps(run: LoginRun, scope: Scope, steps: readonly RecipeStep[], prefix = ''): Promise<void> {
  for (const [index, step] of steps.entries()) {
    const number = `${prefix}${index + 1}`;
    run.current = `${number}: ${describeStep(step)}`;
    const navigationsBefore = run.navigations;
    await runStep(run, scope, step, `${number}.`);
    run.navigationsAtPreviousStep = navigationsBefore;
  }
}

/** A step as a failure names it: kind and selector or URL, never a value. */
export function describeStep(step: RecipeStep): string {
  const text = (() => {
    if ('goto' in step) return `goto ${step.goto}`;
    if ('fill' in step) return `fill ${step.fill}`;
    if ('click' in step) return `click ${step.click}`;
    if ('press' in step) return `press ${step.key} in ${step.press}`;
    if ('waitFor' in step) return `waitFor ${step.waitFor.selector ?? (step.waitFor.url !== undefined ? `url ${step.waitFor.url}` : 'navigation')}`;
    if ('frame' in step) return `frame ${step.frame}`;
    return `ifVisible ${step.ifVisible}`;
  })();
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}

async function runStep(run: LoginRun, scope: Scope, step: RecipeStep, childPrefix: string): Promise<void> {
  if ('goto' in step) {
    const url = new URL(step.goto, run.startUrl).href;
    if (!run.guard.isAllowedOrigin(url)) throw new StepFailure('refused: the URL is not on an allowed origin (or is plain http)');
    await run.page.goto(url, { waitUntil: 'domcontentloaded', timeout: remaining(run) });
  } else if ('fill' in step) {
    const target = visible(scope, step.fill);
    if (step.optional && !(await visibleOnceLoaded(run, target))) return;
    const handle = await target.elementHandle({ timeout: remaining(run) });
    try {
      await fillTemplate(run, handle, step.value);
    } finally {
      await handle.dispose();
    }
  } else if ('click' in step) {
    const target = visible(scope, step.click);
    if (step.optional && !(await visibleOnceLoaded(run, target))) return;
    await target.click({ timeout: remaining(run) });
  } else if ('press' in step) {
    const target = visible(scope, step.press);
    if (step.optional && !(await visibleOnceLoaded(run, target))) return;
    await target.press(step.key, { timeout: remaining(run) });
  } else if ('waitFor' in step) {
    await waitFor(run, scope, step.waitFor);
  } else if ('frame' in step) {
    await visible(scope, step.frame).waitFor({ state: 'visible', timeout: remaining(run) });
    await runSteps(run, scope.frameLocator(step.frame), step.steps, childPrefix);
  } else if (await visibleOnceLoaded(run, visible(scope, step.ifVisible))) {
    await runSteps(run, scope, step.steps, childPrefix);
  }
}

/**
 * Optional steps and ifVisible blocks look once, without waiting for the element: after the page's
 * load event (banners and consent dialogs are usually there by then), so an absent element costs
 * no timeout.
 */
async function visibleOnceLoaded(run: LoginRun, target: Locator): Promise<boolean> {
  await run.page.waitForLoadState('load', { timeout: Math.min(remaining(run), 5000) }).catch(() => undefined);
  return target.isVisible();
}

/** Portals often keep hidden copies of a form (mobile layout, templates): the visible one is meant. */
function visible(scope: Scope, selector: string): Locator {
  return scope.locator(selector).filter({ visible: true }).first();
}

async function waitFor(run: LoginRun, scope: Scope, wait: { selector?: string; url?: string; navigation?: true; timeoutMs?: number }): Promise<void> {
  const timeout = Math.min(remaining(run), wait.timeoutMs ?? Number.POSITIVE_INFINITY);
  const until = Date.now() + timeout;
  if (wait.navigation) {
    // A navigation started by the previous step (a click that submits) counts, even if it is already done.
    while (run.navigations <= run.navigationsAtPreviousStep) {
      checkCancelled(run);
      if (Date.now() >= until) throw new StepFailure(`no navigation within ${Math.round(timeout / 1000)} s`);
      await sleep(50);
    }
    await run.page.waitForLoadState('domcontentloaded', { timeout: Math.max(1, until - Date.now()) });
  }
  if (wait.url !== undefined) {
    const matches = compileUrlPattern(wait.url);
    await run.page.waitForURL((url) => matches(url.href), { timeout: Math.max(1, until - Date.now()), waitUntil: 'commit' });
  }
  if (wait.selector !== undefined) await visible(scope, wait.selector).waitFor({ state: 'visible', timeout: Math.max(1, until - Date.now()) });
}
