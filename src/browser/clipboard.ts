import type { BrowserContext } from 'playwright-core';
import type { BrowserEvent, CopiedText, SessionPolicy } from './types.js';

/** Longest text a copy in the remote page hands to the operator (UTF-16 units); a longer one is cut and marked truncated. */
export const MAX_COPY_CHARS = 64 * 1024;
/** Longest text the operator may paste in at once (UTF-16 units). */
export const MAX_PASTE_CHARS = 16 * 1024;
/**
 * A copy is handed to the operator only this long after their last input (a key or a click): a
 * page cannot fill the operator's clipboard on its own, only answer their copy or their click on
 * its own copy button.
 */
export const COPY_AFTER_INPUT_MS = 5_000;
/** Page scripts may call the binding themselves: a cap keeps a hostile page from flooding the audit trail. */
const MAX_BLOCKED_REPORTS = 20;
const BINDING = '__webassetClipboard';

export interface ClipboardGuardOptions {
  policy: SessionPolicy;
  report(event: BrowserEvent): void;
  /** A copy in a page (allowed by the policy, soon enough after the operator's input). */
  onCopy(copied: CopiedText): void;
  /** Milliseconds since the operator's last key or click; Infinity when there was none. */
  sinceLastInput(): number;
}

/**
 * The remote clipboard carries nothing. Headless Chromium has one clipboard per browser process,
 * shared by every BrowserContext (decision 0023), and one browser serves every user's sessions: a
 * copy left there would be pasted by the next user. So, in every frame, before the page's own
 * scripts (an init script; the binding reports to Node):
 * - a trusted `copy`/`cut` is captured: the text (the selection, or what the page's own handler
 *   put into `clipboardData`) goes to Node when the policy allows copying, the native write is
 *   cancelled, and a second copy of ours right after it writes an empty text over whatever a page
 *   handler managed to write (with another frame's DataTransfer methods, which cannot see the copy);
 * - `clipboardData.setData` during such a copy is recorded, not written;
 * - `navigator.clipboard.writeText`/`write` hand their text to Node the same way (or are refused);
 * - `navigator.clipboard.read`/`readText`, `execCommand('paste')` and a native paste (Ctrl+V) never
 *   read the process clipboard; pasted text arrives as typed text (`BrowserSession.paste`).
 * No clipboard permission is granted.
 */
export async function installClipboardGuard(context: BrowserContext, options: ClipboardGuardOptions): Promise<void> {
  const { policy } = options;
  const allowCopy = policy.clipboardCopy === 'allow';
  const allowPaste = policy.clipboardPaste === 'allow';
  let blockedReports = 0;
  const blocked = (reason: string) => {
    if (blockedReports >= MAX_BLOCKED_REPORTS) return;
    blockedReports += 1;
    options.report({ type: 'blocked', what: 'clipboard', reason });
  };
  await context.exposeBinding(BINDING, (_source, kind: unknown, text: unknown) => {
    switch (kind) {
      case 'copy':
        if (!allowCopy) return blocked('clipboard copy is denied for this asset');
        if (typeof text !== 'string' || text.length === 0) return;
        if (!(options.sinceLastInput() <= COPY_AFTER_INPUT_MS)) return blocked('a copy without operator input was not handed to the viewer');
        return options.onCopy({ text: text.slice(0, MAX_COPY_CHARS), truncated: text.length > MAX_COPY_CHARS });
      case 'paste':
        // A native paste (or execCommand('paste')) reads nothing: with paste allowed, the viewer sends the text itself.
        if (!allowPaste) blocked('clipboard paste is denied for this asset');
        return;
      case 'read':
        return blocked(allowPaste ? 'pages may not read the clipboard; the operator pastes from the viewer' : 'clipboard paste is denied for this asset');
      default:
        return;
    }
  });
  await context.addInitScript({ content: clipboardScript(allowCopy) });
}

function clipboardScript(allowCopy: boolean): string {
  // Runs in every frame before the page's own scripts. Plain text, not compiled by tsc. Everything
  // it relies on is taken before the page runs, and what it replaces cannot be replaced again.
  return `(() => {
  const binding = globalThis.${BINDING};
  const send = (kind, text) => { try { binding && binding(kind, text); } catch (e) {} };
  const MAX = ${MAX_COPY_CHARS + 1};
  const allowCopy = ${allowCopy};
  const later = setTimeout;
  const lock = (target, name, value) => { try { Object.defineProperty(target, name, { value, writable: false, configurable: false }); } catch (e) {} };
  const refused = () => Promise.reject(new DOMException('Clipboard access is not allowed', 'NotAllowedError'));
  const prevent = Event.prototype.preventDefault;
  const exec = Document.prototype.execCommand;
  let current = null;

  const clip = globalThis.navigator && navigator.clipboard;
  if (clip) {
    const proto = Object.getPrototypeOf(clip);
    lock(proto, 'read', function () { send('read'); return refused(); });
    lock(proto, 'readText', function () { send('read'); return refused(); });
    lock(proto, 'writeText', function (text) {
      if (!allowCopy) { send('copy'); return refused(); }
      send('copy', String(text).slice(0, MAX));
      return Promise.resolve();
    });
    lock(proto, 'write', function (items) {
      if (!allowCopy) { send('copy'); return refused(); }
      try {
        const item = items && items[0];
        if (item && Array.prototype.indexOf.call(item.types, 'text/plain') !== -1) {
          return item.getType('text/plain').then((blob) => blob.text()).then((text) => { send('copy', String(text).slice(0, MAX)); });
        }
      } catch (e) {}
      return Promise.resolve();
    });
  }

  const DT = globalThis.DataTransfer && DataTransfer.prototype;
  const setData = DT && DT.setData;
  if (DT) {
    lock(DT, 'setData', function (type, data) {
      if (current && this === current.data) {
        const t = String(type).toLowerCase();
        if (t === 'text/plain' || t === 'text') current.text = String(data);
        return;
      }
      return setData.call(this, type, data);
    });
    const items = globalThis.DataTransferItemList && DataTransferItemList.prototype;
    if (items) {
      const add = items.add;
      lock(items, 'add', function (data, type) {
        if (current && current.data && this === current.data.items) {
          if (typeof data === 'string' && /^text(\\/plain)?$/i.test(String(type))) current.text = data;
          return null;
        }
        return add.apply(this, arguments);
      });
    }
  }
  lock(Event.prototype, 'preventDefault', function () {
    if (current && this === current.event) current.pagePrevented = true;
    return prevent.call(this);
  });

  const focused = () => {
    let el = document.activeElement;
    for (let i = 0; i < 20 && el && el.shadowRoot && el.shadowRoot.activeElement; i++) el = el.shadowRoot.activeElement;
    return el;
  };
  const selected = (el) => {
    if (el && (el.tagName === 'INPUT' || el.tagName === 'TEXTAREA')) {
      if (el.tagName === 'INPUT' && String(el.type).toLowerCase() === 'password') return '';
      try { return typeof el.selectionStart === 'number' ? String(el.value).slice(el.selectionStart, el.selectionEnd) : ''; } catch (e) { return ''; }
    }
    const selection = document.getSelection ? document.getSelection() : null;
    return selection ? String(selection) : '';
  };
  let clearing = false;
  const onCopy = (event) => {
    if (!event.isTrusted) return;
    if (clearing) {
      // Our own second copy: an empty text written over whatever the first left, seen by no page handler.
      prevent.call(event);
      event.stopImmediatePropagation();
      try { setData.call(event.clipboardData, 'text/plain', ''); } catch (e) {}
      return;
    }
    const el = focused();
    const entry = { event, data: event.clipboardData, text: null, pagePrevented: false, selection: selected(el) };
    current = entry;
    // Cancelled, with nothing in clipboardData: Chromium writes an empty clipboard.
    prevent.call(event);
    later(() => {
      if (current === entry) current = null;
      // A page handler may have written with another frame's DataTransfer methods, which cannot see this copy: a second,
      // empty copy (the copy's user activation still holds) leaves the clipboard empty whatever it wrote.
      clearing = true;
      try { exec.call(document, 'copy'); } catch (e) {} finally { clearing = false; }
      if (!allowCopy) return send('copy');
      // As the browser would have copied: the page's data when its handler cancelled the event, else the selection.
      const text = entry.pagePrevented ? entry.text : entry.selection;
      if (text) send('copy', text.slice(0, MAX));
      const editable = el && (el.isContentEditable || ((el.tagName === 'INPUT' || el.tagName === 'TEXTAREA') && !el.readOnly && !el.disabled));
      if (event.type === 'cut' && !entry.pagePrevented && entry.selection && editable) exec.call(document, 'delete');
    }, 0);
  };
  addEventListener('copy', onCopy, true);
  addEventListener('cut', onCopy, true);
  // A native paste would read the process clipboard: no page handler sees it and nothing is inserted.
  addEventListener('paste', (event) => {
    if (!event.isTrusted) return;
    prevent.call(event);
    event.stopImmediatePropagation();
    send('paste');
  }, true);
  lock(Document.prototype, 'execCommand', function (command, ...rest) {
    const c = String(command).toLowerCase();
    if (c === 'paste') { send('paste'); return false; }
    if (!allowCopy && (c === 'copy' || c === 'cut')) { send('copy'); return false; }
    return exec.call(this, command, ...rest);
  });
})();`;
}
