import type { ScreencastOptions } from './ports.js';
import { VIEWPORT_LIMITS } from './messages.js';

export interface Viewport {
  width: number;
  height: number;
}

/** The viewer's window, held to sizes a page can be laid out in and a frame can be encoded at. */
export function clampViewport(size: Viewport): Viewport {
  const { minWidth, maxWidth, minHeight, maxHeight } = VIEWPORT_LIMITS;
  return { width: Math.min(maxWidth, Math.max(minWidth, size.width)), height: Math.min(maxHeight, Math.max(minHeight, size.height)) };
}

/**
 * Frames as large as the viewer shows them, no larger. Large windows get a
 * lower JPEG quality, so a frame stays roughly the same number of bytes
 * whatever the window size.
 */
export function screencastOptions(viewport: Viewport): ScreencastOptions {
  const pixels = viewport.width * viewport.height;
  const quality = pixels <= 1280 * 800 ? 70 : pixels <= 1920 * 1200 ? 60 : 50;
  return { maxWidth: viewport.width, maxHeight: viewport.height, quality };
}
