import { AppError } from '../../core/index.js';

/** A ref as `page.ariaSnapshot({ mode: 'ai' })` writes them: `e12`, or `f3e12` inside a frame. */
export const REF = /^(?:f\d{1,6})?e\d{1,7}$/;

export function staleRef(ref: string): AppError {
  const shown = REF.test(ref) ? ref : 'given';
  return new AppError('invalid_request', { publicMessage: `No element with ref ${shown} in the latest snapshot; take a new snapshot.` });
}

export function badRef(): AppError {
  return new AppError('invalid_request', { publicMessage: 'A ref is what a snapshot shows in [ref=...], such as e12; take a snapshot first.' });
}

/**
 * Turns a Playwright failure of an action on `ref` into an error of our own. Playwright's messages
 * can quote page text and what was typed, so none is ever passed on (not even as a cause).
 */
export function actionFailed(error: unknown, ref: string, what: string): AppError {
  if (error instanceof AppError) return error;
  const text = error instanceof Error ? error.message : '';
  if (/Invalid frame in aria-ref|aria-ref|not found|strict mode/i.test(text) && !/Timeout/i.test(text)) return staleRef(ref);
  if (/not an <input>|not an input|contenteditable/i.test(text)) {
    return new AppError('invalid_request', { publicMessage: `The element ${ref} is not a text field.` });
  }
  if (/not a <select>|select element/i.test(text)) return new AppError('invalid_request', { publicMessage: `The element ${ref} is not a list to select from.` });
  if (/Target (page, context or browser )?closed|has been closed/i.test(text)) return new AppError('session_ended');
  if (/Timeout|timed out/i.test(text)) {
    return new AppError('conflict', { publicMessage: `The element ${ref} could not be ${what} in time: it is hidden, disabled or covered by another element, or the page changed; take a new snapshot.` });
  }
  return new AppError('conflict', { publicMessage: `The element ${ref} could not be ${what}; take a new snapshot and try again.` });
}
