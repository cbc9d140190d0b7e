import type { Page } from 'playwright-core';
import { AppError } from '../../core/index.js';
import { formClaimSelector } from '../form-claim.js';
import type { DomElement } from '../login/dom.js';
import type { UrlGuard } from '../url-guard.js';
import { actionFailed, badRef, REF, staleRef } from './errors.js';

/** What an action needs to know of the element a ref names, read in one evaluation. */
export interface TargetFacts {
  /** A text field (input, textarea, contenteditable), a password field (its type, or autocomplete saying so), or neither. */
  kind: 'password' | 'text' | 'none';
  /** A link, or a form's submit button, that targets a new window (`target="_blank"` and the like). */
  opensWindow: boolean;
  /** With `options`: the element's options when it is a select, else null. */
  select?: SelectFacts | null;
  /** With `formAction`: the action attribute of the element's form ('' when absent), or null without a form. */
  formAction?: string | null;
  /** With `formAction`: the element's own `form` attribute (the id of its form), or null. */
  formAttribute?: string | null;
}

/** A select element's options as the page has them (raw: the caller redacts before it compares). */
export interface SelectFacts {
  multiple: boolean;
  /** Value, label and text of each option, in order; null for a string too long to be compared whole. */
  options: Array<{ value: string | null; label: string | null; text: string | null }>;
}

/** What is asked about the target besides its kind and window. */
export interface TargetQuestions {
  options?: boolean;
  formAction?: boolean;
  /**
   * The kind decides something (masking typed text): a password field is also looked for in
   * Playwright's utility world, where page scripts cannot change what the DOM answers.
   */
  kind?: boolean;
}

/**
 * Password fields as {@link INSPECT} knows them (the type, or autocomplete saying so), as a CSS
 * selector. The page's main world, where INSPECT runs, is the page's own: a script can make
 * `input.type` say "text" or `getAttribute` lie. Selectors run in Playwright's utility world, an
 * isolated world whose DOM bindings the page cannot reach.
 */
const PASSWORD_FIELD = 'input[type=password i], input[autocomplete*=password i], input[autocomplete*=one-time-code i]';

/** An element's facts are read within this long (a page busy in a loop must not hold the call). */
const INSPECT_TIMEOUT_MS = 5_000;

export function refSelector(ref: string): string {
  if (typeof ref !== 'string' || !REF.test(ref)) throw badRef();
  return `aria-ref=${ref}`;
}

/**
 * Resolves `ref` and reads what the action needs of its element, in one Playwright call
 * (`$eval`: the selector is resolved and the function evaluated in the same round trip), where
 * separate checks took a `count()`, and a wait for the element, an evaluation and a release of
 * its handle for each question. A ref the page no longer has is `staleRef`.
 */
export async function inspectTarget(page: Page, ref: string, questions: TargetQuestions = {}): Promise<TargetFacts> {
  const selector = refSelector(ref);
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error('Timeout reading the element')), INSPECT_TIMEOUT_MS);
  });
  try {
    const read = page.$eval(selector, INSPECT, { options: questions.options === true, formAction: questions.formAction === true });
    if (!questions.kind) return await Promise.race([read, deadline]);
    // Sent together: one round trip's wait, not two.
    const [facts, password] = await Promise.race([Promise.all([read, isPasswordField(page, selector)]), deadline]);
    return password ? { ...facts, kind: 'password' } : facts;
  } catch (error) {
    const text = error instanceof Error ? error.message : '';
    if (isClosedError(error)) throw new AppError('session_ended');
    if (/Timeout/i.test(text)) throw actionFailed(error, ref, 'read');
    // Not found, a frame that is gone, a ref of no snapshot: the agent needs a new snapshot.
    throw staleRef(ref);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Whether a click on `ref` may open a window, and a stale ref refused, without evaluating in the
 * page's main world (the first main-world evaluation in a document injects Playwright's script
 * there: the costliest part of a click's preparation). Two counts in Playwright's utility world,
 * at the same time: the ref itself, and the element or an ancestor with `target`, `formtarget` or
 * `form`; only then is the exact check ({@link inspectTarget}) made.
 */
export async function clickTarget(page: Page, ref: string): Promise<Pick<TargetFacts, 'opensWindow'>> {
  const selector = refSelector(ref);
  const counted = (s: string) => page.locator(s).count();
  let found: number;
  let targeted: number;
  try {
    [found, targeted] = await Promise.all([counted(selector), counted(`${selector} >> xpath=ancestor-or-self::*[@target or @formtarget or @form]`)]);
  } catch (error) {
    if (isClosedError(error)) throw new AppError('session_ended');
    throw staleRef(ref);
  }
  if (found !== 1) throw staleRef(ref);
  if (targeted === 0) return { opensWindow: false };
  return inspectTarget(page, ref);
}

/** The ref names one element now (a stale ref is refused at once, not after an action's timeout). */
export async function checkRef(page: Page, ref: string): Promise<void> {
  const found = await page
    .locator(refSelector(ref))
    .count()
    .catch((error: unknown) => Promise.reject(isClosedError(error) ? new AppError('session_ended') : staleRef(ref)));
  if (found !== 1) throw staleRef(ref);
}

/** Whether the element `selector` names is a password field, asked in Playwright's utility world. */
function isPasswordField(page: Page, selector: string): Promise<boolean> {
  return page
    .locator(selector)
    .and(page.locator(PASSWORD_FIELD))
    .count()
    .then((n) => n > 0);
}

/**
 * Whether the element `selector` names has, read in Playwright's utility world, the form that the
 * main world's {@link INSPECT} reported (one XPath count, see ../form-claim.ts).
 */
function formClaimHolds(page: Page, selector: string, facts: TargetFacts): Promise<boolean> {
  return page
    .locator(`${selector} >> ${formClaimSelector({ action: facts.formAction ?? null, attribute: facts.formAttribute ?? null })}`)
    .count()
    .then((n) => n === 1);
}

function isClosedError(error: unknown): boolean {
  return error instanceof Error && /Target (page, context or browser )?closed|has been closed|browser has disconnected/i.test(error.message);
}

/** The page-side reading (no helper functions inside: it is sent to the page as its source text). */
function INSPECT(el: unknown, questions: { options: boolean; formAction: boolean }): TargetFacts {
  type Node = DomElement & {
    isContentEditable?: boolean;
    multiple?: boolean;
    closest(selector: string): (Node & { form: (DomElement['form'] & { getAttribute(name: string): string | null }) | null }) | null;
    options?: ArrayLike<{ value: string; label: string; textContent: string | null }>;
  };
  const e = el as Node;
  const editable = e.tagName === 'INPUT' || e.tagName === 'TEXTAREA' || e.isContentEditable === true;
  const ac = String(e.getAttribute('autocomplete') ?? '');
  const kind = !editable ? 'none' : e.tagName === 'INPUT' && (String(e.type).toLowerCase() === 'password' || /password|one-time-code/i.test(ac)) ? 'password' : 'text';
  const link = e.closest('a[href],area[href]');
  const submit = e.closest('button,input[type=submit i],input[type=image i]');
  const target = link ? link.getAttribute('target') : submit ? (submit.getAttribute('formtarget') ?? submit.form?.getAttribute('target') ?? null) : null;
  const opensWindow = target !== null && target !== '' && !['_self', '_parent', '_top'].includes(target.toLowerCase());
  const facts: TargetFacts = { kind, opensWindow };
  if (questions.options) {
    // A string cut short could end inside a secret that the caller's redaction then no longer
    // recognizes: one too long is not given at all (no agent's value is that long anyway).
    const whole = (s: string) => (s.length <= 4_000 ? s : null);
    facts.select =
      e.tagName !== 'SELECT' || !e.options
        ? null
        : { multiple: e.multiple === true, options: Array.from(e.options).slice(0, 5_000).map((o) => ({ value: whole(String(o.value)), label: whole(String(o.label)), text: whole((o.textContent ?? '').trim()) })) };
  }
  if (questions.formAction) {
    facts.formAction = e.form ? (e.form.getAttribute('action') ?? '') : null;
    facts.formAttribute = e.getAttribute('form');
  }
  return facts;
}

/**
 * The indexes of the options that `wanted` (values or labels the agent gave) picks, compared with
 * what the agent could be shown of each option, never with the page's own strings: a page that
 * puts a secret into an option must not make the answer ("no such option" or done) a way to test
 * guesses at it. Labels and texts are compared redacted (an option shown as `[REDACTED]` is
 * picked by `[REDACTED]`); a value, which no snapshot shows, only when it holds no secret. Every
 * wanted string must pick an option (else undefined); then, as Playwright selects, all the
 * options picked in a multiple select, the first one in a single one.
 */
export function pickOptions(select: SelectFacts, wanted: readonly string[], redact: (text: string) => string): number[] | undefined {
  const shown = select.options.map((o) => {
    const forms = [o.label, o.text].filter((s): s is string => s !== null).map(redact);
    return o.value !== null && redact(o.value) === o.value ? [o.value, ...forms] : forms;
  });
  const picks = (w: string) => shown.some((forms) => forms.includes(w));
  if (!wanted.every(picks)) return undefined;
  const picked = shown.flatMap((forms, index) => (wanted.some((w) => forms.includes(w)) ? [index] : []));
  return select.multiple ? picked : picked.slice(0, 1);
}

/**
 * Where a credential typed into the field `ref` could go: the field's frame (its URL from
 * Playwright, not from the page) and its form's action must be on an allowed host, as for the
 * login runner (login/fill.ts). Returns the field's kind, read in the same evaluation. What the
 * page's main world said of the form is then checked in Playwright's utility world (a page script
 * can make `getAttribute('action')` name an allowed host): a claim that does not hold there is
 * refused.
 */
export async function checkDestination(page: Page, ref: string, guard: UrlGuard): Promise<TargetFacts['kind']> {
  const refused = () => new AppError('forbidden', { publicMessage: "The field's page or its form's target is not on a host this asset allows (or is plain http where the asset requires https); nothing was filled." });
  const selector = refSelector(ref);
  const readFailed = (error: unknown) => Promise.reject(actionFailed(error, ref, 'read'));
  const [handle, password] = await Promise.all([page.$(selector).catch(readFailed), isPasswordField(page, selector).catch(readFailed)]);
  if (!handle) throw staleRef(ref);
  try {
    const [frame, inspected] = await Promise.all([handle.ownerFrame(), handle.evaluate(INSPECT, { options: false, formAction: true }).catch(readFailed)]);
    const facts: TargetFacts = password ? { ...inspected, kind: 'password' } : inspected;
    if (facts.kind === 'none') return 'none';
    if (!(await formClaimHolds(page, selector, facts).catch(readFailed))) throw refused();
    const pageUrl = frame?.url();
    if (!pageUrl || !guard.check(pageUrl).ok) throw refused();
    const action = facts.formAction ?? null;
    if (action === null) return facts.kind;
    let endpoint: string;
    try {
      endpoint = new URL(action === '' ? pageUrl : action, pageUrl).href;
    } catch {
      throw refused();
    }
    if (!guard.check(endpoint).ok) throw refused();
    return facts.kind;
  } finally {
    void handle.dispose().catch(() => undefined);
  }
}
