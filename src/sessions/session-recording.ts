import type { BrowserEvent, BrowserSession } from '../browser/index.js';
import type { AppError } from '../core/index.js';
import type { Recorder, RecordingEventBody, Recordings } from '../recording/index.js';
import type { EndReason, SessionsLogger } from './types.js';

/**
 * The recording's frames: at most one per `minFrameIntervalMs` (by the ack delay); from the live
 * view's screencast while one runs (its size and quality), else its own, capped at 1280x720, q40.
 */
export const RECORDING_SCREENCAST = { maxWidth: 1280, maxHeight: 720, quality: 40, joinStream: true } as const;
export const DEFAULT_MIN_FRAME_INTERVAL_MS = 750;
/** Events that arrive before the recorder is ready (the context opens while it begins) wait here. */
const MAX_EARLY_EVENTS = 1000;
/** Ends that leave a recording incomplete: what was shown was cut off, not ended. */
const INCOMPLETE: ReadonlySet<EndReason> = new Set(['browser_crashed', 'recording_failed', 'node_restart']);

/** One session's recording, as the lifecycle drives it. Never throws to its caller. */
export interface SessionRecording {
  /** The recorder once it has begun; null when it could not begin. */
  readonly ready: Promise<Recorder | null>;
  /** Why it could not begin, once `ready` gave null. */
  readonly beginError: unknown;
  event(event: RecordingEventBody): void;
  browserEvent(event: BrowserEvent): void;
  /** Starts the recording's own screencast on the session's browser (frames are withheld during the login by the browser). */
  startFrames(browser: BrowserSession): Promise<void>;
  /** Stops the frames, records the end and seals: complete for clean ends, incomplete with the reason otherwise. */
  seal(reason: EndReason): Promise<void>;
}

export interface SessionRecordingDeps {
  recordings: Recordings;
  logger: SessionsLogger;
  minFrameIntervalMs: number;
  info: { sessionId: string; assetId: string; userId: string; retentionDays: number };
  /** A write failed while the session ran (the service has audited `recording.failed`). */
  onFailure(error: AppError): void;
}

/**
 * Begins the recording at once (in parallel with opening the context) and buffers what happens
 * until it is ready. Frames are acked no sooner than `minFrameIntervalMs` after they arrive, so the
 * recording's rate is capped independently of the live view's.
 */
export function beginSessionRecording(deps: SessionRecordingDeps): SessionRecording {
  const { logger, info } = deps;
  let recorder: Recorder | null = null;
  let beginError: unknown;
  let early: RecordingEventBody[] | null = [];
  let failed = false;
  let stopFrames: (() => Promise<void>) | null = null;
  const pendingAcks = new Set<NodeJS.Timeout>();
  let sealing: Promise<void> | null = null;

  const ready = deps.recordings.begin(info).then(
    (r) => {
      recorder = r;
      r.onFailure((error) => {
        failed = true;
        logger.error({ err: error, session: info.sessionId, recording: r.recordingId }, 'the session recording could not be written');
        deps.onFailure(error);
      });
      for (const event of early ?? []) r.event(event);
      early = null;
      return r;
    },
    (error: unknown) => {
      beginError = error;
      early = null;
      logger.error({ err: error, session: info.sessionId }, 'the session recording could not begin');
      return null;
    },
  );

  const event = (body: RecordingEventBody) => {
    if (sealing || failed) return;
    if (recorder) recorder.event(body);
    else if (early && early.length < MAX_EARLY_EVENTS) early.push(body);
  };

  return {
    ready,
    get beginError() {
      return beginError;
    },
    event,
    browserEvent(e) {
      const body = toRecordingEvent(e);
      if (body) event(body);
    },
    async startFrames(browser) {
      const r = await ready;
      if (!r || sealing || browser.closed) return;
      const stop = await browser.startScreencast(RECORDING_SCREENCAST, (frame) => {
        if (sealing || failed) return;
        r.frame(frame.data, frame.width, frame.height);
        const timer = setTimeout(() => {
          pendingAcks.delete(timer);
          frame.ack();
        }, deps.minFrameIntervalMs);
        timer.unref();
        pendingAcks.add(timer);
      });
      if (sealing) await stop().catch(() => undefined);
      else stopFrames = stop;
    },
    seal(reason) {
      sealing ??= (async () => {
        for (const timer of pendingAcks) clearTimeout(timer);
        pendingAcks.clear();
        await stopFrames?.().catch(() => undefined);
        const r = await ready;
        if (!r) return;
        const complete = !INCOMPLETE.has(reason);
        if (!failed) r.event({ type: 'state', state: 'ended', reason });
        try {
          await r.seal(complete ? { complete } : { complete, incompleteReason: reason });
        } catch (error) {
          // The row stays `recording`; recordings.recover() at the next start seals what was written.
          logger.error({ err: error, session: info.sessionId, recording: r.recordingId }, 'the session recording could not be sealed');
        }
      })();
      return sealing;
    },
  };
}

/** The browser's events as the recording's event track has them; the browser's own end is recorded as the session's state. */
function toRecordingEvent(e: BrowserEvent): RecordingEventBody | null {
  switch (e.type) {
    case 'tab_opened':
    case 'tab_closed':
    case 'tab_switched':
      return { type: 'tab', action: e.type === 'tab_opened' ? 'opened' : e.type === 'tab_closed' ? 'closed' : 'switched', tabId: e.tabId, url: e.url };
    // download_dropped: a failed or too large download is recorded as blocked; one that made room for newer ones was recorded when kept.
    case 'ended':
    case 'file_chooser':
    case 'file_chooser_closed':
    case 'download_dropped':
      return null;
    case 'download':
      return { type: 'download', fileName: e.fileName, size: e.size, sha256: e.sha256 };
    default:
      return e;
  }
}
