import type { Locator, Page } from 'playwright-core';
import { MIN_SECRET_LENGTH } from '../../core/index.js';
import { shownTextPattern, transformedTextPattern } from './redact.js';

const SCREENSHOT_TIMEOUT_MS = 10_000;
const JPEG_QUALITY = 70;
/** Masks per frame at most (each is a locator the browser resolves). */
const MAX_MASKED_VALUES = 20;

/**
 * A JPEG of the tab's viewport with password fields and anything showing a secret painted over:
 * elements whose text holds a secret value, also with invisible characters or white space between
 * its letters (`getByText` picks the innermost) and, for a long value, reversed or as base64 or
 * hex (as text only), and fields or buttons whose value attribute holds one, and the fields a credential was typed into (`secretFields`, a selector). Secret values never
 * leave the browser module; they only go to the browser as selectors.
 */
export async function maskedScreenshot(page: Page, secrets: readonly string[], passwords: readonly string[], secretFields: string): Promise<{ jpeg: Buffer; width: number; height: number }> {
  const values = [...new Set([...secrets, ...passwords])].filter((v) => v.length >= MIN_SECRET_LENGTH && !/[\n\r]/.test(v)).slice(0, MAX_MASKED_VALUES);
  const mask: Locator[] = [];
  for (const frame of page.frames()) {
    mask.push(frame.locator('input[type="password" i]'), frame.locator('input[autocomplete*="password" i]'), frame.locator(secretFields));
    for (const value of values) {
      mask.push(frame.getByText(shownTextPattern(value) ?? value), frame.locator(`[value*=${cssString(value)}]`), frame.locator(`img[alt*=${cssString(value)}]`));
      const transformed = transformedTextPattern(value);
      if (transformed) mask.push(frame.getByText(transformed));
    }
  }
  const jpeg = await page.screenshot({ type: 'jpeg', quality: JPEG_QUALITY, mask, maskColor: '#000000', caret: 'hide', timeout: SCREENSHOT_TIMEOUT_MS });
  const size = page.viewportSize() ?? { width: 0, height: 0 };
  return { jpeg, width: size.width, height: size.height };
}

/** A CSS string literal: quotes, backslashes and control characters escaped as CSS hex escapes. */
function cssString(value: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are what is escaped
  return `"${value.replace(/["\\]|[\u0000-\u001f\u007f]/g, (c) => `\\${c.charCodeAt(0).toString(16)} `)}"`;
}
