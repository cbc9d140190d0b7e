import type { LiveFrame } from './ports.js';

/** Where frames go: one binary WebSocket message each; `done` runs once the bytes left the process (ws send callback). */
export interface FrameSink {
  send(data: Buffer, done: (error?: Error) => void): void;
}

export interface FramePumpStats {
  /** Frames sent to the viewer. */
  sent: number;
  /** Client acks that matched a sent frame. */
  acked: number;
  /** Frames replaced by a newer one before they could be sent. */
  dropped: number;
  /** Largest number of frames that were ever in flight at once. */
  peakInFlight: number;
}

export interface FramePump {
  /** A frame from the browser's screencast. */
  offer(frame: LiveFrame): void;
  /** The viewer painted the oldest frame in flight. Extra acks are ignored (no credit is saved up). */
  clientAck(): void;
  readonly stats: Readonly<FramePumpStats>;
  /** Stops sending; a frame still held is released to the browser. */
  close(): void;
}

interface InFlight {
  written: boolean;
  acked: boolean;
}

/**
 * Backpressure between the screencast and one viewer. A frame is in flight
 * from the moment it is sent until the socket has written it AND the viewer
 * has acked it; with `maxInFlight` frames in flight, the next frame is held
 * (at most one, the newest) and not acked to the browser, so the browser
 * produces no more until the viewer catches up. A slow viewer therefore gets
 * fewer, fresher frames, and nothing queues up in memory per viewer beyond
 * `maxInFlight` frames in the socket and one held frame. Requiring both
 * signals means a client that acks without reading still cannot make the
 * socket buffer grow.
 */
export function createFramePump(options: { sink: FrameSink; maxInFlight?: number }): FramePump {
  const maxInFlight = options.maxInFlight ?? 2;
  if (!Number.isInteger(maxInFlight) || maxInFlight < 1) throw new Error('maxInFlight must be a positive integer');
  const inFlight: InFlight[] = [];
  const stats: FramePumpStats = { sent: 0, acked: 0, dropped: 0, peakInFlight: 0 };
  let held: LiveFrame | null = null;
  let closed = false;

  const settle = () => {
    while (inFlight.length > 0 && inFlight[0]!.written && inFlight[0]!.acked) inFlight.shift();
  };

  const send = (frame: LiveFrame) => {
    const entry: InFlight = { written: false, acked: false };
    inFlight.push(entry);
    stats.sent++;
    stats.peakInFlight = Math.max(stats.peakInFlight, inFlight.length);
    options.sink.send(frame.data, () => {
      // Written (or failed: then the socket is closing and close() follows). Either way the browser may go on.
      entry.written = true;
      frame.ack();
      settle();
      pump();
    });
  };

  const pump = () => {
    if (closed || !held || inFlight.length >= maxInFlight) return;
    const next = held;
    held = null;
    send(next);
  };

  return {
    stats,
    offer(frame) {
      if (closed) {
        frame.ack();
        return;
      }
      if (held) {
        // The browser sent another before we released the last: keep the newest only.
        held.ack();
        stats.dropped++;
      }
      held = frame;
      pump();
    },
    clientAck() {
      const oldest = inFlight.find((f) => !f.acked);
      if (!oldest) return;
      oldest.acked = true;
      stats.acked++;
      settle();
      pump();
    },
    close() {
      closed = true;
      if (held) {
        held.ack();
        held = null;
      }
    },
  };
}
