import { spawn } from 'node:child_process';
import { mkdtemp, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { setPriority } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import type { Actor, AuditTrail } from '../audit/index.js';
import { AppError, isExecutableFile } from '../core/index.js';
import { isRecordingId } from './recording-id.js';
import type { RecordingCallContext, Recordings } from './types.js';

/**
 * Video export of a recording: its JPEG frames, each shown for as long as it
 * was on screen, encoded by the operating system's ffmpeg. On demand only,
 * and one export at a time per process: transcoding every recording when many
 * sessions end together is a known way to melt a server.
 */

export const EXPORT_VIDEO_FORMATS = ['webm', 'mp4'] as const;
export type ExportVideoFormat = (typeof EXPORT_VIDEO_FORMATS)[number];

export function isExportVideoFormat(value: unknown): value is ExportVideoFormat {
  return typeof value === 'string' && (EXPORT_VIDEO_FORMATS as readonly string[]).includes(value);
}

/** One frame as the recording holds it: `t` in ms since the recording's start. */
export interface VideoFrame {
  t: number;
  width: number;
  height: number;
  jpeg: Buffer;
}

export interface FfmpegTools {
  ffmpeg: string;
  ffprobe: string;
}

const DEFAULT_PATH = '/usr/local/bin:/usr/bin:/bin';
const INSTALL_HINT = 'install it (apt-get install ffmpeg on Debian and Ubuntu) or set FFMPEG_PATH';

/**
 * ffmpeg and ffprobe: the configured ffmpeg (FFMPEG_PATH) with ffprobe beside it,
 * else the first of each on `pathEnv` (the PATH value, passed in: modules do not
 * read the environment). Throws `ffmpeg_missing` naming the fix.
 */
export function findFfmpeg(options: { configured?: string | undefined; pathEnv?: string | undefined }): FfmpegTools {
  const { configured } = options;
  if (configured !== undefined && configured.trim() !== '') {
    const ffprobe = join(dirname(configured), 'ffprobe');
    if (!isExecutableFile(configured)) throw missing(`FFMPEG_PATH (${configured}) is not an executable file; ${INSTALL_HINT}.`);
    if (!isExecutableFile(ffprobe)) throw missing(`ffprobe was not found beside FFMPEG_PATH (${ffprobe}); ${INSTALL_HINT}.`);
    return { ffmpeg: configured, ffprobe };
  }
  // No PATH (a command run through the admin socket carries no environment): the usual system folders, as execvp does.
  const dirs = (options.pathEnv || DEFAULT_PATH).split(delimiter).filter((d) => d !== '');
  const ffmpeg = dirs.map((d) => join(d, 'ffmpeg')).find(isExecutableFile);
  const ffprobe = dirs.map((d) => join(d, 'ffprobe')).find(isExecutableFile);
  if (!ffmpeg || !ffprobe) throw missing(`ffmpeg${ffmpeg ? 'probe' : ''} was not found on the PATH; ${INSTALL_HINT}.`);
  return { ffmpeg, ffprobe };
}

function missing(publicMessage: string): AppError {
  return new AppError('ffmpeg_missing', { publicMessage, detail: publicMessage });
}

export interface VideoExportInput {
  frames: AsyncIterable<VideoFrame>;
  /** The recording's duration: the video lasts this long whatever the frames. */
  durationMs: number;
  format: ExportVideoFormat;
  /** Where the finished file goes; it must not exist yet. Written beside it first, renamed at the end. */
  outPath: string;
  /** Called once ffmpeg has finished and before the file appears at `outPath` (the audit record goes here). */
  beforePublish?: ((result: VideoExportResult) => Promise<void>) | undefined;
  signal?: AbortSignal | undefined;
}

export interface VideoExportResult {
  format: ExportVideoFormat;
  codec: 'vp9' | 'vp8' | 'h264';
  /** Frames taken from the recording (a black lead-in frame not counted). */
  frames: number;
  bytes: number;
  durationMs: number;
  width: number;
  height: number;
}

export interface RecordingExporter {
  /** Queued behind any export this exporter is running; refuses with `server_busy` past `maxQueued`. */
  exportVideo(input: VideoExportInput): Promise<VideoExportResult>;
  /** Exports running or waiting. */
  readonly pending: number;
}

export interface RecordingExporterDeps {
  /** Found when an export starts, so a server without ffmpeg still starts (and says why an export fails). */
  tools: () => FfmpegTools;
  /**
   * Where frames are spooled for ffmpeg (a private folder per export, removed after). Default: the
   * output's folder, which has room for the video (a frame folder of a 1-hour recording is ~0.5 GB;
   * the system temp folder is often memory).
   */
  tmpDir?: string | undefined;
  /** Exports allowed to wait behind the running one (default 8). */
  maxQueued?: number | undefined;
  /** Threads ffmpeg may use (default 2): an export shares the machine with live sessions. */
  threads?: number | undefined;
  logger?: { warn(obj: object, msg: string): void } | undefined;
}

/** Screen content at 720p: sharp text, small files; speeds chosen so a 1-hour recording takes minutes, not hours. */
const CODEC_ARGS: Record<VideoExportResult['codec'], string[]> = {
  vp9: ['-c:v', 'libvpx-vp9', '-deadline', 'realtime', '-cpu-used', '8', '-row-mt', '1', '-b:v', '0', '-crf', '34'],
  vp8: ['-c:v', 'libvpx', '-deadline', 'realtime', '-cpu-used', '8', '-b:v', '1M', '-crf', '10'],
  h264: ['-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'stillimage', '-crf', '23', '-movflags', '+faststart'],
};
const MAX_STDERR = 8 * 1024;
const DEFAULT_SIZE = { width: 1280, height: 720 };

export function createRecordingExporter(deps: RecordingExporterDeps): RecordingExporter {
  const maxQueued = deps.maxQueued ?? 8;
  const threads = deps.threads ?? 2;
  let tail: Promise<unknown> = Promise.resolve();
  let pending = 0;
  let encoders: Promise<Set<string>> | undefined;

  /** Which of our encoders this ffmpeg has: VP8 stands in when it was built without VP9. */
  function availableEncoders(ffmpeg: string): Promise<Set<string>> {
    encoders ??= run(ffmpeg, ['-hide_banner', '-encoders'], undefined).then(
      (out) => new Set(['libvpx-vp9', 'libvpx', 'libx264'].filter((name) => new RegExp(`\\s${name}\\s`).test(out))),
      (error: unknown) => {
        encoders = undefined;
        throw error;
      },
    );
    return encoders;
  }

  async function exportOne(input: VideoExportInput): Promise<VideoExportResult> {
    const tools = deps.tools();
    const available = await availableEncoders(tools.ffmpeg);
    const codec: VideoExportResult['codec'] =
      input.format === 'mp4' ? 'h264' : available.has('libvpx-vp9') ? 'vp9' : 'vp8';
    const encoder = { vp9: 'libvpx-vp9', vp8: 'libvpx', h264: 'libx264' }[codec];
    if (!available.has(encoder)) throw missing(`this ffmpeg has no ${encoder} encoder for ${input.format}; ${INSTALL_HINT}.`);
    await refuseExisting(input.outPath);
    const work = await mkdtemp(join(deps.tmpDir ?? dirname(input.outPath), '.webasset-export-'));
    const partial = `${input.outPath}.partial`;
    try {
      const spooled = await spoolFrames(input.frames, work, input.durationMs, input.signal);
      const size = outputSize(spooled.frames);
      const entries = [...spooled.frames];
      // Frames are withheld while the login runs: the video starts black, as the live view did.
      if (entries.length === 0 || entries[0]!.t > 0) {
        await run(tools.ffmpeg, ['-hide_banner', '-loglevel', 'error', '-nostdin', '-f', 'lavfi', '-i', `color=c=black:s=${size.width}x${size.height}`, '-frames:v', '1', join(work, 'black.jpg')], input.signal);
        entries.unshift({ file: 'black.jpg', t: 0, width: size.width, height: size.height });
      }
      await writeFile(join(work, 'frames.ffconcat'), concatList(entries, input.durationMs), { mode: 0o600 });
      const args = [
        '-hide_banner', '-loglevel', 'error', '-nostdin', '-y',
        // `-safe 0` only because `option` lines need it: the list names our own files in our private folder.
        '-f', 'concat', '-safe', '0', '-i', join(work, 'frames.ffconcat'),
        '-vf', `scale=${size.width}:${size.height}:force_original_aspect_ratio=decrease,pad=${size.width}:${size.height}:(ow-iw)/2:(oh-ih)/2,format=yuv420p`,
        '-fps_mode', 'vfr',
        '-threads', String(threads),
        ...CODEC_ARGS[codec],
        '-f', input.format,
        partial,
      ];
      await run(tools.ffmpeg, args, input.signal, { lowPriority: true });
      const result: VideoExportResult = {
        format: input.format,
        codec,
        frames: spooled.frames.length,
        bytes: (await stat(partial)).size,
        durationMs: input.durationMs,
        ...size,
      };
      await input.beforePublish?.(result);
      await refuseExisting(input.outPath);
      await rename(partial, input.outPath);
      return result;
    } finally {
      await unlink(partial).catch(() => undefined);
      await rm(work, { recursive: true, force: true });
    }
  }

  return {
    get pending() {
      return pending;
    },
    exportVideo(input) {
      if (pending > maxQueued) return Promise.reject(new AppError('server_busy', { publicMessage: 'Too many exports are waiting; try again later.' }));
      pending += 1;
      const job = tail.then(() => exportOne(input));
      tail = job.catch(() => undefined);
      return job.finally(() => {
        pending -= 1;
      });
    },
  };
}

interface SpooledFrame {
  file: string;
  t: number;
  width: number;
  height: number;
}

/** Writes each frame to its own file (so a 1-hour recording never sits in memory), in time order. */
async function spoolFrames(frames: AsyncIterable<VideoFrame>, dir: string, durationMs: number, signal: AbortSignal | undefined): Promise<{ frames: SpooledFrame[] }> {
  const out: SpooledFrame[] = [];
  let last = -1;
  for await (const frame of frames) {
    signal?.throwIfAborted();
    // Ordered and within the recording: a frame out of order would make ffmpeg's timeline go backwards.
    const t = Math.min(Math.max(0, Math.round(frame.t)), Math.max(0, durationMs));
    if (t < last) continue;
    const file = `f${String(out.length + 1).padStart(7, '0')}.jpg`;
    await writeFile(join(dir, file), frame.jpeg, { mode: 0o600 });
    // Two frames at the same millisecond: the later one wins the slot.
    if (t === last) out.pop();
    out.push({ file, t, width: frame.width, height: frame.height });
    last = t;
  }
  return { frames: out };
}

/** The largest frame, rounded up to even sizes (yuv420p); smaller frames are centred on black. */
function outputSize(frames: readonly SpooledFrame[]): { width: number; height: number } {
  if (frames.length === 0) return DEFAULT_SIZE;
  const even = (n: number) => Math.max(2, Math.ceil(n / 2) * 2);
  return { width: even(Math.max(...frames.map((f) => f.width))), height: even(Math.max(...frames.map((f) => f.height))) };
}

/**
 * The concat demuxer's list: each image shown until the next one's time, the last
 * until the recording's end. `option framerate 1000` gives the image demuxer a
 * millisecond clock (its default 25 fps rounds every duration to 40 ms), and the last
 * file is listed twice because the demuxer ignores the duration of the final entry.
 */
function concatList(frames: readonly SpooledFrame[], durationMs: number): string {
  const lines = ['ffconcat version 1.0'];
  const entry = (file: string, ms: number) => lines.push(`file '${file}'`, 'option framerate 1000', `duration ${(Math.max(1, ms) / 1000).toFixed(3)}`);
  frames.forEach((frame, i) => {
    const until = i + 1 < frames.length ? frames[i + 1]!.t : Math.max(durationMs, frame.t + 1);
    entry(frame.file, until - frame.t);
  });
  entry(frames[frames.length - 1]!.file, 1);
  return `${lines.join('\n')}\n`;
}

async function refuseExisting(path: string): Promise<void> {
  const exists = await stat(path).then(
    () => true,
    () => false,
  );
  if (exists) throw new AppError('invalid_request', { publicMessage: `${path} already exists; choose another --out` });
}

/** Runs a tool; resolves with its stdout, rejects with `internal` (stderr in the private detail only). */
function run(command: string, args: string[], signal: AbortSignal | undefined, options: { lowPriority?: boolean } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], signal, killSignal: 'SIGKILL' });
    if (options.lowPriority && child.pid !== undefined) {
      try {
        // Live sessions come first: an export uses what the machine has left.
        setPriority(child.pid, 10);
      } catch {
        // Not permitted here (some containers): it runs at normal priority.
      }
    }
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => {
      if (err.length < MAX_STDERR) err += c.toString('utf8');
    });
    child.once('error', (error) => {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') reject(missing(`${command} could not be run; ${INSTALL_HINT}.`));
      else if (signal?.aborted) reject(new AppError('invalid_request', { publicMessage: 'The export was cancelled.', cause: error }));
      else reject(error);
    });
    child.once('close', (code) => {
      if (code === 0) resolve(Buffer.concat(out).toString('utf8'));
      else if (!signal?.aborted) reject(new AppError('internal', { detail: `${command} exited with ${code}: ${err.slice(0, MAX_STDERR)}` }));
    });
  });
}

/** The container's duration as ffprobe reads it, in ms. */
export async function probeDurationMs(ffprobe: string, file: string): Promise<number> {
  const out = await run(ffprobe, ['-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', file], undefined);
  const seconds = Number.parseFloat(out.trim());
  if (!Number.isFinite(seconds)) throw new AppError('internal', { detail: `ffprobe gave no duration for ${file}` });
  return Math.round(seconds * 1000);
}

export interface ExportRecordingDeps {
  recordings: Pick<Recordings, 'get' | 'frames'>;
  trail: AuditTrail;
  exporter: RecordingExporter;
}

/**
 * Exports one recording to a video file: frames from the recording, audited
 * `recording.exported` once the video is made and before it appears at `outPath`
 * (no event, no file). The caller has checked the caller may replay it.
 */
export async function exportRecording(
  deps: ExportRecordingDeps,
  request: { id: string; format: ExportVideoFormat; outPath: string; actor: Actor; context?: RecordingCallContext | undefined; signal?: AbortSignal | undefined },
): Promise<VideoExportResult> {
  const { id, format, actor } = request;
  if (!isExportVideoFormat(format)) throw new AppError('invalid_request', { publicMessage: `format must be one of ${EXPORT_VIDEO_FORMATS.join(', ')}` });
  const recording = isRecordingId(id) ? await deps.recordings.get(id) : null;
  if (!recording) throw new AppError('not_found', { publicMessage: 'No such recording.' });
  return deps.exporter.exportVideo({
    frames: deps.recordings.frames(recording.id, 0),
    durationMs: recording.durationMs,
    format,
    outPath: request.outPath,
    signal: request.signal,
    beforePublish: async (result) => {
      await deps.trail.record({
        actor,
        action: 'recording.exported',
        outcome: 'success',
        target: { kind: 'recording', id: recording.id },
        details: { session: recording.sessionId, assetId: recording.assetId, format, codec: result.codec, bytes: result.bytes, durationMs: result.durationMs },
        ...request.context,
      });
    },
  });
}
