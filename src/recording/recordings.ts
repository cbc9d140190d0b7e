import type { Recordings, RecordingsDeps } from './types.js';

export function createRecordings(deps: RecordingsDeps): Recordings {
  void deps;
  throw new Error('not implemented');
}
