import { describe, expect, it } from 'vitest';
import { routeKey, textPieces, type KeyFacts } from '../../web/app/src/live/keyboard.js';
import { fitFrame } from '../../web/app/src/live/placement.js';
import { buttonOf, pagePoint, wheelPixels } from '../../web/app/src/live/pointer.js';
import { parseServerMessage } from '../../web/app/src/live/protocol.js';
import { isTerminalClose, reconnectDelayMs } from '../../web/app/src/live/reconnect.js';

// The web UI's live view: the rules of its typed modules (web/app/src/live/), free of the DOM.

const key = (facts: Partial<KeyFacts> & { key: string }): KeyFacts => ({ ctrlKey: false, metaKey: false, altKey: false, isComposing: false, altGraph: false, ...facts });

describe('live view keyboard: text, keys, compositions, pastes', () => {
  it('leaves printable characters, accented letters and AltGr characters to the browser as text', () => {
    for (const k of ['a', 'A', ' ', '1', 'ã', 'ç', 'ñ', 'é', 'ß', '€']) expect(routeKey(key({ key: k })), k).toBe('text');
    expect(routeKey(key({ key: '@', ctrlKey: true, altKey: true, altGraph: true }))).toBe('text');
  });
  it('sends Enter, Tab, arrows and shortcuts as keys', () => {
    for (const k of ['Enter', 'Tab', 'ArrowLeft', 'Backspace', 'Escape', 'F5']) expect(routeKey(key({ key: k })), k).toBe('key');
    expect(routeKey(key({ key: 'a', ctrlKey: true }))).toBe('key');
    expect(routeKey(key({ key: 'c', metaKey: true }))).toBe('key');
    expect(routeKey(key({ key: 'x', altKey: true }))).toBe('key');
  });
  it('waits for dead keys and input methods, and leaves Ctrl/Cmd+V to the paste event', () => {
    expect(routeKey(key({ key: 'Dead' }))).toBe('compose');
    expect(routeKey(key({ key: 'Process' }))).toBe('compose');
    expect(routeKey(key({ key: 'a', isComposing: true }))).toBe('compose');
    expect(routeKey(key({ key: 'v', ctrlKey: true }))).toBe('paste');
    expect(routeKey(key({ key: 'V', metaKey: true }))).toBe('paste');
    expect(routeKey(key({ key: 'v', ctrlKey: true, altKey: true }))).toBe('key');
  });
  it('cuts long text into pieces the server takes, never inside a character', () => {
    expect(textPieces('Pagamento São João', 1000)).toEqual(['Pagamento São João']);
    expect(textPieces('', 10)).toEqual([]);
    const pieces = textPieces('😀'.repeat(5), 3);
    expect(pieces).toEqual(['😀', '😀', '😀', '😀', '😀']);
    expect(textPieces('abcdefg', 3)).toEqual(['abc', 'def', 'g']);
  });
});

describe('live view pointer and frames', () => {
  it('fits a frame in the canvas, centred, as large as fits', () => {
    expect(fitFrame(1280, 720, 1280, 720)).toEqual({ x: 0, y: 0, w: 1280, h: 720 });
    expect(fitFrame(1000, 500, 500, 500)).toEqual({ x: 0, y: 125, w: 500, h: 250 });
    expect(fitFrame(500, 1000, 1000, 500)).toEqual({ x: 375, y: 0, w: 250, h: 500 });
    expect(fitFrame(0, 0, 100, 100)).toEqual({ x: 0, y: 0, w: 0, h: 0 });
  });
  it('maps a point on the canvas to page CSS pixels of the viewport the server announced, held inside the page', () => {
    // A 1280×720 page shown letterboxed at half size, 40 px down in the canvas.
    const shown = { page: { width: 1280, height: 720 }, x: 0, y: 40, w: 640, h: 360 };
    const rect = { left: 10, top: 50 };
    expect(pagePoint(10 + 320, 50 + 40 + 180, rect, shown)).toEqual({ x: 640, y: 360 });
    expect(pagePoint(10, 50, rect, shown)).toEqual({ x: 0, y: 0 }); // in the letterbox band: held to the page
    expect(pagePoint(5000, 5000, rect, shown)).toEqual({ x: 1280, y: 720 });
    // No frame yet: nothing to point at.
    expect(pagePoint(100, 100, rect, { page: null, x: 0, y: 0, w: 0, h: 0 })).toEqual({ x: 0, y: 0 });
  });
  it('names buttons and converts wheel units to pixels within the server limits', () => {
    expect([0, 1, 2, 7].map(buttonOf)).toEqual(['left', 'middle', 'right', 'left']);
    expect(wheelPixels(3, 1)).toBe(48);
    expect(wheelPixels(-1, 2)).toBe(-400);
    expect(wheelPixels(120, 0)).toBe(120);
    expect(wheelPixels(1e9, 0)).toBe(10_000);
  });
});

describe('live view socket: messages and reconnection', () => {
  it('reads the server messages it knows and ignores the rest', () => {
    expect(parseServerMessage('{"type":"watchers","count":1,"names":["Ada"]}')).toEqual({ type: 'watchers', count: 1, names: ['Ada'] });
    expect(parseServerMessage('{"type":"ended","reason":"admin"}')).toEqual({ type: 'ended', reason: 'admin' });
    expect(parseServerMessage('{"type":"download_dropped","fileName":"a.csv","reason":"failed"}')).toEqual({ type: 'download_dropped', fileName: 'a.csv', reason: 'failed' });
    expect(parseServerMessage('{"type":"something_new"}')).toBeNull();
    expect(parseServerMessage('not json')).toBeNull();
    expect(parseServerMessage('null')).toBeNull();
  });
  it('opens the socket again after any close but the end, not found, access revoked, signed out, too many viewers and a protocol error', () => {
    for (const code of [4410, 4404, 4403, 4401, 4429, 4400]) expect(isTerminalClose(code), String(code)).toBe(true);
    for (const code of [1000, 1001, 1006, 1011, 4500, 4503]) expect(isTerminalClose(code), String(code)).toBe(false);
  });
  it('waits longer after each failed attempt, up to 10 s, half of each wait random', () => {
    const low = () => 0;
    const high = () => 1;
    expect([0, 1, 2, 3, 4, 5, 6].map((n) => reconnectDelayMs(n, high))).toEqual([500, 1000, 2000, 4000, 8000, 10_000, 10_000]);
    expect([0, 1, 5].map((n) => reconnectDelayMs(n, low))).toEqual([250, 500, 5000]);
  });
});
