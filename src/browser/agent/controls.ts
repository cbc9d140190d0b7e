import { randomUUID } from 'node:crypto';
import { AppError } from '../../core/index.js';
import type { Tab } from '../tabs.js';
import type { AgentActionResult, AgentControls, AgentPage, AgentSnapshot, BrowserEvent, RedactionSource } from '../types.js';
import { describeUrl, type UrlGuard } from '../url-guard.js';
import { actionFailed, badRef, REF, staleRef } from './errors.js';
import { createPageReader, type MutationWatch, type PageReader } from './page-reader.js';
import { buildRedact, redactShortFieldValues, type Redact } from './redact.js';
import { maskedScreenshot } from './screenshot.js';
import { createSettle, NAVIGATION_SETTLE_MS, type Settle } from './settle.js';
import { compactSnapshot, DEFAULT_MAX_CHARS, describeRef, MAX_MAX_CHARS, MIN_MAX_CHARS, pageOf } from './snapshot-text.js';
import { checkDestination, checkRef, clickTarget, inspectTarget, pickOptions, refSelector, type TargetFacts, type TargetQuestions } from './target.js';

/** Clicks, fills, hovers and selections wait this long for their element to be actionable. */
export const ACTION_TIMEOUT_MS = 5_000;
/** A navigate tool call waits at most this long for the new page to commit. */
export const NAVIGATE_TIMEOUT_MS = 15_000;
export const MAX_WAIT_MS = 30_000;
const SNAPSHOT_TIMEOUT_MS = 10_000;
const MAX_TYPE_CHARS = 10_000;
const MAX_URL_CHARS = 2_000;
/** The attribute a screenshot puts on the tab's secret fields while it is taken (the mask's selector). */
const SECRET_FIELD_TAG = 'data-webasset-mask';
const KEY = /^(?:(?:Control|Alt|Shift|Meta|ControlOrMeta)\+){0,4}(?:[A-Za-z0-9]{1,12}|[^\s])$/u;

export interface AgentControlsDeps {
  /** The active tab, or an AppError: `session_ended` after close, `conflict` while the login runs. */
  activeTab(): Tab;
  tabCount(): number;
  guard: UrlGuard;
  report(event: BrowserEvent): void;
  /** Runs one action; file choosers it opens are dismissed and counted (transfers.ts). */
  duringAction<T>(run: () => Promise<T>): Promise<{ value: T; choosersDismissed: number }>;
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

  /** Per tab: its page reader and its settle waits, made at the tab's first agent call. */
  const helpers = new WeakMap<Tab, { reader: PageReader; settle: Settle }>();
  const helpersOf = (tab: Tab) => {
    let made = helpers.get(tab);
    if (!made) {
      const reader = createPageReader({ cdp: () => tab.cdp, page: () => tab.page });
      // A main-frame navigation takes the reader's world with it; the new document's world is made
      // at once (at its commit), while the document loads, not when the result is read.
      tab.page.on('framenavigated', (frame) => {
        if (frame === tab.page.mainFrame()) reader.renew();
      });
      made = { reader, settle: createSettle(tab.page) };
      helpers.set(tab, made);
    }
    return made;
  };
  const readerOf = (tab: Tab) => helpersOf(tab).reader;

  /**
   * The redaction of this moment and the active tab's page (URL and title, unredacted: the caller
   * redacts) from one read of the active tab; `watch` (a settle wait's, of `tab`) ends in it.
   */
  type Look = (watch?: { tab: Tab; watch: MutationWatch }) => Promise<{ redact: Redact; page: AgentPage }>;

  /** Runs one call after the previous one, with the redaction of this moment's page. */
  const call = <T>(source: RedactionSource, fn: (tab: Tab, look: Look) => Promise<T>): Promise<T> => {
    if (!source || typeof source.values !== 'function') return Promise.reject(new TypeError('agent controls need a redaction source'));
    const run = async () => {
      const tab = deps.activeTab();
      const look: Look = async (watched) => {
        const current = safeActive() ?? tab;
        if (watched && watched.tab !== current) void watched.watch.stop().catch(() => undefined);
        const read = await readerOf(current).read(watched?.tab === current ? watched.watch : undefined);
        const redact = buildRedact(source, read.passwords);
        const title = read.title ?? (await titleOf(current));
        return { redact: (text: string) => redactShortFieldValues(redact(text), read.passwords), page: { url: current.page.url().slice(0, MAX_URL_CHARS), title: title.slice(0, 300) } };
      };
      try {
        return await fn(tab, look);
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

  /** A tab's title through Playwright (when the reader could not read the page), at most a second. */
  const titleOf = (tab: Tab): Promise<string> =>
    Promise.race([tab.page.title().catch(() => tab.title), new Promise<string>((resolve) => setTimeout(() => resolve(tab.title), 1_000).unref())]);
  const redactPage = (page: AgentPage, redact: Redact): AgentPage => ({ url: redact(page.url), title: redact(page.title) });
  const pageInfo = async (look: Look): Promise<AgentPage> => {
    const { redact, page } = await look();
    return redactPage(page, redact);
  };

  const targetOf = (ref: string): string | undefined => (latest ? describeRef(latest.raw, ref) : undefined);

  /**
   * Acts on the active tab and waits for what it caused; the result names the tab that is active
   * afterwards, and says so when the action opened a file chooser (dismissed: agents give no files).
   */
  const acted = async <P>(...args: Parameters<typeof actOnce<P>>): Promise<AgentActionResult> => {
    const { value, choosersDismissed } = await deps.duringAction(() => actOnce(...args));
    if (choosersDismissed > 0) value.fileChooserDismissed = true;
    return value;
  };
  /**
   * The DOM watch of the settle wait starts together with `prepare` (the reading of the target),
   * so neither waits for the other.
   */
  const actOnce = async <P>(
    tab: Tab,
    look: Look,
    prepare: () => Promise<P>,
    act: (prepared: P) => Promise<unknown>,
    extra: (prepared: P) => { target?: string | undefined; field?: 'password' | 'text'; expectPopup?: boolean } = () => ({}),
  ): Promise<AgentActionResult> => {
    const { reader, settle } = helpersOf(tab);
    const [prepared, watch] = await Promise.allSettled([prepare(), reader.watchMutations()]);
    if (prepared.status === 'rejected') {
      if (watch.status === 'fulfilled') void watch.value.stop().catch(() => undefined);
      throw prepared.reason;
    }
    if (watch.status === 'rejected') throw watch.reason;
    const facts = extra(prepared.value);
    let { effect } = await settle.after(watch.value, () => act(prepared.value), { popupOpened: () => safeActive() !== tab, expectPopup: facts.expectPopup === true });
    const now = safeActive();
    if (now && now !== tab) {
      // A popup that became the active tab after the settle wait ended is still what the action caused.
      effect = 'navigated';
      await now.page.waitForLoadState('domcontentloaded', { timeout: NAVIGATION_SETTLE_MS }).catch(() => undefined);
    }
    const { redact, page } = await look({ tab, watch: watch.value });
    const result: AgentActionResult = { page: redactPage(page, redact), effect };
    if (facts.target !== undefined) result.target = redact(facts.target);
    if (facts.field) result.field = facts.field;
    return result;
  };
  const noPreparation = async (): Promise<undefined> => undefined;

  /** An action on the element `ref`: one Playwright call for what it does, its failure in our words. */
  const onRef = async (tab: Tab, ref: string, what: string, fn: (locator: ReturnType<Tab['page']['locator']>) => Promise<unknown>): Promise<void> => {
    try {
      await fn(tab.page.locator(refSelector(ref)));
    } catch (error) {
      throw actionFailed(error, ref, what);
    }
  };
  /** The target's facts, read while the settle wait's watch starts (see `acted`). */
  const inspect = (tab: Tab, ref: string, questions?: TargetQuestions) => (): Promise<TargetFacts> => inspectTarget(tab.page, ref, questions);
  const textField = (ref: string, facts: TargetFacts): 'password' | 'text' => {
    if (facts.kind === 'none') throw new AppError('invalid_request', { publicMessage: `The element ${ref} is not a text field.` });
    return facts.kind;
  };

  return {
    snapshot(options) {
      return call(options?.redact, async (tab, look) => {
        const maxChars = clampChars(options.maxChars);
        if (options.cursor !== undefined) {
          const parsed = typeof options.cursor === 'string' ? /^(s\d+)\.(\d{1,9})$/.exec(options.cursor) : null;
          if (!parsed || !latest || latest.id !== parsed[1] || latest.tab !== tab || Number(parsed[2]) > latest.text.length) {
            throw new AppError('invalid_request', { publicMessage: 'This cursor belongs to an older snapshot or another tab; take a new snapshot.' });
          }
          const { redact, page } = await look();
          return snapshotPart(latest, Number(parsed[2]), maxChars, redactPage(page, redact), redact, deps.tabCount());
        }
        // The tree and the page's password values are read at the same time (one wait, not two in a row).
        const [raw, seen] = await Promise.all([
          tab.page.ariaSnapshot({ mode: 'ai', timeout: SNAPSHOT_TIMEOUT_MS }).catch((error: unknown) => {
            if (isClosed(error)) return Promise.reject(new AppError('session_ended'));
            return Promise.reject(new AppError('conflict', { publicMessage: 'The page could not be read (it may be loading); try again.' }));
          }),
          look(),
        ]);
        snapshots += 1;
        latest = { id: `s${snapshots}`, raw, text: seen.redact(compactSnapshot(raw)), tab };
        return snapshotPart(latest, 0, maxChars, redactPage(seen.page, seen.redact), seen.redact, deps.tabCount());
      });
    },

    click(ref, options) {
      return call(options?.redact, async (tab, look) =>
        acted(
          tab,
          look,
          () => clickTarget(tab.page, ref),
          () => onRef(tab, ref, 'clicked', (l) => l.click({ timeout: ACTION_TIMEOUT_MS })),
          (facts) => ({ target: targetOf(ref), expectPopup: facts.opensWindow }),
        ),
      );
    },

    type(ref, text, options) {
      return call(options?.redact, async (tab, look) => {
        if (typeof text !== 'string' || text.length > MAX_TYPE_CHARS) throw new AppError('invalid_request', { publicMessage: `The text must be at most ${MAX_TYPE_CHARS} characters.` });
        return acted(
          tab,
          look,
          async () => textField(ref, await inspect(tab, ref, { kind: true })()),
          async () => {
            await onRef(tab, ref, 'typed into', (l) => l.fill(text, { timeout: ACTION_TIMEOUT_MS }));
            if (options.submit) await onRef(tab, ref, 'submitted', (l) => l.press('Enter', { timeout: ACTION_TIMEOUT_MS }));
          },
          (field) => ({ target: targetOf(ref), field }),
        );
      });
    },

    selectOption(ref, values, options) {
      return call(options?.redact, async (tab, look) => {
        const given: unknown = values;
        if (!Array.isArray(given) || given.length === 0 || given.length > 100 || !given.every((v) => typeof v === 'string' && v.length <= 1000)) {
          throw new AppError('invalid_request', { publicMessage: 'Give one to 100 option values or labels.' });
        }
        const wanted = given as string[];
        return acted(
          tab,
          look,
          async () => {
            const [facts, { redact }] = await Promise.all([inspect(tab, ref, { options: true })(), look()]);
            if (!facts.select) throw new AppError('invalid_request', { publicMessage: `The element ${ref} is not a list to select from.` });
            const picked = pickOptions(facts.select, wanted, redact);
            if (!picked) throw new AppError('invalid_request', { publicMessage: `The list ${ref} has no such option; take a snapshot to see its options.` });
            return picked;
          },
          // By position: the agent's strings were matched against redacted options, Playwright would match them against the page's own.
          (picked) => onRef(tab, ref, 'selected', (l) => l.selectOption(picked.map((index) => ({ index })), { timeout: ACTION_TIMEOUT_MS })),
          () => ({ target: targetOf(ref) }),
        );
      });
    },

    pressKey(key, options) {
      return call(options?.redact, async (tab, look) => {
        if (typeof key !== 'string' || key.length > 60 || !KEY.test(key)) {
          throw new AppError('invalid_request', { publicMessage: 'A key is a key name such as Enter, Tab, ArrowDown or a, optionally with modifiers (Control+a).' });
        }
        return acted(tab, look, noPreparation, () =>
          tab.page.keyboard.press(key).catch((error: unknown) => {
            if (isClosed(error)) return Promise.reject(new AppError('session_ended'));
            return Promise.reject(new AppError('invalid_request', { publicMessage: 'Unknown key name; use names such as Enter, Tab, Escape, ArrowDown, a.' }));
          }),
        );
      });
    },

    hover(ref, options) {
      return call(options?.redact, async (tab, look) =>
        acted(
          tab,
          look,
          () => checkRef(tab.page, ref),
          () => onRef(tab, ref, 'hovered', (l) => l.hover({ timeout: ACTION_TIMEOUT_MS })),
          () => ({ target: targetOf(ref) }),
        ),
      );
    },

    navigate(url, options) {
      return call(options?.redact, async (tab, look) => {
        const verdict = typeof url === 'string' && url.length <= 8_000 ? deps.guard.check(url) : { ok: false as const, reason: 'not a URL' };
        if (!verdict.ok) {
          deps.report({ type: 'blocked', what: 'navigation', url: describeUrl(String(url).slice(0, 8_000)), reason: verdict.reason });
          throw new AppError('forbidden', { publicMessage: 'This address is outside the hosts this asset allows.' });
        }
        // A refused redirect or an unreachable portal ends in an error page: the session goes on.
        return acted(tab, look, noPreparation, () => tab.page.goto(url, { waitUntil: 'commit', timeout: NAVIGATE_TIMEOUT_MS }).catch(() => undefined));
      });
    },

    goBack(options) {
      return call(options?.redact, async (tab, look) => {
        const before = tab.page.url();
        const result = await acted(tab, look, noPreparation, () => tab.page.goBack({ waitUntil: 'commit', timeout: NAVIGATE_TIMEOUT_MS }).catch(() => null));
        if (result.effect !== 'navigated' && tab.page.url() !== before) result.effect = 'navigated';
        return result;
      });
    },

    waitFor(condition, timeoutMs, options) {
      return call(options?.redact, async (tab, look) => {
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
          waiting = waitForShownText(tab, value, timeout, look);
        } else {
          // Matched against the address the agent is shown: a guess at a secret in it must not be confirmed.
          const redact = buildRedact(options.redact);
          const matches = urlMatcher(value);
          waiting = tab.page.waitForURL((u) => matches(redact(u.href)), { waitUntil: 'commit', timeout });
        }
        try {
          await waiting;
        } catch (error) {
          if (isClosed(error)) throw new AppError('session_ended');
          if (kind === 'ref' && /aria-ref|Invalid frame/i.test(error instanceof Error ? error.message : '') && !/Timeout/i.test(error instanceof Error ? error.message : '')) throw staleRef(value);
          throw new AppError('wait_timed_out', { publicMessage: `The ${kind} waited for did not ${kind === 'url' ? 'match' : 'appear'} within ${(timeout / 1000).toFixed(1)} s.` });
        }
        return { page: await pageInfo(look), effect: 'none' as const };
      });
    },

    screenshot(options) {
      return call(options?.redact, async (tab, look) => {
        const reader = readerOf(tab);
        const passwords = await reader.passwordValues();
        // The fields a credential was typed into are masked by a tag of this screenshot's own (their value attribute is not their value).
        const tag = randomUUID();
        await reader.tagSecretFields(SECRET_FIELD_TAG, tag);
        try {
          const shot = await maskedScreenshot(tab.page, [...options.redact.values()].map((b) => b.toString('utf8')), passwords, `[${SECRET_FIELD_TAG}="${tag}"]`).catch((error: unknown) => {
            if (isClosed(error)) return Promise.reject(new AppError('session_ended'));
            return Promise.reject(new AppError('conflict', { publicMessage: 'The screenshot could not be taken; try again.' }));
          });
          return { ...shot, page: await pageInfo(look) };
        } finally {
          await reader.tagSecretFields(SECRET_FIELD_TAG, null).catch(() => undefined);
        }
      });
    },

    fillCredential(ref, secret, options) {
      return call(options?.redact, async (tab, look) => {
        if (!Buffer.isBuffer(secret) || secret.length === 0) throw new AppError('invalid_request', { publicMessage: 'The credential has no value for this field.' });
        const reader = readerOf(tab);
        return acted(
          tab,
          look,
          async () => {
            const field = textField(ref, { kind: await checkDestination(tab.page, ref, deps.guard), opensWindow: false });
            // A password typed into a plain text field would be drawn in clear by the live view, the recording and a screenshot.
            if (options.secret === 'password' && field !== 'password') {
              throw new AppError('invalid_request', { publicMessage: `The element ${ref} is not a password field; the password is typed only into one.` });
            }
            return field;
          },
          async () => {
            // The field is tagged for the page reader's own world, which keeps it as a secret field: whatever it holds later
            // (a value cut short with Backspace, its type turned to text) is redacted and masked like a password field's.
            // Marked before the value goes in: a field that could not be marked gets nothing.
            const attr = `data-webasset-secret-${randomUUID()}`;
            await onRef(tab, ref, 'marked', (l) => l.evaluate((el, name) => (el as { setAttribute(n: string, v: string): void }).setAttribute(name, ''), attr, { timeout: ACTION_TIMEOUT_MS }));
            if ((await reader.markSecretFields(attr)) === 0) throw new AppError('conflict', { publicMessage: `The field ${ref} changed before it could be filled; take a new snapshot.` });
            await onRef(tab, ref, 'filled', (l) => l.fill(secret.toString('utf8'), { timeout: ACTION_TIMEOUT_MS }));
          },
          (field) => ({ target: targetOf(ref), field }),
        );
      });
    },
  };
}

/** How often wait_for looks for its text again. */
const TEXT_POLL_MS = 100;

/**
 * Waits until `value` shows in a visible element's text as the agent would be shown it: Playwright
 * finds the candidates (its text matching: case and runs of white space aside), and a candidate counts
 * only if its redacted text still holds the value. The page's own text may hold a secret (a careless
 * portal): matched on the raw text, each wait would confirm a guess at one more of its letters.
 */
async function waitForShownText(tab: Tab, value: string, timeoutMs: number, look: (watch?: undefined) => Promise<{ redact: Redact }>): Promise<void> {
  const wanted = normalizeText(value);
  const deadline = Date.now() + timeoutMs;
  const candidates = tab.page.getByText(value).filter({ visible: true });
  for (;;) {
    // A document on its way out (a navigation) answers nothing this time; a closed tab ends the wait.
    const texts = await candidates.allInnerTexts().catch((error: unknown) => (isClosed(error) ? Promise.reject(error) : []));
    if (texts.length > 0) {
      const { redact } = await look();
      if (texts.some((t) => normalizeText(redact(t)).includes(wanted))) return;
    }
    const left = deadline - Date.now();
    if (left <= 0) throw new Error('Timeout: the text did not appear');
    await new Promise((resolve) => setTimeout(resolve, Math.min(TEXT_POLL_MS, left)));
  }
}

function normalizeText(text: string): string {
  return text.replace(/\s+/g, ' ').trim().toLowerCase();
}

/**
 * wait_for's `url`: a glob when it holds `*` (`**` any characters, `*` any but `/`), else a substring.
 * Matched by us, not by Playwright, since it is matched against the redacted address. Matched in
 * time proportional to pattern × address, never with a regular expression: `**a**a**a…` as a
 * RegExp backtracks exponentially and would hold the server's event loop (one agent, every session).
 */
export function urlMatcher(pattern: string): (url: string) => boolean {
  if (!pattern.includes('*')) return (url) => url.includes(pattern);
  const tokens = pattern.split(/(\*\*|\*)/).flatMap((part) => (part === '**' || part === '*' ? [part] : [...part]));
  return (url) => {
    // reach[j]: the tokens so far can match url's first j characters.
    let reach = new Array<boolean>(url.length + 1).fill(false);
    reach[0] = true;
    for (const token of tokens) {
      const next = new Array<boolean>(url.length + 1).fill(false);
      for (let j = 0; j <= url.length; j++) {
        if (token === '**') next[j] = reach[j]! || (j > 0 && next[j - 1]!);
        else if (token === '*') next[j] = reach[j]! || (j > 0 && next[j - 1]! && url[j - 1] !== '/');
        else next[j] = j > 0 && reach[j - 1]! && url[j - 1] === token;
      }
      reach = next;
    }
    return reach[url.length]!;
  };
}

/** The part of a snapshot's text from `offset`, with its cursor when there is more. */
function snapshotPart(snapshot: { id: string; text: string }, offset: number, maxChars: number, page: AgentPage, redact: Redact, tabs: number): AgentSnapshot {
  const part = pageOf(snapshot.text, offset, maxChars);
  const result: AgentSnapshot = { page, text: redact(part.text), tabs };
  if (part.next !== undefined) result.cursor = `${snapshot.id}.${part.next}`;
  return result;
}

function clampChars(value: number | undefined): number {
  if (value === undefined) return DEFAULT_MAX_CHARS;
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new AppError('invalid_request', { publicMessage: 'maxChars is a number of characters.' });
  return Math.min(MAX_MAX_CHARS, Math.max(MIN_MAX_CHARS, Math.round(value)));
}

function isClosed(error: unknown): boolean {
  return error instanceof Error && /Target (page, context or browser )?closed|has been closed|browser has disconnected/i.test(error.message);
}
