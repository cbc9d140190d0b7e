// Which keys go to the portal as keys and which as text. Printable characters are left to this
// browser, which composes them with the person's own layout (dead keys, accents such as ã, ç, ñ, é,
// input methods) and hands them over as text; the rest (Enter, Tab, arrows, shortcuts) go as keys.

/** What the decision needs of a KeyboardEvent (a plain object in tests). */
export interface KeyFacts {
  key: string;
  ctrlKey: boolean;
  metaKey: boolean;
  altKey: boolean;
  isComposing: boolean;
  altGraph: boolean;
}

export type KeyRoute =
  /** Left to the browser: it types text into the hidden field (sent from its input or composition events). */
  | 'text'
  /** Left to the browser's paste event (Ctrl/Cmd+V): its data needs no clipboard permission. */
  | 'paste'
  /** A dead key or an input method at work: the composed text follows. */
  | 'compose'
  /** Sent as `{type:'key'}`. */
  | 'key';

export function routeKey(event: KeyFacts): KeyRoute {
  if (event.isComposing || event.key === 'Dead' || event.key === 'Process') return 'compose';
  if ((event.ctrlKey || event.metaKey) && !event.altKey && event.key.toLowerCase() === 'v') return 'paste';
  const printable = event.key.length === 1 || /^\p{L}$/u.test(event.key);
  if (printable && (event.altGraph || (!event.ctrlKey && !event.metaKey && !event.altKey))) return 'text';
  return 'key';
}

/** Splits text into pieces the server takes in one `text` message, never cutting a character in two. */
export function textPieces(text: string, max: number): string[] {
  const pieces: string[] = [];
  let piece = '';
  for (const char of text) {
    if (piece.length + char.length > max) {
      pieces.push(piece);
      piece = '';
    }
    piece += char;
  }
  if (piece !== '') pieces.push(piece);
  return pieces;
}
