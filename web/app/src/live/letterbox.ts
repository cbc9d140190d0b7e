// Paints one decoded frame into the canvas, scaled to fit and centred on a dark background, at the
// screen's pixel density. The minimal viewer's web/viewer/letterbox.js does the same for it and the
// replay page; this is the app's typed copy of the rule, not shared code (the viewer has no build).
import { fitFrame, type Placement } from './placement.js';

export type { Placement };

const BACKGROUND = '#1d1f21';

/** Draws `bitmap` into `canvas` (its pixel size set through its width and height properties, never an inline style). */
export function paintLetterboxed(canvas: HTMLCanvasElement, ctx: CanvasRenderingContext2D, bitmap: ImageBitmap): Placement {
  const scale = window.devicePixelRatio || 1;
  const cw = canvas.clientWidth;
  const ch = canvas.clientHeight;
  if (canvas.width !== Math.round(cw * scale) || canvas.height !== Math.round(ch * scale)) {
    canvas.width = Math.round(cw * scale);
    canvas.height = Math.round(ch * scale);
  }
  const placed = fitFrame(bitmap.width, bitmap.height, cw, ch);
  ctx.setTransform(scale, 0, 0, scale, 0, 0);
  ctx.fillStyle = BACKGROUND;
  ctx.fillRect(0, 0, cw, ch);
  ctx.drawImage(bitmap, placed.x, placed.y, placed.w, placed.h);
  return placed;
}
