import type { CDPSession } from 'playwright-core';
import { AppError } from '../core/index.js';
import type { InputEvent } from './types.js';

/** Windows virtual key codes Chromium needs for keys that do not type a character (Enter, arrows...). */
const KEY_CODES: Record<string, number> = {
  Backspace: 8, Tab: 9, Enter: 13, Shift: 16, Control: 17, Alt: 18, Pause: 19, CapsLock: 20, Escape: 27, ' ': 32,
  PageUp: 33, PageDown: 34, End: 35, Home: 36, ArrowLeft: 37, ArrowUp: 38, ArrowRight: 39, ArrowDown: 40,
  Insert: 45, Delete: 46, Meta: 91, ContextMenu: 93,
  F1: 112, F2: 113, F3: 114, F4: 115, F5: 116, F6: 117, F7: 118, F8: 119, F9: 120, F10: 121, F11: 122, F12: 123,
};
/** Text a named key types. */
const KEY_TEXT: Record<string, string> = { Enter: '\r', Tab: '', ' ': ' ' };
const MODIFIER_BITS: Record<string, number> = { Alt: 1, Control: 2, Meta: 4, Shift: 8 };
const BUTTONS = { left: 1, right: 2, middle: 4 } as const;
const MAX_TEXT = 10_000;
const MAX_COORDINATE = 100_000;

/**
 * Turns viewer input into CDP Input events for one tab. CDP rather than page.keyboard: `insertText`
 * types composed text (é, ñ, ç, ã, dead keys resolved by the viewer) without a keyboard layout,
 * and events go straight to the renderer. Modifier state is kept here, so Ctrl+A selects rather than types.
 */
export function createInputDispatcher() {
  let modifiers = 0;
  let buttons = 0;

  return async function dispatch(cdp: CDPSession, event: InputEvent): Promise<void> {
    switch (event.type) {
      case 'mouse': {
        const x = coordinate(event.x);
        const y = coordinate(event.y);
        const button = event.button ?? 'left';
        if (!(button in BUTTONS)) throw invalid('unknown mouse button');
        if (event.action === 'move') {
          await cdp.send('Input.dispatchMouseEvent', { type: 'mouseMoved', x, y, modifiers, buttons, button: buttons === 0 ? 'none' : button });
        } else if (event.action === 'down' || event.action === 'up') {
          buttons = event.action === 'down' ? buttons | BUTTONS[button] : buttons & ~BUTTONS[button];
          await cdp.send('Input.dispatchMouseEvent', { type: event.action === 'down' ? 'mousePressed' : 'mouseReleased', x, y, modifiers, buttons, button, clickCount: 1 });
        } else if (event.action === 'dblclick') {
          // The viewer's browser reports down/up/down/up and then dblclick: the second click is resent with clickCount 2.
          await cdp.send('Input.dispatchMouseEvent', { type: 'mousePressed', x, y, modifiers, button, buttons: BUTTONS[button], clickCount: 2 });
          await cdp.send('Input.dispatchMouseEvent', { type: 'mouseReleased', x, y, modifiers, button, buttons: 0, clickCount: 2 });
        } else throw invalid('unknown mouse action');
        return;
      }
      case 'wheel':
        await cdp.send('Input.dispatchMouseEvent', {
          type: 'mouseWheel', x: coordinate(event.x), y: coordinate(event.y), deltaX: delta(event.deltaX), deltaY: delta(event.deltaY), modifiers,
        });
        return;
      case 'key': {
        if (typeof event.key !== 'string' || event.key.length === 0 || event.key.length > 32) throw invalid('key must be a key name');
        const bit = MODIFIER_BITS[event.key] ?? 0;
        if (event.action === 'down') modifiers |= bit;
        else if (event.action === 'up') modifiers &= ~bit;
        else throw invalid('unknown key action');
        const printable = [...event.key].length === 1;
        const ctrl = (modifiers & MODIFIER_BITS.Control!) !== 0;
        const alt = (modifiers & MODIFIER_BITS.Alt!) !== 0;
        // Ctrl+Alt together is AltGr on many layouts (@, €, { on German, French, Spanish keyboards): it types.
        const altGr = ctrl && alt && printable;
        const commandHeld = (modifiers & MODIFIER_BITS.Meta!) !== 0 || ctrl !== alt;
        const text = event.action === 'down' && !commandHeld ? (printable ? event.key : KEY_TEXT[event.key]) : undefined;
        const code = typeof event.code === 'string' && event.code.length <= 32 ? event.code : '';
        await cdp.send('Input.dispatchKeyEvent', {
          type: event.action === 'up' ? 'keyUp' : text ? 'keyDown' : 'rawKeyDown',
          key: event.key,
          code,
          text,
          unmodifiedText: text,
          windowsVirtualKeyCode: KEY_CODES[event.key] ?? (printable ? event.key.toUpperCase().charCodeAt(0) : 0),
          // Chromium would take Ctrl+Alt+key as a shortcut: the character of AltGr goes without them.
          modifiers: altGr ? modifiers & ~(MODIFIER_BITS.Control! | MODIFIER_BITS.Alt!) : modifiers,
        });
        return;
      }
      case 'text':
        if (typeof event.text !== 'string' || event.text.length > MAX_TEXT) throw invalid(`text must be at most ${MAX_TEXT} characters`);
        if (event.text.length > 0) await cdp.send('Input.insertText', { text: event.text });
        return;
      default:
        throw invalid('unknown input type');
    }
  };
}

export type InputDispatcher = ReturnType<typeof createInputDispatcher>;

function coordinate(value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > MAX_COORDINATE) throw invalid('coordinates must be numbers within the page');
  return value;
}

function delta(value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || Math.abs(value) > MAX_COORDINATE) throw invalid('wheel deltas must be numbers');
  return value;
}

function invalid(problem: string): AppError {
  return new AppError('invalid_request', { publicMessage: `Invalid input event: ${problem}.` });
}
