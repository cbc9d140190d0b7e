/* global window */
// Paints one decoded frame into a canvas, scaled to fit and centred on the page's dark background, at the
// screen's pixel density. Shared by the live viewer and the replay page (both import /viewer/letterbox.js),
// so a recording replays exactly as the session was shown.

/** Draws `bitmap` into `canvas`; returns where it sits in CSS pixels ({ x, y, w, h }). */
export function paintLetterboxed(canvas, ctx, bitmap) {
  const scale = window.devicePixelRatio || 1;
  const cw = canvas.clientWidth;
  const ch = canvas.clientHeight;
  if (canvas.width !== Math.round(cw * scale) || canvas.height !== Math.round(ch * scale)) {
    canvas.width = Math.round(cw * scale);
    canvas.height = Math.round(ch * scale);
  }
  const fit = Math.min(cw / bitmap.width, ch / bitmap.height);
  const w = bitmap.width * fit;
  const h = bitmap.height * fit;
  const placed = { x: (cw - w) / 2, y: (ch - h) / 2, w, h };
  ctx.setTransform(scale, 0, 0, scale, 0, 0);
  ctx.fillStyle = '#1d1f21';
  ctx.fillRect(0, 0, cw, ch);
  ctx.drawImage(bitmap, placed.x, placed.y, placed.w, placed.h);
  return placed;
}
