import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { escapeText } from './engine.ts';
import type common from './locales/en/common.json';
import type signin from './locales/en/signin.json';
import type support from './locales/en/support.json';
import type dashboard from './locales/en/dashboard.json';
import type account from './locales/en/account.json';
import type desk from './locales/en/desk.json';
import type clients from './locales/en/clients.json';
import type members from './locales/en/members.json';

/**
 * The one English/Dutch message catalogue of every page. One JSON file per area and language
 * (`locales/en/<area>.json`, `locales/nl/<area>.json`), so branches adding areas never touch the
 * same file. A key is `<area>.<name>`. The type below lists the areas the compiler knows: add one
 * line per new area (`members: typeof members`).
 */
interface Areas {
  common: typeof common;
  signin: typeof signin;
  support: typeof support;
  dashboard: typeof dashboard;
  account: typeof account;
  desk: typeof desk;
  clients: typeof clients;
  members: typeof members;
}

export const LANGUAGES = ['en', 'nl'] as const;
export type Language = (typeof LANGUAGES)[number];
export const LANGUAGE_COOKIE = 'kl_lang';
export const isLanguage = (value: unknown): value is Language => typeof value === 'string' && (LANGUAGES as readonly string[]).includes(value);

export type MessageKey = { [A in keyof Areas]: `${A}.${keyof Areas[A] & string}` }[keyof Areas];
export type Area = keyof Areas;
export type Vars = Record<string, string | number>;
export type Catalogue = Record<Language, ReadonlyMap<string, string>>;

const LOCALES = fileURLToPath(new URL('./locales/', import.meta.url));
const placeholders = (text: string) => [...text.matchAll(/\{([a-zA-Z]+)\}/g)].map((m) => m[1]).sort().join(',');

/**
 * Reads every area of every language and refuses to start when an area's keys (or a message's
 * placeholders) differ between English and Dutch, or a message is empty.
 */
export function loadCatalogue(dir = LOCALES): Catalogue {
  const areasOf = (lang: Language) => readdirSync(join(dir, lang)).filter((f) => f.endsWith('.json')).sort();
  const [enAreas, nlAreas] = [areasOf('en'), areasOf('nl')];
  if (enAreas.join() !== nlAreas.join()) throw new Error(`message catalogue: areas differ between en (${enAreas.join(', ')}) and nl (${nlAreas.join(', ')})`);
  const maps = { en: new Map<string, string>(), nl: new Map<string, string>() };
  for (const file of enAreas) {
    const area = file.slice(0, -'.json'.length);
    const read = (lang: Language) => JSON.parse(readFileSync(join(dir, lang, file), 'utf8')) as Record<string, unknown>;
    const [en, nl] = [read('en'), read('nl')];
    const missing = [...Object.keys(en).filter((k) => !(k in nl)).map((k) => `nl lacks ${area}.${k}`), ...Object.keys(nl).filter((k) => !(k in en)).map((k) => `en lacks ${area}.${k}`)];
    if (missing.length > 0) throw new Error(`message catalogue: ${missing.join('; ')}`);
    for (const key of Object.keys(en)) {
      const [e, n] = [en[key], nl[key]];
      if (typeof e !== 'string' || typeof n !== 'string' || e === '' || n === '') throw new Error(`message catalogue: ${area}.${key} must be a non-empty string in en and nl`);
      if (placeholders(e) !== placeholders(n)) throw new Error(`message catalogue: ${area}.${key} has other placeholders in en and nl`);
      maps.en.set(`${area}.${key}`, e);
      maps.nl.set(`${area}.${key}`, n);
    }
  }
  return maps;
}

/*
 * Placeholders are filled by splitting the message, never with String.replace: a replacement
 * string would read `$&`, `$'` and `` $` `` in a partner's client name as patterns.
 */
function fill(message: string, vars: Vars, text: (part: string) => string, value: (value: string) => string): string {
  return message
    .split(/(\{[a-zA-Z]+\})/g)
    .map((part) => {
      const name = /^\{([a-zA-Z]+)\}$/.exec(part)?.[1];
      return name === undefined || !(name in vars) ? text(part) : value(String(vars[name]));
    })
    .join('');
}

export interface Translator {
  readonly lang: Language;
  /** Plain text with `{name}` filled in; the template escapes it (`<%= it.t('…') %>`). */
  (key: MessageKey, vars?: Vars): string;
  /** Markup: the message escaped, each value escaped and in `<strong>`; print raw (`<%~ it.t.strong('…', {…}) %>`). */
  strong(key: MessageKey, vars?: Vars): string;
  /** Every message of one area in this language (for a script's JSON configuration). */
  area(area: Area): Record<string, string>;
}

export function translator(catalogue: Catalogue, lang: Language): Translator {
  const messages = catalogue[lang];
  const message = (key: string) => {
    const found = messages.get(key);
    if (found === undefined) throw new Error(`no message ${key}`);
    return found;
  };
  const t = ((key: MessageKey, vars: Vars = {}) => fill(message(key), vars, (p) => p, (v) => v)) as Translator;
  Object.assign(t, {
    lang,
    strong: (key: MessageKey, vars: Vars = {}) => fill(message(key), vars, escapeText, (v) => `<strong>${escapeText(v)}</strong>`),
    area: (area: Area) => Object.fromEntries([...messages].filter(([k]) => k.startsWith(`${area}.`)).map(([k, v]) => [k.slice(area.length + 1), v])),
  });
  return t;
}

/**
 * The one language choice of every page: an explicit `?lang=` (or a form's `lang` field), then
 * the remembered choice (cookie), then Accept-Language by q-value, else English.
 */
export function chooseLanguage(explicit: unknown, remembered: unknown, acceptLanguage: string | undefined): Language {
  if (isLanguage(explicit)) return explicit;
  if (isLanguage(remembered)) return remembered;
  const ranked = (acceptLanguage ?? '')
    .split(',')
    .slice(0, 20)
    .map((part, index) => {
      const [tag = '', ...params] = part.trim().toLowerCase().split(';');
      const q = Number(params.find((p) => p.trim().startsWith('q='))?.trim().slice(2) ?? '1');
      return { primary: tag.split('-')[0] ?? '', q: Number.isFinite(q) ? q : 0, index };
    })
    .filter((entry) => entry.q > 0)
    .sort((a, b) => b.q - a.q || a.index - b.index);
  for (const entry of ranked) if (isLanguage(entry.primary)) return entry.primary;
  return 'en';
}
