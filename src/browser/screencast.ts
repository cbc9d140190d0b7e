import type { CDPSession } from 'playwright-core';
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

  cdp.on('Page.screencastFrame', (payload) => {
    if (stopped) return;
    if (withheld()) {
      void cdpAck(payload.sessionId);
      return;
    }
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

function clamp(value: number, min: number, max: number): number {
  return Number.isFinite(value) ? Math.min(max, Math.max(min, Math.round(value))) : max;
}

interface Viewer {
  options: ScreencastOptions;
  onFrame: (frame: ScreencastFrame) => void;
  source: FrameSource | undefined;
}

/**
 * The screencasts of one session: each viewer has its own CDP session on the active tab, and all
 * of them move to another tab on a switch. `restart()` also makes Chromium send a fresh frame
 * (it sends frames only on change), which the viewer needs when the login ends.
 */
export function createScreencasts(deps: { openCdp(): Promise<CDPSession | undefined>; withheld(): boolean }) {
  const viewers = new Set<Viewer>();

  const attach = async (viewer: Viewer) => {
    const cdp = await deps.openCdp();
    if (!cdp || !viewers.has(viewer)) return;
    viewer.source = await startFrameSource(cdp, viewer.options, viewer.onFrame, () => deps.withheld());
    // Stopped while starting: undo.
    if (!viewers.has(viewer)) await viewer.source.stop();
  };
  const detach = async (viewer: Viewer) => {
    const source = viewer.source;
    viewer.source = undefined;
    await source?.stop();
  };

  return {
    async add(options: ScreencastOptions, onFrame: (frame: ScreencastFrame) => void): Promise<() => Promise<void>> {
      const viewer: Viewer = { options, onFrame, source: undefined };
      viewers.add(viewer);
      await attach(viewer);
      return async () => {
        viewers.delete(viewer);
        await detach(viewer);
      };
    },
    async restart(): Promise<void> {
      await Promise.all([...viewers].map(async (viewer) => {
        await detach(viewer);
        await attach(viewer).catch(() => undefined);
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
