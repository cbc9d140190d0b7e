// The live view's socket: opened, kept open across network blips, and the frames it brings painted.
import { paintLetterboxed } from './letterbox.js';
import type { Shown } from './pointer.js';
import { parseServerMessage, type ClientMessage, type ServerMessage, type Viewport } from './protocol.js';
import { isTerminalClose, reconnectDelayMs } from './reconnect.js';

/** `connecting`: the first socket; `open`; `reconnecting`: the socket dropped and another is on its way; `closed`: for good. */
export type LinkState = 'connecting' | 'open' | 'reconnecting' | 'closed';

export interface LiveLinkOptions {
  sessionId: string;
  canvas: HTMLCanvasElement;
  onMessage(message: ServerMessage): void;
  /** A frame was painted. */
  onFrame(): void;
  /** The socket's state; with the close code when it is `closed`. */
  onLink(state: LinkState, closeCode?: number): void;
}

export interface LiveLink {
  /** Sent when the socket is open; dropped otherwise (input during a blip is not replayed later). */
  send(message: ClientMessage): void;
  /** The frame on the canvas, for pointer mapping. */
  shown(): Shown;
  /** Closes the socket for good (the page goes away). */
  close(): void;
}

/**
 * Opens `/api/sessions/{id}/live`. A close without an `ended` message and without a terminal code is
 * a dropped connection: another socket is opened after a growing wait, and the server, which keeps
 * the session whether or not anyone views it, sends its state, tabs and frames again.
 */
export function createLiveLink(options: LiveLinkOptions): LiveLink {
  const { canvas } = options;
  const ctx = canvas.getContext('2d');
  const scheme = window.location.protocol === 'https:' ? 'wss:' : 'ws:';
  const url = `${scheme}//${window.location.host}/api/sessions/${encodeURIComponent(options.sessionId)}/live`;
  let socket: WebSocket | null = null;
  let attempt = 0;
  let stopped = false;
  let retry: number | undefined;
  // The page size of the frames that follow, as the last state message said (a new socket announces it again).
  let viewport: Viewport | null = null;
  let shown: Shown = { page: null, x: 0, y: 0, w: 0, h: 0 };
  let painting: Promise<void> = Promise.resolve();

  function connect(): void {
    const ws = new WebSocket(url);
    ws.binaryType = 'arraybuffer';
    socket = ws;
    let ended = false;
    ws.addEventListener('open', () => {
      if (socket !== ws) return;
      attempt = 0;
      options.onLink('open');
    });
    ws.addEventListener('message', (event: MessageEvent<string | ArrayBuffer>) => {
      if (socket !== ws) return;
      if (typeof event.data !== 'string') return paint(ws, event.data);
      const message = parseServerMessage(event.data);
      if (!message) return;
      if (message.type === 'state' && message.viewport) viewport = message.viewport;
      if (message.type === 'ended') ended = true;
      options.onMessage(message);
    });
    ws.addEventListener('close', (event) => {
      if (socket !== ws) return;
      socket = null;
      if (stopped) return;
      if (ended || isTerminalClose(event.code)) {
        stopped = true;
        options.onLink('closed', event.code);
        return;
      }
      options.onLink('reconnecting');
      retry = window.setTimeout(connect, reconnectDelayMs(attempt++));
    });
  }

  // Frames are painted one at a time and acked once painted: the server sends at most two ahead of the acks.
  function paint(ws: WebSocket, bytes: ArrayBuffer): void {
    const page = viewport;
    painting = painting.then(async () => {
      try {
        if (!ctx) return;
        const bitmap = await createImageBitmap(new Blob([bytes], { type: 'image/jpeg' }));
        const placed = paintLetterboxed(canvas, ctx, bitmap);
        shown = { page: page ?? { width: bitmap.width, height: bitmap.height }, ...placed };
        bitmap.close();
        options.onFrame();
      } catch {
        // A frame that does not decode is skipped; the next one replaces it.
      } finally {
        if (ws.readyState === WebSocket.OPEN) ws.send('{"type":"ack"}');
      }
    });
  }

  options.onLink('connecting');
  connect();
  return {
    send(message) {
      if (socket?.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
    },
    shown: () => shown,
    close() {
      stopped = true;
      window.clearTimeout(retry);
      const ws = socket;
      socket = null;
      ws?.close(1000, 'page closed');
    },
  };
}
