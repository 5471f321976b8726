import { loadCatalogue } from '../web/i18n.ts';
import type { Language } from './groups.ts';
import type supportEn from '../web/locales/en/support.json';

const catalogue = loadCatalogue();
const area = (lang: Language) =>
  Object.fromEntries([...catalogue[lang]].filter(([key]) => key.startsWith('support.')).map(([key, value]) => [key.slice('support.'.length), value]));

/**
 * The support page's and widget's strings, from the one page catalogue (`src/web/locales/<lang>/support.json`):
 * the socket side (refusal messages) and the widget's JSON configuration read them here.
 */
export const STRINGS = { en: area('en'), nl: area('nl') } as Record<Language, Readonly<Record<keyof typeof supportEn, string>>>;
