import type { Locator } from 'playwright-core';
import { AppError } from '../../core/index.js';
import type { DomElement } from '../login/dom.js';
import type { Tab } from '../tabs.js';
import type { AgentActionResult, AgentControls, AgentPage, AgentSnapshot, BrowserEvent, RedactionSource } from '../types.js';
import { describeUrl, type UrlGuard } from '../url-guard.js';
import { actionFailed, badRef, REF, staleRef } from './errors.js';
import { createPageReader } from './page-reader.js';
import { buildRedact, redactShortFieldValues, type Redact } from './redact.js';
import { maskedScreenshot } from './screenshot.js';
import { NAVIGATION_SETTLE_MS, settleAfter } from './settle.js';
import { compactSnapshot, DEFAULT_MAX_CHARS, describeRef, MAX_MAX_CHARS, MIN_MAX_CHARS, pageOf } from './snapshot-text.js';

/** Clicks, fills, hovers and selections wait this long for their element to be actionable. */
export const ACTION_TIMEOUT_MS = 5_000;
/** A navigate tool call waits at most this long for the new page to commit. */
export const NAVIGATE_TIMEOUT_MS = 15_000;
export const MAX_WAIT_MS = 30_000;
const SNAPSHOT_TIMEOUT_MS = 10_000;
const MAX_TYPE_CHARS = 10_000;
const MAX_URL_CHARS = 2_000;
const KEY = /^(?:(?:Control|Alt|Shift|Meta|ControlOrMeta)\+){0,4}(?:[A-Za-z0-9]{1,12}|[^\s])$/u;

export interface AgentControlsDeps {
  /** The active tab, or an AppError: `session_ended` after close, `conflict` while the login runs. */
  activeTab(): Tab;
  tabCount(): number;
  guard: UrlGuard;
  report(event: BrowserEvent): void;
}

/**
 * The agent's controls of one session. Calls run one at a time (an action's settle wait must not
 * see the next action's effects); each result's strings pass {@link buildRedact}.
 */
export function createAgentControls(deps: AgentControlsDeps): AgentControls {
  let queue: Promise<unknown> = Promise.resolve();
  let snapshots = 0;
  /** The latest snapshot: the refs agents use come from it. */
  let latest: { id: string; raw: string; text: string; tab: Tab } | undefined;

  const readers = new WeakMap<Tab, ReturnType<typeof createPageReader>>();
  const readerOf = (tab: Tab) => {
    let reader = readers.get(tab);
    if (!reader) {
      const made = createPageReader({ cdp: () => tab.cdp, page: () => tab.page });
      // Each new document's isolated world is made while the agent reads the result, not in its next call.
      tab.page.on('domcontentloaded', () => made.warm());
      readers.set(tab, made);
      reader = made;
    }
    return reader;
  };

  /** Runs one call after the previous one, with the redaction of this moment's page. */
  const call = <T>(source: RedactionSource, fn: (tab: Tab, redactFor: () => Promise<Redact>) => Promise<T>): Promise<T> => {
    if (!source || typeof source.values !== 'function') return Promise.reject(new TypeError('agent controls need a redaction source'));
    const run = async () => {
      const tab = deps.activeTab();
      const redactFor = async () => {
        const current = safeActive() ?? tab;
        const passwords = await readerOf(current).passwordValues();
        const redact = buildRedact(source, passwords);
        return (text: string) => redactShortFieldValues(redact(text), passwords);
      };
      try {
        return await fn(tab, redactFor);
      } catch (error) {
        // Our messages quote nothing from the page, but an agent's own input (a ref) passes the redaction too.
        if (error instanceof AppError) {
          const redact = buildRedact(source);
          if (redact(error.publicMessage) !== error.publicMessage) throw new AppError(error.code, { publicMessage: redact(error.publicMessage) });
          throw error;
        }
        if (isClosed(error)) throw new AppError('session_ended');
        throw new AppError('conflict', { publicMessage: 'The browser could not carry out this action; take a new snapshot and try again.' });
      }
    };
    const result = queue.then(run, run);
    queue = result.catch(() => undefined);
    return result;
  };

  const safeActive = (): Tab | undefined => {
    try {
      return deps.activeTab();
    } catch {
      return undefined;
    }
  };

  /** The active tab's URL and title, unredacted: the caller redacts. */
  const rawPage = async (): Promise<AgentPage> => {
    const tab = safeActive();
    if (!tab) return { url: 'about:blank', title: '' };
    const title = await Promise.race([tab.page.title().catch(() => tab.title), new Promise<string>((resolve) => setTimeout(() => resolve(tab.title), 1_000).unref())]);
    return { url: tab.page.url().slice(0, MAX_URL_CHARS), title: title.slice(0, 300) };
  };
  const redactPage = (page: AgentPage, redact: Redact): AgentPage => ({ url: redact(page.url), title: redact(page.title) });
  const pageInfo = async (redact: Redact): Promise<AgentPage> => redactPage(await rawPage(), redact);

  const resolveRef = async (tab: Tab, ref: string): Promise<Locator> => {
    if (typeof ref !== 'string' || !REF.test(ref)) throw badRef();
    const locator = tab.page.getByRef(ref);
    const count = await locator.count().catch(() => 0);
    if (count !== 1) throw staleRef(ref);
    return locator;
  };

  const targetOf = (ref: string): string | undefined => (latest ? describeRef(latest.raw, ref) : undefined);

  /** Runs `act` on the active tab and waits for what it caused; the result names the tab that is active afterwards. */
  const acted = async (
    tab: Tab,
    redactFor: () => Promise<Redact>,
    act: () => Promise<unknown>,
    extra: { target?: string | undefined; field?: 'password' | 'text'; expectPopup?: boolean } = {},
  ): Promise<AgentActionResult> => {
    let { effect } = await settleAfter(tab.page, readerOf(tab), act, { popupOpened: () => safeActive() !== tab, expectPopup: extra.expectPopup === true });
    const now = safeActive();
    if (now && now !== tab) {
      // A popup that became the active tab after the settle wait ended is still what the action caused.
      effect = 'navigated';
      await now.page.waitForLoadState('domcontentloaded', { timeout: NAVIGATION_SETTLE_MS }).catch(() => undefined);
    }
    const [redact, page] = await Promise.all([redactFor(), rawPage()]);
    const result: AgentActionResult = { page: redactPage(page, redact), effect };
    if (extra.target !== undefined) result.target = redact(extra.target);
    if (extra.field) result.field = extra.field;
    return result;
  };

  const onRef = async (tab: Tab, ref: string, what: string, fn: (locator: Locator) => Promise<unknown>): Promise<void> => {
    const locator = await resolveRef(tab, ref);
    try {
      await fn(locator);
    } catch (error) {
      throw actionFailed(error, ref, what);
    }
  };

  return {
    snapshot(options) {
      return call(options?.redact, async (tab, redactFor) => {
        const maxChars = clampChars(options.maxChars);
        const redact = await redactFor();
        let text: string;
        let offset = 0;
        if (options.cursor !== undefined) {
          const parsed = typeof options.cursor === 'string' ? /^(s\d+)\.(\d{1,9})$/.exec(options.cursor) : null;
          if (!parsed || !latest || latest.id !== parsed[1] || latest.tab !== tab || Number(parsed[2]) > latest.text.length) {
            throw new AppError('invalid_request', { publicMessage: 'This cursor belongs to an older snapshot or another tab; take a new snapshot.' });
          }
          text = latest.text;
          offset = Number(parsed[2]);
        } else {
          let raw: string;
          try {
            raw = await tab.page.ariaSnapshot({ mode: 'ai', timeout: SNAPSHOT_TIMEOUT_MS });
          } catch (error) {
            if (isClosed(error)) throw new AppError('session_ended');
            throw new AppError('conflict', { publicMessage: 'The page could not be read (it may be loading); try again.' });
          }
          snapshots += 1;
          text = redact(compactSnapshot(raw));
          latest = { id: `s${snapshots}`, raw, text, tab };
        }
        const part = pageOf(text, offset, maxChars);
        const result: AgentSnapshot = { page: await pageInfo(redact), text: redact(part.text), tabs: deps.tabCount() };
        if (part.next !== undefined) result.cursor = `${latest.id}.${part.next}`;
        return result;
      });
    },

    click(ref, options) {
      return call(options?.redact, async (tab, redactFor) => {
        const locator = await resolveRef(tab, ref);
        const expectPopup = await opensWindow(locator);
        return acted(tab, redactFor, () => locator.click({ timeout: ACTION_TIMEOUT_MS }).catch((error: unknown) => Promise.reject(actionFailed(error, ref, 'clicked'))), { target: targetOf(ref), expectPopup });
      });
    },

    type(ref, text, options) {
      return call(options?.redact, async (tab, redactFor) => {
        if (typeof text !== 'string' || text.length > MAX_TYPE_CHARS) throw new AppError('invalid_request', { publicMessage: `The text must be at most ${MAX_TYPE_CHARS} characters.` });
        const locator = await resolveRef(tab, ref);
        const field = await fieldKind(locator, ref);
        return acted(
          tab,
          redactFor,
          async () => {
            await onRef(tab, ref, 'typed into', (l) => l.fill(text, { timeout: ACTION_TIMEOUT_MS }));
            if (options.submit) await onRef(tab, ref, 'submitted', (l) => l.press('Enter', { timeout: ACTION_TIMEOUT_MS }));
          },
          { target: targetOf(ref), field },
        );
      });
    },

    selectOption(ref, values, options) {
      return call(options?.redact, async (tab, redactFor) => {
        const given: unknown = values;
        if (!Array.isArray(given) || given.length === 0 || given.length > 100 || !given.every((v) => typeof v === 'string' && v.length <= 1000)) {
          throw new AppError('invalid_request', { publicMessage: 'Give one to 100 option values or labels.' });
        }
        const wanted = given as string[];
        const locator = await resolveRef(tab, ref);
        const known = await locator
          .evaluate((el: unknown, wanted: string[]) => {
            const select = el as { tagName: string; options?: ArrayLike<{ value: string; label: string; textContent: string | null }> };
            if (select.tagName !== 'SELECT' || !select.options) return 'not-select';
            const options = Array.from(select.options);
            return wanted.every((w) => options.some((o) => o.value === w || o.label === w || (o.textContent ?? '').trim() === w)) ? 'ok' : 'missing';
          }, wanted, { timeout: ACTION_TIMEOUT_MS })
          .catch((error: unknown) => Promise.reject(actionFailed(error, ref, 'read')));
        if (known === 'not-select') throw new AppError('invalid_request', { publicMessage: `The element ${ref} is not a list to select from.` });
        if (known === 'missing') throw new AppError('invalid_request', { publicMessage: `The list ${ref} has no such option; take a snapshot to see its options.` });
        return acted(tab, redactFor, () => onRef(tab, ref, 'selected', (l) => l.selectOption(wanted, { timeout: ACTION_TIMEOUT_MS })), { target: targetOf(ref) });
      });
    },

    pressKey(key, options) {
      return call(options?.redact, async (tab, redactFor) => {
        if (typeof key !== 'string' || key.length > 60 || !KEY.test(key)) {
          throw new AppError('invalid_request', { publicMessage: 'A key is a key name such as Enter, Tab, ArrowDown or a, optionally with modifiers (Control+a).' });
        }
        return acted(tab, redactFor, () =>
          tab.page.keyboard.press(key).catch((error: unknown) => {
            if (isClosed(error)) return Promise.reject(new AppError('session_ended'));
            return Promise.reject(new AppError('invalid_request', { publicMessage: 'Unknown key name; use names such as Enter, Tab, Escape, ArrowDown, a.' }));
          }),
        );
      });
    },

    hover(ref, options) {
      return call(options?.redact, async (tab, redactFor) => {
        const locator = await resolveRef(tab, ref);
        return acted(tab, redactFor, () => locator.hover({ timeout: ACTION_TIMEOUT_MS }).catch((error: unknown) => Promise.reject(actionFailed(error, ref, 'hovered'))), { target: targetOf(ref) });
      });
    },

    navigate(url, options) {
      return call(options?.redact, async (tab, redactFor) => {
        const verdict = typeof url === 'string' && url.length <= 8_000 ? deps.guard.check(url) : { ok: false as const, reason: 'not a URL' };
        if (!verdict.ok) {
          deps.report({ type: 'blocked', what: 'navigation', url: describeUrl(String(url).slice(0, 8_000)), reason: verdict.reason });
          throw new AppError('forbidden', { publicMessage: 'This address is outside the hosts this asset allows.' });
        }
        // A refused redirect or an unreachable portal ends in an error page: the session goes on.
        return acted(tab, redactFor, () => tab.page.goto(url, { waitUntil: 'commit', timeout: NAVIGATE_TIMEOUT_MS }).catch(() => undefined));
      });
    },

    goBack(options) {
      return call(options?.redact, async (tab, redactFor) => {
        const before = tab.page.url();
        const result = await acted(tab, redactFor, () => tab.page.goBack({ waitUntil: 'commit', timeout: NAVIGATE_TIMEOUT_MS }).catch(() => null));
        if (result.effect !== 'navigated' && tab.page.url() !== before) result.effect = 'navigated';
        return result;
      });
    },

    waitFor(condition, timeoutMs, options) {
      return call(options?.redact, async (tab, redactFor) => {
        const given = (['text', 'ref', 'url'] as const).filter((k) => condition?.[k] !== undefined);
        if (given.length !== 1) throw new AppError('invalid_request', { publicMessage: 'Wait for exactly one of text, ref or url.' });
        if (typeof timeoutMs !== 'number' || !Number.isFinite(timeoutMs) || timeoutMs < 0) throw new AppError('invalid_request', { publicMessage: 'The timeout is a number of milliseconds.' });
        const timeout = Math.min(MAX_WAIT_MS, Math.max(100, Math.round(timeoutMs)));
        const kind = given[0]!;
        const value = condition[kind];
        if (typeof value !== 'string' || value.length === 0 || value.length > 2_000) throw new AppError('invalid_request', { publicMessage: `The ${kind} to wait for must be 1 to 2000 characters.` });
        let waiting: Promise<unknown>;
        if (kind === 'ref') {
          if (!REF.test(value)) throw badRef();
          waiting = tab.page.getByRef(value).waitFor({ state: 'visible', timeout });
        } else if (kind === 'text') {
          waiting = tab.page.getByText(value).first().waitFor({ state: 'visible', timeout });
        } else {
          const glob = value.includes('*');
          waiting = glob ? tab.page.waitForURL(value, { waitUntil: 'commit', timeout }) : tab.page.waitForURL((u) => u.href.includes(value), { waitUntil: 'commit', timeout });
        }
        try {
          await waiting;
        } catch (error) {
          if (isClosed(error)) throw new AppError('session_ended');
          if (kind === 'ref' && /aria-ref|Invalid frame/i.test(error instanceof Error ? error.message : '') && !/Timeout/i.test(error instanceof Error ? error.message : '')) throw staleRef(value);
          throw new AppError('wait_timed_out', { publicMessage: `The ${kind} waited for did not ${kind === 'url' ? 'match' : 'appear'} within ${(timeout / 1000).toFixed(1)} s.` });
        }
        const redact = await redactFor();
        return { page: await pageInfo(redact), effect: 'none' as const };
      });
    },

    screenshot(options) {
      return call(options?.redact, async (tab, redactFor) => {
        const reader = readerOf(tab);
        const passwords = await reader.passwordValues();
        const shot = await maskedScreenshot(tab.page, [...options.redact.values()].map((b) => b.toString('utf8')), passwords).catch((error: unknown) => {
          if (isClosed(error)) return Promise.reject(new AppError('session_ended'));
          return Promise.reject(new AppError('conflict', { publicMessage: 'The screenshot could not be taken; try again.' }));
        });
        const redact = await redactFor();
        return { ...shot, page: await pageInfo(redact) };
      });
    },

    fillCredential(ref, secret, options) {
      return call(options?.redact, async (tab, redactFor) => {
        if (!Buffer.isBuffer(secret) || secret.length === 0) throw new AppError('invalid_request', { publicMessage: 'The credential has no value for this field.' });
        const locator = await resolveRef(tab, ref);
        const field = await fieldKind(locator, ref);
        await checkDestination(locator, ref, deps.guard);
        return acted(tab, redactFor, () => onRef(tab, ref, 'filled', (l) => l.fill(secret.toString('utf8'), { timeout: ACTION_TIMEOUT_MS })), { target: targetOf(ref), field });
      });
    },
  };
}

function clampChars(value: number | undefined): number {
  if (value === undefined) return DEFAULT_MAX_CHARS;
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new AppError('invalid_request', { publicMessage: 'maxChars is a number of characters.' });
  return Math.min(MAX_MAX_CHARS, Math.max(MIN_MAX_CHARS, Math.round(value)));
}

/** Whether clicking the element follows a link or submits a form into a new window (`target="_blank"` and the like). */
async function opensWindow(locator: Locator): Promise<boolean> {
  return locator
    .evaluate((el: unknown) => {
      type Node = { closest(selector: string): (Node & { getAttribute(name: string): string | null; form?: Node | null }) | null; getAttribute(name: string): string | null; form?: Node | null };
      const e = el as Node;
      const link = e.closest('a[href],area[href]');
      const submit = e.closest('button,input[type=submit i],input[type=image i]');
      const target = link ? link.getAttribute('target') : submit ? (submit.getAttribute('formtarget') ?? submit.form?.getAttribute('target') ?? null) : null;
      return target !== null && target !== '' && !['_self', '_parent', '_top'].includes(target.toLowerCase());
    }, undefined, { timeout: ACTION_TIMEOUT_MS })
    .catch(() => false);
}

/** Whether a field is a password field (its type, or autocomplete saying so): audit then masks what was typed. */
async function fieldKind(locator: Locator, ref: string): Promise<'password' | 'text'> {
  const kind = await locator
    .evaluate((el: unknown) => {
      const e = el as DomElement & { isContentEditable?: boolean };
      const editable = e.tagName === 'INPUT' || e.tagName === 'TEXTAREA' || e.isContentEditable === true;
      if (!editable) return 'none';
      const ac = String(e.getAttribute('autocomplete') ?? '');
      return e.tagName === 'INPUT' && (String(e.type).toLowerCase() === 'password' || /password|one-time-code/i.test(ac)) ? 'password' : 'text';
    }, undefined, { timeout: ACTION_TIMEOUT_MS })
    .catch((error: unknown) => Promise.reject(actionFailed(error, ref, 'read')));
  if (kind === 'none') throw new AppError('invalid_request', { publicMessage: `The element ${ref} is not a text field.` });
  return kind;
}

/**
 * Where a credential typed into the field could go: the field's frame (its URL from Playwright,
 * not from the page) and its form's action must be on an allowed host, as for the login runner
 * (login/fill.ts).
 */
async function checkDestination(locator: Locator, ref: string, guard: UrlGuard): Promise<void> {
  const refused = () => new AppError('forbidden', { publicMessage: "The field's page or its form's target is not on a host this asset allows (or is plain http where the asset requires https); nothing was filled." });
  const handle = await locator.elementHandle({ timeout: ACTION_TIMEOUT_MS }).catch((error: unknown) => Promise.reject(actionFailed(error, ref, 'read')));
  try {
    const frame = await handle.ownerFrame();
    const pageUrl = frame?.url();
    if (!pageUrl || !guard.check(pageUrl).ok) throw refused();
    const action = await handle.evaluate((el: unknown) => {
      const form = (el as DomElement).form;
      return form ? (form.getAttribute('action') ?? '') : null;
    });
    if (action === null) return;
    let endpoint: string;
    try {
      endpoint = new URL(action === '' ? pageUrl : action, pageUrl).href;
    } catch {
      throw refused();
    }
    if (!guard.check(endpoint).ok) throw refused();
  } finally {
    await handle.dispose().catch(() => undefined);
  }
}

function isClosed(error: unknown): boolean {
  return error instanceof Error && /Target (page, context or browser )?closed|has been closed|browser has disconnected/i.test(error.message);
}
