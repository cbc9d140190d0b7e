// The message catalogue and the locale rules, free of the DOM (test/web/i18n.test.ts runs them in Node).
import { en, type MessageKey } from './en.js';
import { es } from './es.js';
import { ptBR } from './pt-BR.js';

export type { MessageKey };

/** The languages of the UI, as BCP 47 tags (also the value of `<html lang>`). */
export const LANGUAGES = ['en', 'pt-BR', 'es'] as const;
export type Language = (typeof LANGUAGES)[number];

/** Each language in its own words, for the switch. */
export const LANGUAGE_NAMES: Record<Language, string> = { en: 'English', 'pt-BR': 'Português (Brasil)', es: 'Español' };

export const CATALOGUES: Record<Language, Record<MessageKey, string>> = { en, 'pt-BR': ptBR, es };

export type Params = Record<string, string | number>;

/** The primary subtag: `pt` of `pt-BR`. */
const primary = (tag: string) => tag.toLowerCase().split('-')[0] ?? '';

/** The first of the browser's languages (navigator.languages) the UI speaks, by primary subtag; English otherwise. */
export function pickLanguage(preferred: readonly string[]): Language {
  for (const tag of preferred) {
    const found = LANGUAGES.find((lang) => primary(lang) === primary(tag));
    if (found) return found;
  }
  return 'en';
}

/**
 * The locale dates and numbers are written in: the browser's own tag when it is of the chosen language
 * (`es-MX` writes dates as Mexico does, `pt-PT` as Portugal does), the language itself otherwise.
 */
export function localeFor(language: Language, preferred: readonly string[]): string {
  const own = preferred.find((tag) => primary(tag) === primary(language));
  if (own) {
    try {
      return Intl.getCanonicalLocales(own)[0] ?? language;
    } catch {
      return language;
    }
  }
  return language;
}

/** A message with its `{name}` parameters filled in; numbers are written in `locale`. */
export function message(language: Language, locale: string, key: MessageKey, params?: Params): string {
  const template = CATALOGUES[language][key];
  if (!params) return template;
  return template.replace(/\{(\w+)\}/g, (whole, name: string) => {
    const value = params[name];
    if (value === undefined) return whole;
    return typeof value === 'number' ? new Intl.NumberFormat(locale).format(value) : value;
  });
}

/** The `{name}` parameters of a template, sorted. */
export function parametersOf(template: string): string[] {
  return [...template.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!).sort();
}

const unit = (locale: string, name: 'hour' | 'minute' | 'second', value: number, display: 'long' | 'short') =>
  new Intl.NumberFormat(locale, { style: 'unit', unit: name, unitDisplay: display }).format(value);

/** A wait, in words: "45 seconds", "3 minutes", "1 minute 30 seconds" (or "1 minuto 30 segundos"). */
export function formatWait(seconds: number, locale: string): string {
  const s = Math.max(1, Math.ceil(seconds));
  const minutes = Math.floor(s / 60);
  const rest = s % 60;
  const parts: string[] = [];
  if (minutes > 0) parts.push(unit(locale, 'minute', minutes, 'long'));
  if (rest > 0 || minutes === 0) parts.push(unit(locale, 'second', rest, 'long'));
  return new Intl.ListFormat(locale, { type: 'unit', style: 'narrow' }).format(parts);
}

/** A duration, short: "1 hr 5 min", "3 min 20 sec", "12 sec" (to the second below an hour, to the minute above). */
export function formatDuration(ms: number, locale: string): string {
  const total = Math.max(0, Math.round(ms / 1000));
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = total % 60;
  const parts: string[] = [];
  if (hours > 0) parts.push(unit(locale, 'hour', hours, 'short'));
  if (minutes > 0 || (hours > 0 && seconds === 0)) parts.push(unit(locale, 'minute', minutes, 'short'));
  if (hours === 0 && (seconds > 0 || minutes === 0)) parts.push(unit(locale, 'second', seconds, 'short'));
  return new Intl.ListFormat(locale, { type: 'unit', style: 'narrow' }).format(parts);
}

/** A moment, with date and time, in the reader's locale and time zone. */
export function formatDateTime(iso: string, locale: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return new Intl.DateTimeFormat(locale, { dateStyle: 'medium', timeStyle: 'short' }).format(date);
}
