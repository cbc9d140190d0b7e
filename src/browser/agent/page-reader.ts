import type { CDPSession, Page } from 'playwright-core';

const WORLD = 'webasset-agent';
/** At most this many password fields are read per frame (a page cannot make a snapshot slow with thousands). */
const MAX_FIELDS = 50;
const MAX_TITLE_CHARS = 300;

/** What one read of a tab gives: its password-field values (for redaction) and its main document's title. */
export interface PageRead {
  passwords: string[];
  /** The main document's title, or undefined when the main frame could not be read. */
  title: string | undefined;
}

/** A DOM-change watch of the main document, started before an action (see settle.ts). */
export interface MutationWatch {
  readonly active: boolean;
  /** How many changes came and how long ago the last one came; undefined once the document is gone (a navigation). */
  read(): Promise<{ count: number; idleMs: number } | undefined>;
  /**
   * As `read()`, answered by the page once the DOM has had no change for `quietMs` (counted from
   * this call at the earliest) or `capMs` passed: one round trip instead of a poll every few ms.
   * Answered at once, with `leaving`, when the document is on its way out: since the watch began it
   * submitted a form into its own window (not cancelled) or started a navigation to another document.
   */
  quiet(quietMs: number, capMs: number): Promise<{ count: number; idleMs: number; leaving: boolean } | undefined>;
  /** The watch's id in the page: `read()` of the reader ends it in the same round trip. */
  readonly token: string | undefined;
  stop(): Promise<void>;
}

/**
 * Reads the page in an isolated world of the tab (page scripts cannot change what it sees): the
 * current values of password fields, for redaction, the main document's title, and a DOM-quiet
 * wait, for settling. The main document's world is kept until a main-frame navigation brings a
 * new document (`renew()`), so a read is one round trip; a page with child
 * frames is read frame by frame through the frame tree, as before.
 */
export function createPageReader(deps: { cdp: () => CDPSession; page: () => Page }) {
  /** The main document's world, with the document (loader id) it was made in. */
  let mainWorld: { cdp: CDPSession; id: Promise<{ contextId: number; loaderId: string }> } | undefined;
  /** Child frames' worlds by frame id and document (loader id). */
  const worlds = new Map<string, { key: string; cdp: CDPSession; id: Promise<number> }>();

  const frameTree = async () => {
    try {
      return (await deps.cdp().send('Page.getFrameTree')).frameTree;
    } catch {
      return undefined;
    }
  };

  const createWorld = (cdp: CDPSession, frameId: string): Promise<number> =>
    cdp.send('Page.createIsolatedWorld', { frameId, worldName: WORLD, grantUniveralAccess: false }).then((r) => r.executionContextId);

  /**
   * The main document's world: the kept one, or (`fresh`, or none yet) one made after a look at
   * the frame tree. With `reuse`, a kept world of the same document is kept (a same-document
   * navigation leaves it valid; a new world per pushState would pile up in the page).
   */
  const mainContext = (cdp: CDPSession, fresh: boolean, reuse = false): Promise<number> => {
    const previous = mainWorld;
    if (previous && previous.cdp === cdp && !fresh) return previous.id.then((w) => w.contextId);
    const made = {
      cdp,
      id: frameTree().then(async (tree) => {
        if (!tree) throw new Error('no main frame');
        const loaderId = tree.frame.loaderId;
        if (reuse && previous && previous.cdp === cdp) {
          const kept = await previous.id.catch(() => undefined);
          if (kept && kept.loaderId === loaderId) return kept;
        }
        return { contextId: await createWorld(cdp, tree.frame.id), loaderId };
      }),
    };
    mainWorld = made;
    made.id.catch(() => {
      if (mainWorld === made) mainWorld = undefined;
    });
    return made.id.then((w) => w.contextId);
  };

  const childContext = (cdp: CDPSession, frame: FrameRef, fresh: boolean): Promise<number> => {
    const key = `${frame.id}:${frame.loaderId}`;
    const cached = worlds.get(frame.id);
    if (cached && cached.cdp === cdp && cached.key === key && !fresh) return cached.id;
    const id = createWorld(cdp, frame.id);
    worlds.set(frame.id, { key, cdp, id });
    id.catch(() => {
      if (worlds.get(frame.id)?.id === id) worlds.delete(frame.id);
    });
    return id;
  };

  /**
   * Evaluates `expression` in a world, once more in a new world when the document changed under it
   * (unless `once`: a wait that a navigation interrupted is not started again in the new document);
   * undefined when the frame went away.
   */
  const evaluateIn = async <T>(context: (cdp: CDPSession, fresh: boolean) => Promise<number>, expression: string, awaitPromise = false, once = false): Promise<T | undefined> => {
    const cdp = deps.cdp();
    for (let attempt = 0; attempt < (once ? 1 : 2); attempt++) {
      try {
        const contextId = await context(cdp, attempt > 0);
        const result = await cdp.send('Runtime.evaluate', { expression, contextId, returnByValue: true, awaitPromise });
        return result.exceptionDetails ? undefined : (result.result.value as T);
      } catch {
        // The document changed (its world went with it): once more with a new world.
      }
    }
    return undefined;
  };
  const evaluateMain = <T>(expression: string, awaitPromise = false, once = false) => evaluateIn<T>(mainContext, expression, awaitPromise, once);

  /**
   * Evaluates `expression` in every child frame: those of the tab's frame tree (the tab's process)
   * in their isolated worlds, then the others Playwright knows (cross-site iframes, and the main
   * frame when `main` is undefined: its world could not be read) in their own worlds.
   */
  const evaluateChildFrames = async <T extends { url: string }>(expression: string, main: { url: string } | undefined): Promise<Array<T | undefined>> => {
    const seen = new Set<string>(main === undefined ? [] : [main.url]);
    const results: Array<T | undefined> = [];
    const tree = await frameTree();
    if (tree) {
      type Tree = typeof tree;
      const frames: FrameRef[] = [];
      const walk = (t: Tree) => {
        for (const child of t.childFrames ?? []) {
          frames.push({ id: child.frame.id, loaderId: child.frame.loaderId });
          walk(child);
        }
      };
      walk(tree);
      const read = await Promise.all(frames.map((frame) => evaluateIn<T>((cdp, fresh) => childContext(cdp, frame, fresh), expression)));
      for (const r of read) {
        if (r) seen.add(r.url);
        results.push(r);
      }
    }
    const page = deps.page();
    const others = page.frames().filter((frame) => (frame !== page.mainFrame() || main === undefined) && !seen.has(frame.url()));
    results.push(...(await Promise.all(others.map((frame) => frame.evaluate(expression).then((r) => r as T, () => undefined)))));
    return results;
  };

  /** `main` (what `call` gave in the main document's world) and, when the page has child frames, what it gives in theirs. */
  const withChildFrames = async <T extends { url: string; frames: number }>(call: string, main: T | undefined): Promise<Array<T | undefined>> => {
    if (main && main.frames === 0 && deps.page().frames().length <= 1) return [main];
    return [main, ...(await evaluateChildFrames<T>(call, main))];
  };
  const callOf = (fn: string, ...args: unknown[]) => `(${fn})(${args.map((a) => JSON.stringify(a)).join(', ')})`;
  /** A page-side function in every frame's world (see `withChildFrames`). */
  const evaluateAll = async <T extends { url: string; frames: number }>(fn: string, ...args: unknown[]): Promise<Array<T | undefined>> => {
    const call = callOf(fn, ...args);
    return withChildFrames<T>(call, await evaluateMain<T>(call));
  };

  /**
   * Every password field's current value in every frame of the tab, and the main document's
   * title. With `watch`, the watch of that document ends in the same round trip. A page without
   * child frames is one round trip; frames of another process (cross-site iframes) are not in
   * the tab's frame tree and are read through Playwright, in the page's own world.
   */
  const read = async (watch?: MutationWatch): Promise<PageRead> => {
    const values = new Set<string>();
    const main = await evaluateMain<RawRead>(`(${READ_FN})(${MAX_FIELDS}, ${watch?.token ?? 'null'})`);
    // The children are read without the watch's token: it is the main document's.
    for (const r of await withChildFrames<RawRead>(callOf(READ_FN, MAX_FIELDS, null), main)) addValues(values, r?.values);
    return { passwords: [...values], title: typeof main?.title === 'string' ? main.title.slice(0, MAX_TITLE_CHARS) : undefined };
  };

  return {
    read,
    async passwordValues(): Promise<string[]> {
      return (await read()).passwords;
    },
    /**
     * Takes the fields that carry attribute `attr` (set on the field a credential was just typed
     * into) into the list of secret fields of their document: from then on their value, whatever
     * it becomes, is read as a password's (redacted, masked). Returns how many were found.
     */
    async markSecretFields(attr: string): Promise<number> {
      const found = await evaluateAll<{ url: string; frames: number; found: number }>(MARK_FN, attr);
      return found.reduce((n, r) => n + (r?.found ?? 0), 0);
    },
    /** Sets (value) or removes (null) attribute `attr` on every secret field of the tab: a screenshot masks them by it. */
    async tagSecretFields(attr: string, value: string | null): Promise<void> {
      await evaluateAll(TAG_FN, attr, value);
    },
    /**
     * Starts counting DOM changes in the main frame. `read()` gives how many came and how long ago
     * the last one came (undefined once the document is gone: a navigation); `stop()` ends it.
     */
    async watchMutations(): Promise<MutationWatch> {
      const token = JSON.stringify(`w${Math.random().toString(36).slice(2)}`);
      const started = await evaluateMain<boolean>(`(${WATCH_FN})(${token})`);
      return {
        active: started === true,
        token: started === true ? token : undefined,
        read: async () => (started === true ? ((await evaluateMain<{ count: number; idleMs: number } | null>(`(${READ_WATCH_FN})(${token})`)) ?? undefined) : undefined),
        quiet: async (quietMs, capMs) =>
          started === true
            ? ((await evaluateMain<{ count: number; idleMs: number; leaving: boolean } | null>(`(${QUIET_FN})(${token}, ${Math.round(quietMs)}, ${Math.round(capMs)})`, true, true)) ?? undefined)
            : undefined,
        stop: async () => {
          if (started === true) await evaluateMain(`(${STOP_FN})(${token})`);
        },
      };
    },
    /**
     * The main frame navigated (Playwright's framenavigated): the frame tree says whether it is a
     * new document, and then its world is made at once, while it loads, ahead of the next read.
     */
    renew(): void {
      mainContext(deps.cdp(), true, true).catch(() => undefined);
    },
  };
}

export type PageReader = ReturnType<typeof createPageReader>;

interface FrameRef {
  id: string;
  loaderId: string;
}

interface RawRead {
  url: string;
  title: string;
  values: string[];
  /** Child browsing contexts of the document (window.length): iframes, frames, objects. */
  frames: number;
}

function addValues(into: Set<string>, values: unknown): void {
  if (!Array.isArray(values)) return;
  for (const v of values) if (typeof v === 'string' && v) into.add(v);
}

// Page-side functions: plain text, not compiled by tsc (the project has no DOM library).
/** Password values (shadow roots included), the title and the child-frame count; ends the watch `token` when given. */
const READ_FN = `function (max, token) {
  if (token) {
    var all = window.__webassetAgent || {};
    if (all[token]) { all[token].end(); delete all[token]; }
  }
  var out = [];
  var visit = function (root) {
    var list = root.querySelectorAll('input');
    for (var i = 0; i < list.length && out.length < max; i++) {
      var el = list[i];
      var ac = String(el.getAttribute('autocomplete') || '');
      if (String(el.type).toLowerCase() === 'password' || /password|one-time-code/i.test(ac)) out.push(String(el.value || ''));
    }
    var all = root.querySelectorAll('*');
    for (var j = 0; j < all.length && out.length < max; j++) if (all[j].shadowRoot) visit(all[j].shadowRoot);
  };
  visit(document);
  // Fields a credential was typed into: whatever they hold now (edited, or shown as text) is a secret too.
  var filled = window.__webassetSecretFields;
  if (filled) filled.forEach(function (el) {
    if (out.length < max * 2) out.push(String(el.isContentEditable ? el.textContent || '' : el.value || ''));
  });
  return { url: location.href, title: String(document.title || ''), values: out, frames: window.length };
}`;

/**
 * Takes the fields carrying the one-time attribute `attr` (set by the caller on the field a
 * credential was just typed into) into this world's list of secret fields, and asks the browser to
 * draw their text as dots, whatever their type becomes (a "show password" button): the live view,
 * the recording and screenshots then show no more of the value than the snapshot does.
 */
const MARK_FN = `function (attr) {
  var filled = window.__webassetSecretFields = window.__webassetSecretFields || new Set();
  var found = 0;
  var visit = function (root) {
    var list = root.querySelectorAll('[' + attr + ']');
    for (var i = 0; i < list.length; i++) {
      var el = list[i];
      el.removeAttribute(attr);
      filled.add(el);
      if (el.style) el.style.setProperty('-webkit-text-security', 'disc', 'important');
      found++;
    }
    var all = root.querySelectorAll('*');
    for (var j = 0; j < all.length; j++) if (all[j].shadowRoot) visit(all[j].shadowRoot);
  };
  visit(document);
  return { url: location.href, frames: window.length, found: found };
}`;

/** Sets (`value`) or removes (null) attribute `attr` on this world's secret fields: a screenshot masks them by it. */
const TAG_FN = `function (attr, value) {
  var filled = window.__webassetSecretFields;
  if (filled) filled.forEach(function (el) { if (value === null) el.removeAttribute(attr); else el.setAttribute(attr, value); });
  return { url: location.href, frames: window.length };
}`;

// A submitted form's navigation starts in a later task, and the browser reports its request later
// still: on a busy machine the DOM can look quiet for longer than QUIET_MS in between, so the watch
// also notes that the document is leaving (a submission into its own window, not cancelled, or a
// navigation to another document), and the settle wait then waits for the request (settle.ts).
const WATCH_FN = `function (token) {
  var state = { count: 0, last: performance.now(), submits: [], navigations: [] };
  var observer = new MutationObserver(function (records) { state.count += records.length; state.last = performance.now(); });
  observer.observe(document, { subtree: true, childList: true, attributes: true, characterData: true });
  var onSubmit = function (e) {
    var form = e.target, by = e.submitter;
    var method = String((by && by.getAttribute && by.getAttribute('formmethod')) || (form && form.getAttribute && form.getAttribute('method')) || '').toLowerCase();
    if (method === 'dialog') return;
    var target = String((by && by.getAttribute && by.getAttribute('formtarget')) || (form && form.getAttribute && form.getAttribute('target')) || '').toLowerCase();
    if (target === '' || target === '_self' || target === '_top' || target === '_parent') state.submits.push(e);
  };
  // A download (a link with download) and a same-document change (hash, history) load no new document.
  var onNavigate = function (e) { if (e.downloadRequest == null && !(e.destination && e.destination.sameDocument)) state.navigations.push(e); };
  var navigation = window.navigation;
  document.addEventListener('submit', onSubmit, true);
  if (navigation && navigation.addEventListener) navigation.addEventListener('navigate', onNavigate);
  // Read when asked, not when the event came: a page's own listener may cancel it after ours ran.
  state.leaving = function () {
    var all = state.submits.concat(state.navigations);
    for (var i = 0; i < all.length; i++) if (!all[i].defaultPrevented) return true;
    return false;
  };
  state.end = function () {
    observer.disconnect();
    document.removeEventListener('submit', onSubmit, true);
    if (navigation && navigation.removeEventListener) navigation.removeEventListener('navigate', onNavigate);
  };
  window.__webassetAgent = window.__webassetAgent || {};
  window.__webassetAgent[token] = state;
  return true;
}`;

const READ_WATCH_FN = `function (token) {
  var state = (window.__webassetAgent || {})[token];
  return state ? { count: state.count, idleMs: performance.now() - state.last } : null;
}`;

const QUIET_FN = `function (token, quiet, cap) {
  var state = (window.__webassetAgent || {})[token];
  if (!state) return null;
  var t0 = performance.now();
  return new Promise(function (resolve) {
    var check = function () {
      var now = performance.now();
      var idle = now - Math.max(state.last, t0);
      var leaving = state.leaving();
      if (leaving || idle >= quiet || now - t0 >= cap || !(window.__webassetAgent || {})[token]) resolve({ count: state.count, idleMs: now - state.last, leaving: leaving });
      else setTimeout(check, Math.max(1, Math.min(quiet - idle, cap - (now - t0))));
    };
    check();
  });
}`;

const STOP_FN = `function (token) {
  var all = window.__webassetAgent || {};
  if (all[token]) { all[token].end(); delete all[token]; }
  return true;
}`;
