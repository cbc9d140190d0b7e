import type { RecordingEvent, RecordingEventBody } from './types.js';

const MAX_BYTES = 256 * 1024;
const MAX_TERM = 2048;

/**
 * The distinct URLs, titles and event targets of a recording,
 * newline-separated and capped at 256 KiB: what the list's text filter
 * searches. Typed text is never a term.
 */
export interface SearchText {
  add(event: RecordingEventBody | RecordingEvent): void;
  /** The text when it changed since the last call, else undefined. */
  takeChanged(): string | undefined;
  text(): string;
}

export function createSearchText(initial = ''): SearchText {
  const terms = new Set(initial === '' ? [] : initial.split('\n'));
  let bytes = Buffer.byteLength(initial);
  let changed = false;

  function addTerm(value: string | undefined): void {
    if (!value) return;
    const term = value.replace(/[\r\n]+/g, ' ').trim().slice(0, MAX_TERM);
    if (term === '' || terms.has(term)) return;
    const size = Buffer.byteLength(term) + 1;
    if (bytes + size > MAX_BYTES) return;
    terms.add(term);
    bytes += size;
    changed = true;
  }

  return {
    add(e) {
      for (const term of termsOf(e)) addTerm(term);
    },
    takeChanged() {
      if (!changed) return undefined;
      changed = false;
      return [...terms].join('\n');
    },
    text: () => [...terms].join('\n'),
  };
}

function termsOf(e: RecordingEventBody): Array<string | undefined> {
  switch (e.type) {
    case 'navigated':
      return [e.url, e.title];
    case 'tab':
      return [e.url];
    case 'click':
    case 'keys':
      return [e.target];
    case 'download':
      return [e.fileName];
    case 'upload':
      return e.fileNames;
    case 'blocked':
      return [e.what, e.url];
    case 'tool':
      return [e.tool];
    default:
      return [];
  }
}
