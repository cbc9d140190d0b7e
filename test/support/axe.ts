import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Page } from 'playwright-core';

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

export interface AxeViolation {
  id: string;
  impact: 'minor' | 'moderate' | 'serious' | 'critical' | null;
  help: string;
  nodes: Array<{ target: string[]; failureSummary?: string }>;
}

/**
 * axe-core's violations on `page`, within the element `scope` (a CSS selector) when given. The
 * engine is evaluated over the DevTools protocol, which the page's CSP does not govern: the page
 * is checked under the product's own policy, in the context its screenshot was taken in (a script
 * tag needed a second context with `bypassCSP`, and so a second load of every page).
 */
export async function axeViolations(page: Page, scope?: string): Promise<AxeViolation[]> {
  if (!(await page.evaluate('typeof axe !== "undefined"'))) await page.evaluate(AXE_SOURCE);
  const root = scope === undefined ? 'document' : `document.querySelector(${JSON.stringify(scope)})`;
  return page.evaluate<AxeViolation[]>(
    `axe.run(${root}, { resultTypes: ['violations'] }).then((r) => r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => ({ target: n.target, failureSummary: n.failureSummary })) })))`,
  );
}

/** The serious and critical ones, one line each (what the tests fail on). */
export function blockingViolations(violations: readonly AxeViolation[]): string[] {
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.id} [${v.impact}] ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
}
