// Where a frame sits in the canvas: the letterbox rule, free of the DOM (test/web/live-view.test.ts runs it in Node).

/** Where a frame sits on the canvas, in CSS pixels. */
export interface Placement {
  x: number;
  y: number;
  w: number;
  h: number;
}

/** The placement of a `width`×`height` frame in a `cw`×`ch` box: as large as fits, centred. */
export function fitFrame(width: number, height: number, cw: number, ch: number): Placement {
  if (width <= 0 || height <= 0) return { x: 0, y: 0, w: 0, h: 0 };
  const fit = Math.min(cw / width, ch / height);
  const w = width * fit;
  const h = height * fit;
  return { x: (cw - w) / 2, y: (ch - h) / 2, w, h };
}
