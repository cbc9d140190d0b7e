import type { CDPSession } from 'playwright-core';
import { isPictureOfPage, jpegSize } from './jpeg-size.js';
import type { ScreencastFrame, ScreencastOptions } from './types.js';

export interface FrameSource {
  /**
   * Hands this stream's frames to another consumer as well, one at a time at the pace of its own acks
   * (newest waiting, older ones dropped), starting with the latest frame shown. Its acks never reach
   * Chromium: the stream's pace stays its own consumer's. Returns a function that stops the tap.
   */
  tap(onFrame: (frame: ScreencastFrame) => void): () => void;
  /** Stops the CDP screencast and its taps; frames still held are dropped. */
  stop(): Promise<void>;
}

type Payload = { data: string; sessionId: number; metadata: { deviceWidth?: number; deviceHeight?: number; timestamp?: number } };

/**
 * One consumer's share of a stream: at most one frame handed over at a time; the newest other one
 * waits and an older waiting one is released unseen. `release` is told of every frame once it is
 * done with (acked, or replaced while waiting).
 */
function createGate(deliver: (payload: Payload, done: () => void) => void, release: (payload: Payload) => void) {
  let closed = false;
  let inFlight = false;
  let pending: Payload | null = null;
  const hand = (payload: Payload) => {
    inFlight = true;
    let done = false;
    deliver(payload, () => {
      if (done) return;
      done = true;
      inFlight = false;
      if (closed) return;
      release(payload);
      const next = pending;
      pending = null;
      if (next) hand(next);
    });
  };
  return {
    offer(payload: Payload) {
      if (closed) return;
      if (!inFlight) return hand(payload);
      if (pending) release(pending);
      pending = payload;
    },
    close() {
      closed = true;
      pending = null;
    },
  };
}

/** `pictures` keeps each frame's picture decoded once, however many consumers see it. */
function toFrame(pictures: WeakMap<Payload, Buffer>, payload: Payload, ack: () => void): ScreencastFrame {
  let data = pictures.get(payload);
  if (!data) {
    data = Buffer.from(payload.data, 'base64');
    pictures.set(payload, data);
  }
  return {
    data,
    width: payload.metadata.deviceWidth ?? 0,
    height: payload.metadata.deviceHeight ?? 0,
    timestampMs: Math.round((payload.metadata.timestamp ?? 0) * 1000),
    ack,
  };
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
  let stopped = false;
  let latest: Payload | null = null;
  const pictures = new WeakMap<Payload, Buffer>();
  const cdpAck = (sessionId: number) => cdp.send('Page.screencastFrameAck', { sessionId }).catch(() => undefined);
  const own = createGate(
    (payload, done) => deliver(toFrame(pictures, payload, done)),
    (payload) => void cdpAck(payload.sessionId),
  );
  const taps = new Set<ReturnType<typeof createGate>>();

  let staleInARow = 0;
  cdp.on('Page.screencastFrame', (payload: Payload) => {
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
    latest = payload;
    own.offer(payload);
    for (const tap of taps) tap.offer(payload);
  });
  await cdp.send('Page.startScreencast', {
    format: 'jpeg',
    quality: clamp(options.quality, 1, 100),
    maxWidth: clamp(options.maxWidth, 16, 7680),
    maxHeight: clamp(options.maxHeight, 16, 4320),
    everyNthFrame: 1,
  });
  return {
    tap(onFrame) {
      if (stopped) return () => undefined;
      const gate = createGate(
        (payload, done) => onFrame(toFrame(pictures, payload, done)),
        () => undefined,
      );
      taps.add(gate);
      if (latest) gate.offer(latest);
      return () => {
        gate.close();
        taps.delete(gate);
      };
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      own.close();
      for (const tap of taps) tap.close();
      taps.clear();
      latest = null;
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
  /** A joining viewer fed by another viewer's stream: that viewer, and how to stop the tap. */
  host: { viewer: Viewer; untap: () => void } | undefined;
  /** Bumped by every attach and detach: an attach overtaken by a later one undoes itself. */
  generation: number;
}

/** Re-attaching right after a form post or a tab switch can meet "Not attached to an active page" for a moment. */
export const REATTACH_ATTEMPTS = 4;
const REATTACH_DELAY_MS = 100;

/**
 * The screencasts of one session: each streaming viewer has its own CDP session on the active tab,
 * and all of them move to another tab on a switch. A viewer that asks to `joinStream` (the
 * recording) takes the frames of a streaming viewer's screencast while one runs, and has its own
 * only while none does: a second screencast on a page makes Chromium capture every frame twice,
 * which delayed the live view's frames by 3 to 25 ms (docs/decisions/0023-live-view.md).
 * `restart()` also makes Chromium send a fresh frame (it sends frames only on change), which the
 * viewer needs when the login ends. A re-attach that fails is tried again a few times; if it still
 * fails, `onAttachFailed` is told (the viewer then gets no frames until the next restart), never silently.
 */
export function createScreencasts(deps: {
  openCdp(): Promise<CDPSession | undefined>;
  withheld(): boolean;
  onAttachFailed?(error: unknown, attempts: number): void;
  /** The page's size in CSS pixels: a joining viewer takes only a stream whose pictures are at least as sharp as its own would be. */
  pageSize?(): { width: number; height: number };
  /** Test seam; default REATTACH_DELAY_MS times the attempt number. */
  retryDelayMs?: number;
}) {
  const viewers = new Set<Viewer>();
  const retryDelayMs = deps.retryDelayMs ?? REATTACH_DELAY_MS;
  const joins = (viewer: Viewer) => viewer.options.joinStream === true;
  /** How much a screencast with these options scales the page down (1: not at all), as Chromium fits it. */
  const scaleOf = (options: ScreencastOptions) => {
    const page = deps.pageSize?.();
    return page ? Math.min(1, options.maxWidth / page.width, options.maxHeight / page.height) : 1;
  };
  /**
   * The stream a joining viewer takes: the sharpest running one, if it is no less sharp than the
   * viewer's own screencast would be (a watcher's small window must not blur the recording).
   */
  const bestStream = (joiner: Viewer) => {
    let best: Viewer | undefined;
    for (const viewer of viewers) {
      if (joins(viewer) || !viewer.source) continue;
      if (!best || scaleOf(viewer.options) > scaleOf(best.options)) best = viewer;
    }
    return best && scaleOf(best.options) >= scaleOf(joiner.options) ? best : undefined;
  };

  const attach = async (viewer: Viewer) => {
    // A move that was on its way when the viewer stopped: nothing to attach.
    if (!viewers.has(viewer)) return;
    viewer.generation += 1;
    const generation = viewer.generation;
    // Whatever fed this viewer before is let go: two attaches can cross (a restart and a stream starting).
    viewer.host?.untap();
    viewer.host = undefined;
    void viewer.source?.stop();
    viewer.source = undefined;
    const host = joins(viewer) ? bestStream(viewer) : undefined;
    if (host?.source) {
      viewer.host = { viewer: host, untap: host.source.tap(viewer.onFrame) };
      return;
    }
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
    viewer.host?.untap();
    viewer.host = undefined;
    const source = viewer.source;
    viewer.source = undefined;
    await source?.stop();
  };
  /** Joining viewers move when a stream started or stopped: onto the best stream now, or to a screencast of their own. */
  const rehome = async () => {
    await Promise.all(
      [...viewers].filter(joins).map(async (viewer) => {
        const best = bestStream(viewer);
        if (best ? viewer.host?.viewer === best : viewer.source !== undefined) return;
        await detach(viewer);
        await reattach(viewer);
      }),
    );
  };

  return {
    async add(options: ScreencastOptions, onFrame: (frame: ScreencastFrame) => void): Promise<() => Promise<void>> {
      const viewer: Viewer = { options, onFrame, source: undefined, host: undefined, generation: 0 };
      viewers.add(viewer);
      try {
        await attach(viewer);
      } catch (error) {
        viewers.delete(viewer);
        throw error;
      }
      // A stream now runs: joining viewers take it if it is their best (stopping a screencast of their
      // own). Not awaited, here or at the stop: a viewer's start or stop does not wait for the moves.
      if (!joins(viewer) && viewer.source) void rehome();
      return async () => {
        viewers.delete(viewer);
        await detach(viewer);
        if (!joins(viewer)) void rehome();
      };
    },
    async restart(): Promise<void> {
      const all = [...viewers];
      await Promise.all(all.map(detach));
      // Streams first, so that joining viewers find one to take frames from.
      await Promise.all(all.filter((viewer) => !joins(viewer)).map(reattach));
      await Promise.all(all.filter(joins).map(reattach));
    },
    async stopAll(): Promise<void> {
      const all = [...viewers];
      viewers.clear();
      await Promise.all(all.map(detach));
    },
  };
}

export type Screencasts = ReturnType<typeof createScreencasts>;
