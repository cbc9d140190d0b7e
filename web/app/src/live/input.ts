// The person's mouse, wheel and keyboard, sent to the remote page through the live link.
import { routeKey, textPieces } from './keyboard.js';
import type { LiveLink } from './link.js';
import { buttonOf, pagePoint, wheelPixels } from './pointer.js';
import { MAX_PASTE_CHARS, MAX_TEXT_CHARS } from './protocol.js';

export interface InputOptions {
  canvas: HTMLCanvasElement;
  /** The hidden field that has the keyboard focus while the person works in the portal. */
  keys: HTMLTextAreaElement;
  link: LiveLink;
  /** Input is sent only while this view controls the session. */
  controls(): boolean;
  /** Something was sent that counts as activity for the idle timeout. */
  onActivity(): void;
  /** A paste longer than the server takes was cut to its start. */
  onPasteCut(): void;
  /** F6 in the portal: the keyboard leaves it for the page's own controls (no keyboard trap). */
  onLeave(): void;
}

/** Wires the listeners; returns the function that removes them. */
export function attachInput(options: InputOptions): () => void {
  const { canvas, keys, link } = options;
  const controller = new AbortController();
  const on = <K extends keyof HTMLElementEventMap>(target: HTMLElement, type: K, listener: (event: HTMLElementEventMap[K]) => void, extra: AddEventListenerOptions = {}) =>
    target.addEventListener(type, listener, { ...extra, signal: controller.signal });
  const point = (event: MouseEvent) => pagePoint(event.clientX, event.clientY, canvas.getBoundingClientRect(), link.shown());
  const send: LiveLink['send'] = (message) => {
    link.send(message);
    if (message.type !== 'mouse' || message.action !== 'move') options.onActivity();
  };
  const focusKeys = () => keys.focus({ preventScroll: true });

  // Pointer: one move per animation frame is plenty, and keeps a fast mouse from flooding the socket.
  let pendingMove: { x: number; y: number } | null = null;
  on(canvas, 'mousemove', (event) => {
    if (!options.controls()) return;
    if (pendingMove === null) {
      window.requestAnimationFrame(() => {
        if (pendingMove) link.send({ type: 'mouse', action: 'move', ...pendingMove });
        pendingMove = null;
      });
    }
    pendingMove = point(event);
  });
  const buttons: Array<['mousedown' | 'mouseup' | 'dblclick', 'down' | 'up' | 'dblclick']> = [
    ['mousedown', 'down'],
    ['mouseup', 'up'],
    ['dblclick', 'dblclick'],
  ];
  for (const [type, action] of buttons) {
    on(canvas, type, (event) => {
      if (!options.controls()) return;
      event.preventDefault();
      send({ type: 'mouse', action, ...point(event), button: buttonOf(event.button) });
      if (action === 'down') focusKeys();
    });
  }
  on(canvas, 'contextmenu', (event) => event.preventDefault());
  on(
    canvas,
    'wheel',
    (event) => {
      if (!options.controls()) return;
      event.preventDefault();
      send({ type: 'wheel', ...point(event), deltaX: wheelPixels(event.deltaX, event.deltaMode), deltaY: wheelPixels(event.deltaY, event.deltaMode) });
    },
    { passive: false },
  );
  on(canvas, 'click', focusKeys);

  // Keyboard. Keys sent down and not yet up are released when the focus leaves (Alt+Tab away would leave Alt held remotely).
  const held = new Map<string, string>();
  on(keys, 'keydown', (event) => {
    if (event.key === 'F6' && !event.ctrlKey && !event.altKey && !event.metaKey) {
      event.preventDefault();
      options.onLeave();
      return;
    }
    if (!options.controls()) return;
    const route = routeKey({ key: event.key, ctrlKey: event.ctrlKey, metaKey: event.metaKey, altKey: event.altKey, isComposing: event.isComposing, altGraph: event.getModifierState('AltGraph') });
    if (route !== 'key') return; // text, compositions and pastes arrive through the events below
    event.preventDefault();
    held.set(event.key, event.code);
    send({ type: 'key', action: 'down', key: event.key, code: event.code });
  });
  on(keys, 'keyup', (event) => {
    if (!options.controls() || !held.has(event.key)) return;
    held.delete(event.key);
    send({ type: 'key', action: 'up', key: event.key, code: event.code });
  });
  on(keys, 'blur', () => {
    for (const [key, code] of held) link.send({ type: 'key', action: 'up', key, code });
    held.clear();
  });
  const sendText = (text: string) => {
    for (const piece of textPieces(text, MAX_TEXT_CHARS)) send({ type: 'text', text: piece });
  };
  on(keys, 'input', (event) => {
    const input = event as InputEvent;
    if (input.isComposing) return;
    // Composed text is sent at compositionend (some browsers repeat it here as insertFromComposition); pastes by the paste listener.
    if (options.controls() && input.inputType === 'insertText' && input.data) sendText(input.data);
    keys.value = '';
  });
  on(keys, 'compositionend', (event) => {
    if (options.controls() && event.data) sendText(event.data);
    keys.value = '';
  });
  // Paste in: this computer's clipboard text goes as a `paste` message; the remote browser's clipboard is never used.
  on(keys, 'paste', (event) => {
    event.preventDefault();
    if (!options.controls()) return;
    const text = event.clipboardData?.getData('text/plain') ?? '';
    if (text) sendPaste(link, text, options);
  });
  return () => controller.abort();
}

/** Sends text of this computer's clipboard as one `paste` message, its start when it is longer than the server takes. */
export function sendPaste(link: LiveLink, text: string, options: Pick<InputOptions, 'onActivity' | 'onPasteCut'>): void {
  link.send({ type: 'paste', text: text.slice(0, MAX_PASTE_CHARS) });
  options.onActivity();
  if (text.length > MAX_PASTE_CHARS) options.onPasteCut();
}
