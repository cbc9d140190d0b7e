export type {
  BeginInfo,
  ChunkInfo,
  ChunkRecord,
  ChunkVerification,
  RecordedFrame,
  Recorder,
  RecordingCallContext,
  RecordingEvent,
  RecordingEventBody,
  RecordingListFilter,
  RecordingManifest,
  RecordingPage,
  Recordings,
  RecordingsDeps,
  RecordingsLogger,
  RecordingState,
  RecordingStorage,
  RecordingSummary,
  SealResult,
  VerifyReport,
} from './types.js';
export { CHUNK_MAGIC, decodeChunk, encodeChunk } from './format.js';
export { isRecordingId } from './recording-id.js';
export { createFileRecordingStorage } from './file-storage.js';
export { createRecordings } from './recordings.js';
export * from './export.js';
export * from './evidence.js';
export { evidenceArchive, verifyEvidenceArchive } from './evidence-archive.js';
export { folderEntries, tarHeader, tarSize, tarStream, type TarFile } from './tar-writer.js';
export { extractTar } from './tar-reader.js';
