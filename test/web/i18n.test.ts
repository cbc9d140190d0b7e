import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../src/core/error-codes.js';
import { END_REASONS, SESSION_STATES } from '../../src/sessions/types.js';
import { CATALOGUES, formatDuration, formatWait, LANGUAGES, localeFor, message, parametersOf, pickLanguage, type MessageKey } from '../../web/app/src/i18n/catalogue.js';

const SOURCES = join(import.meta.dirname, '..', '..', 'web', 'app', 'src');
const KEYS = Object.keys(CATALOGUES.en) as MessageKey[];

/** Keys the UI builds from a server's value (`card.${reason}`, `error.${code}`...) rather than writing them out. */
const BUILT_FROM = ['card.', 'state.', 'endReason.', 'error.', 'password.'];

/** Words that are the same in the other language (checked, so that a forgotten translation is not one of them). */
const SAME_AS_ENGLISH: Record<string, readonly MessageKey[]> = {
  'pt-BR': ['sessions.portal', 'recordings.asset'],
  es: ['sessions.portal', 'recordings.asset', 'admin.roles'],
};

function sourceText(): string {
  const texts: string[] = [];
  const visit = (path: string) => {
    if (statSync(path).isDirectory()) for (const name of readdirSync(path)) visit(join(path, name));
    else if (/\.tsx?$/.test(path) && !path.includes(`${join('src', 'i18n')}`)) texts.push(readFileSync(path, 'utf8'));
  };
  visit(SOURCES);
  return texts.join('\n');
}

describe('web UI message catalogue', () => {
  it('has every key in every language, none empty, with the same parameters as English', () => {
    for (const lang of LANGUAGES) {
      const catalogue = CATALOGUES[lang];
      expect(Object.keys(catalogue).sort(), lang).toEqual([...KEYS].sort());
      for (const key of KEYS) {
        expect(catalogue[key].trim(), `${lang} ${key}`).not.toBe('');
        expect(parametersOf(catalogue[key]), `${lang} ${key}`).toEqual(parametersOf(CATALOGUES.en[key]));
      }
    }
  });

  it('is translated: no message of Portuguese or Spanish is the English one, except the words both languages share', () => {
    for (const lang of ['pt-BR', 'es'] as const) {
      const same = KEYS.filter((key) => CATALOGUES[lang][key] === CATALOGUES.en[key]);
      expect(same, lang).toEqual(SAME_AS_ENGLISH[lang]);
    }
  });

  it('has no key the UI never uses; the keys built from server values name real codes, states and end reasons', () => {
    const text = sourceText();
    const unused = KEYS.filter((key) => !BUILT_FROM.some((prefix) => key.startsWith(prefix)) && !text.includes(`'${key}'`));
    expect(unused).toEqual([]);
    const CLIENT_ONLY = ['error.rateLimitedWait', 'error.rateLimited', 'error.unreachable', 'endReason.unknown'];
    for (const key of KEYS.filter((k) => !CLIENT_ONLY.includes(k))) {
      const [prefix, name] = key.split('.') as [string, string];
      if (prefix === 'error') expect(Object.keys(ERROR_CODES), key).toContain(name);
      if (prefix === 'state') expect(SESSION_STATES, key).toContain(name);
    }
    // Every way a session ends and every state has its words.
    for (const reason of END_REASONS) expect(KEYS).toContain(`endReason.${reason}`);
    for (const state of SESSION_STATES) expect(KEYS).toContain(`state.${state}`);
  });

  it('picks the first of the browser languages it speaks, by primary subtag, and English otherwise', () => {
    expect(pickLanguage(['pt-BR', 'en-US'])).toBe('pt-BR');
    expect(pickLanguage(['pt-PT'])).toBe('pt-BR');
    expect(pickLanguage(['fr-FR', 'es-MX', 'en'])).toBe('es');
    expect(pickLanguage(['EN-gb', 'es'])).toBe('en');
    expect(pickLanguage(['de', 'ja'])).toBe('en');
    expect(pickLanguage([])).toBe('en');
  });

  it('writes dates and numbers in the browser locale of the chosen language, or in the language itself', () => {
    expect(localeFor('es', ['en-US', 'es-MX'])).toBe('es-MX');
    expect(localeFor('pt-BR', ['pt-pt'])).toBe('pt-PT');
    expect(localeFor('pt-BR', ['en-US'])).toBe('pt-BR');
    expect(localeFor('en', ['en-GB'])).toBe('en-GB');
    expect(message('pt-BR', 'pt-BR', 'signIn.lockoutPolicy', { threshold: 1000, wait: '7 minutos' })).toBe(
      'Após 1.000 tentativas com falha, a conta fica bloqueada por 7 minutos; se isso aconteceu, aguarde ou peça a um administrador para desbloqueá-la.',
    );
    expect(message('en', 'en', 'launcher.openLabel', { name: 'Demo Bank' })).toBe('Open Demo Bank');
  });

  it('says how long to wait, and how long a session lasted, in words of the locale', () => {
    expect(formatWait(45, 'en')).toBe('45 seconds');
    expect(formatWait(1, 'en')).toBe('1 second');
    expect(formatWait(420, 'en')).toBe('7 minutes');
    expect(formatWait(90, 'en')).toBe('1 minute 30 seconds');
    expect(formatWait(90, 'pt-BR')).toBe('1 minuto 30 segundos');
    expect(formatWait(61, 'es')).toBe('1 minuto 1 segundo');
    expect(formatWait(0.2, 'en')).toBe('1 second');
    expect(formatDuration(0, 'en')).toBe('0 sec');
    expect(formatDuration(200_000, 'en')).toBe('3 min 20 sec');
    expect(formatDuration(3_900_000, 'pt-BR')).toBe('1 h 5 min');
    expect(formatDuration(7_200_000, 'es')).toBe('2 h 0 min');
  });
});
