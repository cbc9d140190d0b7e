import type { ElementHandle, Frame } from 'playwright-core';
import type { DomElement } from './dom.js';
import { framesMainFirst, ONE_TIME_CODE_FIELD, PASSWORD_FIELD, POLL_MS, verdict, type Checks } from './checks.js';
import { StepFailure } from './failure.js';
import { fillTemplate } from './fill.js';
import { remaining, sleep, type LoginRun } from './run-context.js';

/** A lone username field: the first page of a two-page login. */
const USERNAME_FIELD =
  'input[autocomplete="username"], input[type="email"], input[name*="user" i], input[id*="user" i], input[name*="login" i], input[id*="login" i], input[name*="email" i], input[id*="email" i]';

/**
 * The automatic recipe, for assets without one: find the visible password field (in any frame),
 * its form's username field and submit control; or, on a two-page login, the username field and
 * its Next button first. Then, when the credential has a TOTP seed and the portal asks for a code,
 * the one-time code. Steps are numbered like a recipe's so a failure names where it stopped.
 */
export async function runAutoRecipe(run: LoginRun, checks: Checks): Promise<void> {
  let step = 0;
  const label = (text: string) => (run.current = `${++step}: auto: ${text}`);

  label('find the login form');
  let found = await findLoginField(run, { allowUsernameOnly: true });
  if (found.kind === 'username') {
    label('fill the username');
    await fillTemplate(run, found.field, '{{username}}');
    label('submit the username (next)');
    await submit(run, found.field);
    label('find the password field');
    found = await findLoginField(run, { allowUsernameOnly: false });
  }
  const password = found.field;
  const username = await usernameBefore(password);
  if (username && run.credential.has('username')) {
    label('fill the username');
    await fillTemplate(run, username, '{{username}}');
  }
  label('fill the password');
  await fillTemplate(run, password, '{{password}}');
  label('submit the password');
  await submit(run, password);

  if (!run.credential.has('totpSeed')) return;
  label('one-time code');
  const code = await findOneTimeCodeField(run, checks);
  if (!code) return;
  label('fill the one-time code');
  await fillTemplate(run, code, '{{totp}}');
  label('submit the one-time code');
  await submit(run, code);
}

type Found = { kind: 'password' | 'username'; field: ElementHandle };

async function findLoginField(run: LoginRun, options: { allowUsernameOnly: boolean }): Promise<Found> {
  for (;;) {
    remaining(run);
    for (const frame of framesMainFirst(run.page)) {
      const password = await visibleHandle(frame, PASSWORD_FIELD);
      if (password) return { kind: 'password', field: password };
    }
    if (options.allowUsernameOnly) {
      for (const frame of framesMainFirst(run.page)) {
        const username = await visibleHandle(frame, USERNAME_FIELD);
        if (username) return { kind: 'username', field: username };
      }
    }
    await sleep(POLL_MS);
  }
}

/** Waits for a one-time code field, or returns undefined once the checks decide without one. */
async function findOneTimeCodeField(run: LoginRun, checks: Checks): Promise<ElementHandle | undefined> {
  for (;;) {
    remaining(run);
    for (const frame of framesMainFirst(run.page)) {
      const code = await visibleHandle(frame, ONE_TIME_CODE_FIELD);
      if (code) return code;
    }
    if ((await verdict(run, checks)) !== undefined) return undefined;
    await sleep(POLL_MS);
  }
}

async function visibleHandle(frame: Frame, selector: string): Promise<ElementHandle | undefined> {
  try {
    const locator = frame.locator(selector).filter({ visible: true }).first();
    if (!(await locator.isVisible())) return undefined;
    return (await locator.elementHandle({ timeout: 1000 })) ?? undefined;
  } catch {
    return undefined;
  }
}

/** The visible text, e-mail or phone input just before the password field, in its form (or its page). */
async function usernameBefore(password: ElementHandle): Promise<ElementHandle | undefined> {
  // Page functions hold no named inner function: tools that keep function names (tsx, esbuild's
  // keepNames) wrap those in a helper that does not exist in the page.
  const handle = await password.evaluateHandle((pw) => {
    const field = pw as unknown as DomElement;
    const before = Array.from((field.form ?? field.ownerDocument).querySelectorAll('input')).filter(
      (input) =>
        ['text', 'email', 'tel'].includes(input.type) &&
        !input.disabled &&
        !input.readOnly &&
        input.checkVisibility({ visibilityProperty: true }) &&
        input.getBoundingClientRect().width > 0 &&
        (input.compareDocumentPosition(field) & 4) !== 0, // 4: Node.DOCUMENT_POSITION_FOLLOWING
    );
    return before.find((input) => input.autocomplete === 'username') ?? before[before.length - 1] ?? null;
  });
  return handle.asElement() ?? undefined;
}

/** Clicks the field's submit control (its form's submit button, or a Next / Sign in button after it), else presses Enter in it. */
async function submit(run: LoginRun, field: ElementHandle): Promise<void> {
  const handle = await field.evaluateHandle((el) => {
    const input = el as unknown as DomElement;
    const controls = Array.from((input.form ?? input.ownerDocument).querySelectorAll('button, input[type="submit"], input[type="image"]')).filter(
      (control) => !control.disabled && control.checkVisibility({ visibilityProperty: true }) && control.getBoundingClientRect().width > 0,
    );
    if (input.form) return controls.find((control) => control.type === 'submit' || control.type === 'image') ?? null;
    // No form (a script-driven page): a button after the field that says what it does.
    return (
      controls.find(
        (control) =>
          (input.compareDocumentPosition(control) & 4) !== 0 &&
          /log ?in|sign ?in|next|continue|submit|verify|weiter|anmelden|suivant|connexion/i.test(control.textContent || control.value || ''),
      ) ?? null
    );
  });
  const control = handle.asElement();
  try {
    if (control) await control.click({ timeout: remaining(run) });
    else await field.press('Enter', { timeout: remaining(run) });
  } catch (error) {
    if (error instanceof StepFailure) throw error;
    throw new StepFailure('the submit control could not be used');
  }
}
