// The UI's language: picked from the browser, changed with the switch (remembered in localStorage),
// written to <html lang>. Components read it through `t()` and re-render through `useLanguage()`.
import { useEffect, useState } from 'preact/hooks';
import { CATALOGUES, formatDateTime, formatDuration, formatWait, LANGUAGES, localeFor, message, pickLanguage, type Language, type MessageKey, type Params } from './catalogue.js';

export { LANGUAGE_NAMES, LANGUAGES, type Language, type MessageKey } from './catalogue.js';

/** Where the switch's choice is kept (this browser only; nothing is sent to the server). */
const STORAGE_KEY = 'webasset.language';

function browserLanguages(): readonly string[] {
  return navigator.languages.length > 0 ? navigator.languages : [navigator.language];
}

function storedLanguage(): Language | null {
  try {
    const value = window.localStorage.getItem(STORAGE_KEY);
    return (LANGUAGES as readonly string[]).includes(value ?? '') ? (value as Language) : null;
  } catch {
    return null; // storage refused (privacy settings): the browser's languages decide
  }
}

let current: Language = storedLanguage() ?? pickLanguage(browserLanguages());
let locale = localeFor(current, browserLanguages());
const listeners = new Set<() => void>();

function applyToDocument(): void {
  document.documentElement.lang = current;
}
applyToDocument();

/** The language shown now. */
export function language(): Language {
  return current;
}

/** Switches the UI to `next`, remembers it for this browser, and re-renders every subscriber. */
export function setLanguage(next: Language): void {
  current = next;
  locale = localeFor(next, browserLanguages());
  try {
    window.localStorage.setItem(STORAGE_KEY, next);
  } catch {
    // not remembered; still switched for this page
  }
  applyToDocument();
  listeners.forEach((listener) => listener());
}

/** The current language; the calling component renders again when it changes. */
export function useLanguage(): Language {
  const [, setTick] = useState(0);
  useEffect(() => {
    const listener = () => setTick((n) => n + 1);
    listeners.add(listener);
    return () => {
      listeners.delete(listener);
    };
  }, []);
  return current;
}

/** A message of the catalogue in the current language. */
export function t(key: MessageKey, params?: Params): string {
  return message(current, locale, key, params);
}

/** "3 minutes", "1 minuto 30 segundos". */
export const waitText = (seconds: number) => formatWait(seconds, locale);
/** "3 min 20 sec". */
export const durationText = (ms: number) => formatDuration(ms, locale);
/** A date and time in the reader's locale. */
export const dateTimeText = (iso: string) => formatDateTime(iso, locale);

/** Whether the catalogue has `key` (for keys built from a server's code). */
export function hasMessage(key: string): key is MessageKey {
  return Object.hasOwn(CATALOGUES.en, key);
}
