// Pointer positions on the canvas → page CSS pixels of the remote page.
import type { Placement } from './placement.js';
import type { MouseButton, Viewport } from './protocol.js';

/** The frame on the canvas: the page size it shows (from the server's `viewport`) and where it sits. */
export interface Shown extends Placement {
  page: Viewport | null;
}

/**
 * The page point under (`clientX`, `clientY`): the offset in the frame's placement, scaled to the page
 * size the server announced for that frame (never the JPEG's own size, which may be scaled down),
 * held inside the page.
 */
export function pagePoint(clientX: number, clientY: number, canvasRect: { left: number; top: number }, shown: Shown): { x: number; y: number } {
  const size = shown.page ?? { width: 0, height: 0 };
  const x = ((clientX - canvasRect.left - shown.x) / (shown.w || 1)) * size.width;
  const y = ((clientY - canvasRect.top - shown.y) / (shown.h || 1)) * size.height;
  return { x: Math.round(Math.max(0, Math.min(size.width, x))), y: Math.round(Math.max(0, Math.min(size.height, y))) };
}

const BUTTONS: readonly MouseButton[] = ['left', 'middle', 'right'];

/** `MouseEvent.button` in the wire's words. */
export function buttonOf(button: number): MouseButton {
  return BUTTONS[button] ?? 'left';
}

/** A wheel delta in pixels, whatever unit the event used (lines, pages). */
export function wheelPixels(delta: number, deltaMode: number): number {
  const unit = deltaMode === 1 ? 16 : deltaMode === 2 ? 400 : 1;
  return Math.max(-10_000, Math.min(10_000, delta * unit));
}
