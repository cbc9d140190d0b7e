import { LANGUAGE_NAMES, LANGUAGES, language, setLanguage, t, type Language } from './i18n/index.js';

/** The language switch: each language named in itself; the choice is remembered in this browser. */
export function LanguageSwitch() {
  return (
    <label class="language">
      <span class="language-label">{t('language.label')}</span>
      <select id="language" value={language()} onChange={(e) => setLanguage(e.currentTarget.value as Language)}>
        {LANGUAGES.map((lang) => (
          <option key={lang} value={lang} lang={lang}>
            {LANGUAGE_NAMES[lang]}
          </option>
        ))}
      </select>
    </label>
  );
}
