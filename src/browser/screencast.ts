import type { CDPSession } from 'playwright-core';
import { isPictureOfPage, jpegSize } from './jpeg-size.js';
import type { ScreencastFrame, ScreencastOptions } from './types.js';

export interface FrameSource {
  /** Stops the CDP screencast; frames still held are dropped. */
  stop(): Promise<void>;
}

/**
 * One CDP screencast with acknowledgement-based backpressure. Chromium keeps at most a couple
 * of frames unacknowledged and sends no more until one is acked; here at most one frame is
 * handed to the consumer at a time, the newest other one waits (older ones are acked and dropped),
 * and Chromium's ack is sent only when the consumer acks. A slow viewer therefore gets fewer,
 * fresher frames, and nothing is buffered without bound.
 * While `withheld()` is true (login running), frames are acked and dropped unseen.
 */
export async function startFrameSource(
  cdp: CDPSession,
  options: ScreencastOptions,
  deliver: (frame: ScreencastFrame) => void,
  withheld: () => boolean,
): Promise<FrameSource> {
  type Payload = { data: string; sessionId: number; metadata: { deviceWidth?: number; deviceHeight?: number; timestamp?: number } };
  let stopped = false;
  let inFlight = false;
  let pending: Payload | null = null;
  const cdpAck = (sessionId: number) => cdp.send('Page.screencastFrameAck', { sessionId }).catch(() => undefined);

  const forward = (payload: Payload) => {
    inFlight = true;
    let acked = false;
    deliver({
      data: Buffer.from(payload.data, 'base64'),
      width: payload.metadata.deviceWidth ?? 0,
      height: payload.metadata.deviceHeight ?? 0,
      timestampMs: Math.round((payload.metadata.timestamp ?? 0) * 1000),
      ack: () => {
        if (acked) return;
        acked = true;
        inFlight = false;
        if (stopped) return;
        void cdpAck(payload.sessionId);
        const next = pending;
        pending = null;
        if (next) forward(next);
      },
    });
  };

  let staleInARow = 0;
  cdp.on('Page.screencastFrame', (payload) => {
    if (stopped) return;
    if (withheld()) {
      void cdpAck(payload.sessionId);
      return;
    }
    if (!showsReportedSize(payload) && staleInARow < MAX_STALE_FRAMES_IN_A_ROW) {
      staleInARow += 1;
      void cdpAck(payload.sessionId);
      return;
    }
    staleInARow = 0;
    if (!inFlight) return forward(payload);
    if (pending) void cdpAck(pending.sessionId);
    pending = payload;
  });
  await cdp.send('Page.startScreencast', {
    format: 'jpeg',
    quality: clamp(options.quality, 1, 100),
    maxWidth: clamp(options.maxWidth, 16, 7680),
    maxHeight: clamp(options.maxHeight, 16, 4320),
    everyNthFrame: 1,
  });
  return {
    async stop() {
      if (stopped) return;
      stopped = true;
      pending = null;
      await cdp.send('Page.stopScreencast').catch(() => undefined);
      await cdp.detach().catch(() => undefined);
    },
  };
}

/**
 * Right after the page is resized, Chromium can send a frame or two whose metadata already gives the new page
 * size while the picture is still the old page (1000×563 pictures of a 1280×720 page, reported as 1000×660).
 * Shown, such a frame is letterboxed in a stage of the new size and the viewer maps a pointer on it through the
 * new size: a click on the field lands on the page's top edge. They are dropped (acked unseen); the page's
 * repaint at its new size follows at once. Should a Chromium always disagree with itself, frames are shown
 * anyway after this many in a row, rather than none.
 */
const MAX_STALE_FRAMES_IN_A_ROW = 10;

function showsReportedSize(payload: { data: string; metadata: { deviceWidth?: number; deviceHeight?: number } }): boolean {
  const { deviceWidth, deviceHeight } = payload.metadata;
  const picture = jpegSize(payload.data);
  return !picture || !deviceWidth || !deviceHeight || isPictureOfPage(picture, { width: deviceWidth, height: deviceHeight });
}

function clamp(value: number, min: number, max: number): number {
  return Number.isFinite(value) ? Math.min(max, Math.max(min, Math.round(value))) : max;
}

interface Viewer {
  options: ScreencastOptions;
  onFrame: (frame: ScreencastFrame) => void;
  source: FrameSource | undefined;
  /** Bumped by every attach and detach: an attach overtaken by a later one undoes itself. */
  generation: number;
}

/** Re-attaching right after a form post or a tab switch can meet "Not attached to an active page" for a moment. */
export const REATTACH_ATTEMPTS = 4;
const REATTACH_DELAY_MS = 100;

/**
 * The screencasts of one session: each viewer has its own CDP session on the active tab, and all
 * of them move to another tab on a switch. `restart()` also makes Chromium send a fresh frame
 * (it sends frames only on change), which the viewer needs when the login ends. A re-attach that
 * fails is tried again a few times; if it still fails, `onAttachFailed` is told (the viewer then
 * gets no frames until the next restart), never silently.
 */
export function createScreencasts(deps: {
  openCdp(): Promise<CDPSession | undefined>;
  withheld(): boolean;
  onAttachFailed?(error: unknown, attempts: number): void;
  /** Test seam; default REATTACH_DELAY_MS times the attempt number. */
  retryDelayMs?: number;
}) {
  const viewers = new Set<Viewer>();
  const retryDelayMs = deps.retryDelayMs ?? REATTACH_DELAY_MS;

  const attach = async (viewer: Viewer) => {
    viewer.generation += 1;
    const generation = viewer.generation;
    const cdp = await deps.openCdp();
    if (!cdp) return;
    if (!viewers.has(viewer) || viewer.generation !== generation) {
      await cdp.detach().catch(() => undefined);
      return;
    }
    let source: FrameSource;
    try {
      source = await startFrameSource(cdp, viewer.options, viewer.onFrame, () => deps.withheld());
    } catch (error) {
      await cdp.detach().catch(() => undefined);
      throw error;
    }
    // Stopped, or attached again by a later restart, while starting: undo.
    if (!viewers.has(viewer) || viewer.generation !== generation) {
      await source.stop();
      return;
    }
    viewer.source = source;
  };
  const reattach = async (viewer: Viewer) => {
    for (let attempt = 1; ; attempt++) {
      const generation = viewer.generation;
      try {
        await attach(viewer);
        return;
      } catch (error) {
        // Removed, or a later restart took over: nothing to report.
        if (!viewers.has(viewer) || viewer.generation !== generation + 1) return;
        if (attempt >= REATTACH_ATTEMPTS) {
          deps.onAttachFailed?.(error, attempt);
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, retryDelayMs * attempt));
        if (!viewers.has(viewer) || viewer.generation !== generation + 1) return;
      }
    }
  };
  const detach = async (viewer: Viewer) => {
    viewer.generation += 1;
    const source = viewer.source;
    viewer.source = undefined;
    await source?.stop();
  };

  return {
    async add(options: ScreencastOptions, onFrame: (frame: ScreencastFrame) => void): Promise<() => Promise<void>> {
      const viewer: Viewer = { options, onFrame, source: undefined, generation: 0 };
      viewers.add(viewer);
      try {
        await attach(viewer);
      } catch (error) {
        viewers.delete(viewer);
        throw error;
      }
      return async () => {
        viewers.delete(viewer);
        await detach(viewer);
      };
    },
    async restart(): Promise<void> {
      await Promise.all([...viewers].map(async (viewer) => {
        await detach(viewer);
        await reattach(viewer);
      }));
    },
    async stopAll(): Promise<void> {
      const all = [...viewers];
      viewers.clear();
      await Promise.all(all.map(detach));
    },
  };
}

export type Screencasts = ReturnType<typeof createScreencasts>;
