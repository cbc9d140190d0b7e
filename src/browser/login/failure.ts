/**
 * Why a step failed, in our own words. The runner never passes on a Playwright or page error
 * message: those can quote what was typed or what the page said. Only StepFailure text, which this
 * module writes, reaches an outcome.
 */
export class StepFailure extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'StepFailure';
  }
}

/** The outcome message for any error thrown while a step ran: a fixed text per kind, never the error's own. */
export function describeFailure(error: unknown, timeoutMs: number): string {
  if (error instanceof StepFailure) return error.reason;
  const name = (error as { name?: unknown })?.name;
  if (name === 'TimeoutError') return `timed out after ${Math.round(timeoutMs / 1000)} s (element not found, not visible or not enabled)`;
  const message = error instanceof Error ? error.message : '';
  // Classify by well-known Playwright texts, without echoing them.
  if (/Target page, context or browser has been closed|Target closed/i.test(message)) return 'the page was closed';
  if (/strict mode violation/i.test(message)) return 'the selector matches more than one element';
  if (/net::ERR_|NS_ERROR_|navigation/i.test(message)) return 'the page could not be loaded (blocked or unreachable)';
  return 'the browser could not perform the step';
}
