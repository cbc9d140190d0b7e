import type { CDPSession } from 'playwright-core';
import type { BrowserEvent, InputEvent } from './types.js';

/** What the recording learns of a viewer's input: clicks with their target, typed keys per field, clipboard use. */
export interface InputRecorderOptions {
  report(event: BrowserEvent): void;
  /** `plain`: text typed into fields other than password fields is kept; `masked` (default): counts only. */
  keystrokes: 'masked' | 'plain';
  /** A field's summary is reported after this long without typing (default 2 s). */
  idleFlushMs?: number;
}

/** The tab an input goes to: its control channel, whose isolated world reads the page. */
export interface InputTarget {
  readonly cdp: CDPSession;
}

export interface InputRecorder {
  /**
   * Called before an input is dispatched: reads what it acts on (the element under the pointer,
   * the focused field) so that the page is read as it was before the input changed it. Resolves
   * when the input may be dispatched (a mouse press waits for its target to be read, at most
   * {@link MAX_CLICK_READ_WAIT_MS}), to what to call once it was dispatched, if anything (nothing today).
   */
  before(target: InputTarget, event: InputEvent): Promise<(() => void) | undefined>;
  /** The tab's page changed (a navigation): its reader is made ready now, so the next press is read at once. */
  prepare(target: InputTarget): void;
  /**
   * A copy handed to the viewer or a paste from it (clipboard.ts, BrowserSession.paste): reported
   * in input order, after the summary of the field typed into before it. A count, never the text.
   */
  clipboard(direction: 'copy' | 'paste', chars: number): void;
  /**
   * Reports the summary of the field being typed into (at the session's end), once the reads of
   * inputs already dispatched have come back (at most {@link MAX_CLICK_READ_WAIT_MS}): keys typed
   * just before the end are counted.
   */
  flush(): Promise<void>;
}

const MAX_TEXT = 1000;
/** A press is held back at most this long for its target to be read (usually one CDP round trip, a few ms). */
export const MAX_CLICK_READ_WAIT_MS = 150;
const MAX_COORDINATE = 100_000;
const MODIFIERS = new Set(['Control', 'Alt', 'Meta', 'Shift']);
/** Keys that end typing into a field: the summary so far is reported. */
const FIELD_ENDERS = new Set(['Enter', 'Tab', 'Escape']);
const WORLD = 'webasset-recording';

interface Field {
  target: string;
  password: boolean;
}

/**
 * Turns viewer input into recording events without slowing it down: the page is read in an
 * isolated world (page scripts cannot change what it sees) in parallel with the dispatch, and
 * the results are reported in input order. A field's typing is summarized: a count, and the
 * text only when the asset allows plain text and the field is not a password field. An input's
 * value is never read.
 */
export function createInputRecorder(options: InputRecorderOptions): InputRecorder {
  const idleFlushMs = options.idleFlushMs ?? 2_000;
  const worlds = new WeakMap<CDPSession, Promise<number>>();
  let modifiers = new Set<string>();
  let queue: Promise<void> = Promise.resolve();
  let typing: { field: Field; count: number; text: string } | null = null;
  let idle: NodeJS.Timeout | undefined;

  const inOrder = (step: () => Promise<void> | void) => {
    queue = queue.then(step).catch(() => undefined);
  };
  const flush = () => {
    if (idle) clearTimeout(idle);
    idle = undefined;
    if (!typing || typing.count === 0) {
      typing = null;
      return;
    }
    const { field, count, text } = typing;
    typing = null;
    const plain = options.keystrokes === 'plain' && !field.password;
    options.report({ type: 'keys', target: field.target, field: field.password ? 'password' : 'text', count, ...(plain ? { text } : {}) });
  };
  const typed = (field: Field, chars: string, count: number) => {
    if (typing && (typing.field.target !== field.target || typing.field.password !== field.password)) flush();
    typing ??= { field, count: 0, text: '' };
    typing.count += count;
    if (!field.password && options.keystrokes === 'plain') typing.text = (typing.text + chars).slice(0, MAX_TEXT);
    if (typing.text.length >= MAX_TEXT) flush();
    if (idle) clearTimeout(idle);
    idle = setTimeout(() => inOrder(flush), idleFlushMs);
    idle.unref();
  };
  const erased = () => {
    if (typing && !typing.field.password && typing.text.length > 0) typing.text = typing.text.slice(0, -1);
  };

  const prepare = (cdp: CDPSession) => {
    const world = isolatedWorld(cdp);
    worlds.set(cdp, world);
    world.catch(() => {
      if (worlds.get(cdp) === world) worlds.delete(cdp);
    });
  };
  const read = async <T>(cdp: CDPSession, op: string, x = 0, y = 0): Promise<T | undefined> => {
    for (let attempt = 0; attempt < 2; attempt++) {
      let world = worlds.get(cdp);
      if (!world || attempt > 0) {
        world = isolatedWorld(cdp);
        worlds.set(cdp, world);
      }
      try {
        const result = await cdp.send('Runtime.evaluate', { expression: `(${PAGE_READER})(${JSON.stringify(op)}, ${x}, ${y})`, contextId: await world, returnByValue: true });
        return result.exceptionDetails ? undefined : (result.result.value as T);
      } catch {
        // The page navigated since (its isolated world went with it): a new one, once.
        worlds.delete(cdp);
      }
    }
    return undefined;
  };

  return {
    async before(target, event) {
      if (!event || typeof event !== 'object') return undefined;
      const { cdp } = target;
      // A pointer moves before it presses: the reader is ready by then.
      if (!worlds.has(cdp)) prepare(cdp);
      if (event.type === 'mouse') {
        if (event.action !== 'down' || !coordinate(event.x) || !coordinate(event.y)) return undefined;
        const { x, y } = event;
        const button = event.button ?? 'left';
        const described = read<string>(cdp, 'at', x, y);
        inOrder(async () => {
          flush();
          options.report({ type: 'click', x: Math.round(x), y: Math.round(y), button, target: (await described) ?? 'page' });
        });
        // A press on a link navigates at once: the target is read before the press reaches the page.
        await Promise.race([described, new Promise((resolve) => setTimeout(resolve, MAX_CLICK_READ_WAIT_MS).unref())]);
        return undefined;
      }
      if (event.type === 'text') {
        if (typeof event.text !== 'string' || event.text.length === 0 || event.text.length > 10_000) return undefined;
        const text = event.text;
        const focused = read<Field>(cdp, 'focus');
        inOrder(async () => typed((await focused) ?? PAGE, text, [...text].length));
        return undefined;
      }
      if (event.type !== 'key' || typeof event.key !== 'string') return undefined;
      const key = event.key;
      if (MODIFIERS.has(key)) {
        if (event.action === 'down') modifiers.add(key);
        else if (event.action === 'up') modifiers.delete(key);
        return undefined;
      }
      if (event.action !== 'down') return undefined;
      const ctrl = modifiers.has('Control');
      const alt = modifiers.has('Alt');
      const command = modifiers.has('Meta') || ctrl !== alt;
      const letter = key.length === 1 ? key.toLowerCase() : '';
      // Copy and paste are reported by what they carried (clipboard()), not by their shortcut.
      if (command && (letter === 'c' || letter === 'x' || letter === 'v')) return undefined;
      if (FIELD_ENDERS.has(key)) {
        inOrder(flush);
        return undefined;
      }
      if (key === 'Backspace' || key === 'Delete') {
        inOrder(erased);
        return undefined;
      }
      // A character typed as a keyboard does (input.ts: one character, no command modifier held).
      if ([...key].length !== 1 || key.length > 2 || command) return undefined;
      const focused = read<Field>(cdp, 'focus');
      inOrder(async () => typed((await focused) ?? PAGE, key, 1));
      return undefined;
    },
    prepare(target) {
      prepare(target.cdp);
    },
    clipboard(direction, chars) {
      inOrder(() => {
        flush();
        options.report({ type: 'clipboard', direction, chars });
      });
    },
    async flush() {
      inOrder(flush);
      await Promise.race([queue, new Promise((resolve) => setTimeout(resolve, MAX_CLICK_READ_WAIT_MS).unref())]);
      // Whatever did not come back in time: its summary so far.
      flush();
      modifiers = new Set();
    },
  };
}

const PAGE: Field = { target: 'page', password: false };

function coordinate(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 && value <= MAX_COORDINATE;
}

async function isolatedWorld(cdp: CDPSession): Promise<number> {
  const { frameTree } = await cdp.send('Page.getFrameTree');
  const { executionContextId } = await cdp.send('Page.createIsolatedWorld', { frameId: frameTree.frame.id, worldName: WORLD, grantUniveralAccess: true });
  return executionContextId;
}

/**
 * Runs in the tab's isolated world: reads the element under a point (through open shadow roots
 * and same-process iframes) or the focused field. Plain text, not compiled by tsc. A description is tag, type, name (or id), role and a
 * label: aria-label, the field's <label>, a button's or link's own text; never a field's value
 * (only a submit button's, which is its caption).
 */
const PAGE_READER = `function (op, px, py) {
  var clean = function (s) { return String(s == null ? '' : s).replace(/[\\u0000-\\u001f\\u007f]+/g, ' ').replace(/\\s+/g, ' ').trim(); };
  var cut = function (s, n) { return s.length > n ? s.slice(0, n - 1) + '\\u2026' : s; };
  var FIELDS = { INPUT: 1, TEXTAREA: 1, SELECT: 1 };
  var textOf = function (node) {
    var out = '';
    var walk = function (n) {
      if (out.length > 200) return;
      if (n.nodeType === 3) { out += n.nodeValue + ' '; return; }
      if (n.nodeType !== 1 || FIELDS[n.tagName] || n.tagName === 'SCRIPT' || n.tagName === 'STYLE') return;
      for (var c = n.firstChild; c; c = c.nextSibling) walk(c);
    };
    walk(node);
    return clean(out);
  };
  var frameDoc = function (el) {
    if (el.tagName !== 'IFRAME' && el.tagName !== 'FRAME') return null;
    try { return el.contentDocument; } catch (e) { return null; }
  };
  var at = function (x, y) {
    var el = document.elementFromPoint(x, y);
    for (var i = 0; i < 20 && el; i++) {
      if (el.shadowRoot) { var s = el.shadowRoot.elementFromPoint(x, y); if (s && s !== el) { el = s; continue; } }
      var doc = frameDoc(el);
      if (doc) { var r = el.getBoundingClientRect(); x -= r.left + el.clientLeft; y -= r.top + el.clientTop; var inner = doc.elementFromPoint(x, y); if (inner) { el = inner; continue; } }
      break;
    }
    return el;
  };
  var focused = function () {
    var el = document.activeElement;
    for (var i = 0; i < 20 && el; i++) {
      if (el.shadowRoot && el.shadowRoot.activeElement) { el = el.shadowRoot.activeElement; continue; }
      var doc = frameDoc(el);
      if (doc && doc.activeElement) { el = doc.activeElement; continue; }
      break;
    }
    return el;
  };
  var typeOf = function (el) { return el.tagName === 'INPUT' ? String(el.type || 'text').toLowerCase() : ''; };
  var describe = function (el) {
    if (!el || el.nodeType !== 1 || el.tagName === 'BODY' || el.tagName === 'HTML') return 'page';
    var hit = el.closest ? el.closest('a,button,input,select,textarea,label,summary,option,[role],[contenteditable]') : null;
    if (hit) el = hit;
    var tag = el.tagName.toLowerCase();
    var type = typeOf(el);
    var attr = function (n) { return clean(el.getAttribute(n)); };
    var sel = tag;
    if (type && type !== 'text') sel += '[type=' + cut(type, 20) + ']';
    if (attr('name') && (FIELDS[el.tagName] || tag === 'button')) sel += '[name=' + cut(attr('name'), 40) + ']';
    else if (el.id) sel += '#' + cut(clean(el.id), 40);
    var role = attr('role');
    if (role) sel += '[role=' + cut(role, 20) + ']';
    var label = attr('aria-label');
    if (!label && el.labels && el.labels.length) label = textOf(el.labels[0]);
    if (!label && tag === 'input' && (type === 'submit' || type === 'button' || type === 'reset')) label = attr('value');
    if (!label && FIELDS[el.tagName]) label = attr('placeholder') || attr('title');
    if (!label && !FIELDS[el.tagName] && !el.isContentEditable) label = textOf(el) || attr('title');
    return label ? sel + ' "' + cut(label, 60) + '"' : sel;
  };
  if (op === 'at') return describe(at(px, py));
  var el = focused();
  if (op === 'focus') {
    var ac = el && el.getAttribute ? String(el.getAttribute('autocomplete') || '') : '';
    return { target: describe(el), password: !!el && (typeOf(el) === 'password' || /password|one-time-code/i.test(ac)) };
  }
  return null;
}`;
