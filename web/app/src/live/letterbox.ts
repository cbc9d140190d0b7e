// Paints one decoded frame into the canvas, scaled to fit and centred on a dark background, at the
// screen's pixel density. The minimal viewer's web/viewer/letterbox.js does the same for it and the
// replay page; this is the app's typed copy of the rule, not shared code (the viewer has no build).

/** Where a frame sits on the canvas, in CSS pixels. */
export interface Placement {
  x: number;
  y: number;
  w: number;
  h: number;
}

const BACKGROUND = '#1d1f21';

/** The placement of a `width`×`height` frame in a `cw`×`ch` box: as large as fits, centred. */
export function fitFrame(width: number, height: number, cw: number, ch: number): Placement {
  if (width <= 0 || height <= 0) return { x: 0, y: 0, w: 0, h: 0 };
  const fit = Math.min(cw / width, ch / height);
  const w = width * fit;
  const h = height * fit;
  return { x: (cw - w) / 2, y: (ch - h) / 2, w, h };
}

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
