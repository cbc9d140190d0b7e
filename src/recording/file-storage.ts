import type { RecordingStorage } from './types.js';

export function createFileRecordingStorage(dir: string): RecordingStorage {
  void dir;
  throw new Error('not implemented');
}
