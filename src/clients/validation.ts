import { domainToUnicode } from 'node:url';
import ipaddr from 'ipaddr.js';
import unhomoglyph from 'unhomoglyph';
import { z } from 'zod';
import { SCOPES } from './events.ts';
import { canonicalHost } from './domain-name.ts';

/**
 * Validators and normalisers for everything a partner types about a client. The HTTP layer parses
 * with these; `decide` then receives normalised values and only enforces state rules.
 */

// ---------------------------------------------------------------------------------------------
// Character checks
// ---------------------------------------------------------------------------------------------

/** Control, format (zero-width, bidi overrides), lone surrogates, line/paragraph separators. */
const FORBIDDEN_CHARACTER = /[\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}]/u;

export function forbiddenCharacter(value: string): string | undefined {
  const match = FORBIDDEN_CHARACTER.exec(value);
  if (!match) return undefined;
  return `U+${match[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
}

/*
 * Script detection for the mixed-script rule. Scripts are tried most-common first; a name the
 * running engine's Unicode tables do not know is skipped rather than breaking module load.
 */
const SCRIPT_NAMES = `Latin Cyrillic Greek Han Hiragana Katakana Hangul Bopomofo Arabic Hebrew Armenian Georgian
Devanagari Bengali Gurmukhi Gujarati Oriya Tamil Telugu Kannada Malayalam Sinhala Thai Lao Tibetan Myanmar Khmer
Ethiopic Cherokee Mongolian Thaana Syriac Nko Coptic Glagolitic Runic Ogham Yi Tifinagh Canadian_Aboriginal Adlam Ahom
Anatolian_Hieroglyphs Avestan Balinese Bamum Bassa_Vah Batak Bhaiksuki Brahmi Braille Buginese Buhid Carian
Caucasian_Albanian Chakma Cham Chorasmian Cuneiform Cypriot Cypro_Minoan Deseret Dives_Akuru Dogra Duployan
Egyptian_Hieroglyphs Elbasan Elymaic Grantha Gothic Gunjala_Gondi Hanifi_Rohingya Hanunoo Hatran Imperial_Aramaic
Inscriptional_Pahlavi Inscriptional_Parthian Javanese Kaithi Kawi Kayah_Li Kharoshthi Khitan_Small_Script Khojki
Khudawadi Lepcha Limbu Linear_A Linear_B Lisu Lycian Lydian Mahajani Makasar Mandaic Manichaean Marchen
Masaram_Gondi Medefaidrin Meetei_Mayek Mende_Kikakui Meroitic_Cursive Meroitic_Hieroglyphs Miao Modi Mro Multani
Nabataean Nag_Mundari Nandinagari New_Tai_Lue Newa Nushu Nyiakeng_Puachue_Hmong Ol_Chiki Old_Hungarian Old_Italic
Old_North_Arabian Old_Permic Old_Persian Old_Sogdian Old_South_Arabian Old_Turkic Old_Uyghur Osage Osmanya
Pahawh_Hmong Palmyrene Pau_Cin_Hau Phags_Pa Phoenician Psalter_Pahlavi Rejang Samaritan Saurashtra Sharada Shavian
Siddham SignWriting Sogdian Sora_Sompeng Soyombo Sundanese Syloti_Nagri Tagalog Tagbanwa Tai_Le Tai_Tham Tai_Viet
Takri Tangsa Tangut Tirhuta Toto Ugaritic Vai Vithkuqi Wancho Warang_Citi Yezidi Zanabazar_Square Garay Gurung_Khema
Kirat_Rai Ol_Onal Sunuwar Todhri Tulu_Tigalari Beria_Erfe Sidetic Tai_Yo Tolong_Siki`.split(/\s+/);

const SCRIPTS: ReadonlyArray<readonly [string, RegExp]> = SCRIPT_NAMES.flatMap((name) => {
  try {
    return [[name, new RegExp(`^\\p{Script=${name}}$`, 'u')] as const];
  } catch {
    return [];
  }
});

const SCRIPT_NEUTRAL = /^[\p{Script=Common}\p{Script=Inherited}\p{Script=Unknown}]$/u;

function scriptOf(character: string): string | undefined {
  if (/^[A-Za-z]$/.test(character)) return 'Latin';
  if (character.charCodeAt(0) < 0x80 || SCRIPT_NEUTRAL.test(character)) return undefined;
  return SCRIPTS.find(([, pattern]) => pattern.test(character))?.[0] ?? 'Other';
}

/** Script combinations allowed in one word (UTS #39 "highly restrictive"): Japanese, Chinese, Korean with Latin. */
const ALLOWED_COMBINATIONS: ReadonlyArray<ReadonlySet<string>> = [
  new Set(['Latin', 'Han', 'Hiragana', 'Katakana']),
  new Set(['Latin', 'Han', 'Bopomofo']),
  new Set(['Latin', 'Han', 'Hangul']),
];

/** The scripts of a word, when they are a look-alike-prone mix (e.g. Latin with Cyrillic); otherwise undefined. */
export function mixedScripts(word: string): string[] | undefined {
  const scripts = new Set<string>();
  for (const character of word) {
    const script = scriptOf(character);
    if (script) scripts.add(script);
  }
  if (scripts.size <= 1) return undefined;
  if (ALLOWED_COMBINATIONS.some((allowed) => [...scripts].every((script) => allowed.has(script)))) return undefined;
  return [...scripts];
}

/** The first word (run of letters, marks and digits) mixing scripts, with its scripts. */
function firstMixedScriptWord(text: string, separator: RegExp): { word: string; scripts: string[] } | undefined {
  for (const word of text.split(separator)) {
    const scripts = mixedScripts(word);
    if (scripts) return { word, scripts };
  }
  return undefined;
}

const WORD_SEPARATOR = /[^\p{L}\p{M}\p{N}]+/u;

/**
 * The UTS #39 skeleton (§4): NFD, without default-ignorable characters, each character replaced
 * by its prototype from Unicode's confusables data (the `unhomoglyph` package), NFD again. Two
 * strings that look alike have one skeleton. For comparison only: a skeleton is not for display.
 */
export function skeleton(text: string): string {
  return unhomoglyph(text.normalize('NFD').replace(DEFAULT_IGNORABLE, '')).normalize('NFD');
}

const DEFAULT_IGNORABLE = /\p{Default_Ignorable_Code_Point}/gu;
/** A character with the combining marks that follow it (in NFD). */
const CLUSTER = /\P{M}\p{M}*/gu;
/** Once composed: an ASCII letter or digit, or one with accents that compose into one character (É, ë). */
const PLAIN_LATIN = /^[A-Za-z0-9]\p{M}*$/u;

/** Whether a skeleton reads as plain Latin: ASCII letters and digits, accented as Latin letters are. */
function readsAsPlainLatin(skeletonText: string): boolean {
  return [...skeletonText.normalize('NFC')].every((character) => PLAIN_LATIN.test(character.normalize('NFD')));
}

/**
 * Whole-script confusables with Latin (UTS #39 §4), and their cross-word form: text with letters
 * or digits of a script other than Latin, every one of which looks like a Latin letter or digit,
 * so that the whole reads as a Latin string it is not — `аррӏе` (all Cyrillic) reads as `appie`,
 * `Ассо Shop` as `Acco Shop`, `ΤΑΧΙ` (Greek) as `TAXI`. Returns the non-Latin scripts, or undefined.
 *
 * "Looks like Latin" means a skeleton of plain ASCII letters or digits, accented as Latin letters
 * are (`Ё` reads as `Ë`). Latin also holds phonetic letters and small capitals (`ʙ`, `ĸ`, `ᴛ`),
 * and marks that compose with nothing (θ is an O with a stroke overlay), which are the skeletons
 * of ordinary Cyrillic and Greek letters; counting those would refuse `Москва` or `Αθήνα`, which
 * no reader takes for Latin. One letter unlike any Latin one (`Пример`: П) makes the text pass.
 */
export function latinLookalike(text: string): string[] | undefined {
  const scripts = new Set<string>();
  for (const cluster of text.normalize('NFD').match(CLUSTER) ?? []) {
    const script = scriptOf(String.fromCodePoint(cluster.codePointAt(0)!));
    if (script === undefined || script === 'Latin') continue;
    if (!readsAsPlainLatin(skeleton(cluster))) return undefined;
    scripts.add(script);
  }
  return scripts.size > 0 ? [...scripts] : undefined;
}

const lookalikeMessage = (scripts: readonly string[]) =>
  `must not be made of ${scripts.join(' and ')} look-alikes of Latin letters (it reads as Latin text that it is not)`;

// ---------------------------------------------------------------------------------------------
// Names and labels
// ---------------------------------------------------------------------------------------------

const MAX_NAME_LENGTH = 100;

/**
 * Trimmed, NFC-normalised, 1–100 characters (code points). No control or format characters, and
 * no word mixing look-alike scripts.
 */
export function normaliseDisplayText(raw: string, what: string): { ok: true; value: string } | { ok: false; message: string } {
  const value = raw.trim().normalize('NFC');
  const fail = (message: string) => ({ ok: false as const, message: `${what} ${message}` });
  const bad = forbiddenCharacter(value);
  if (bad) return fail(`must not contain control or invisible formatting characters (found ${bad})`);
  const length = [...value].length;
  if (length === 0) return fail('must not be empty');
  if (length > MAX_NAME_LENGTH) return fail(`must be at most ${MAX_NAME_LENGTH} characters (got ${length})`);
  const mixed = firstMixedScriptWord(value, WORD_SEPARATOR);
  if (mixed) return fail(`must not mix look-alike scripts in one word ("${mixed.word}" mixes ${mixed.scripts.join(' and ')})`);
  const lookalike = latinLookalike(value);
  if (lookalike) return fail(lookalikeMessage(lookalike));
  return { ok: true, value };
}

function displayText(what: string) {
  return z.string({ error: `${what} must be a string` }).transform((raw, ctx) => {
    const result = normaliseDisplayText(raw, what);
    if (result.ok) return result.value;
    ctx.addIssue({ code: 'custom', message: result.message });
    return z.NEVER;
  });
}

export const nameSchema = displayText('name');
export const labelSchema = displayText('label');

/** Like a name, but optional: `null`, or a blank string, clears it. */
export const internalNameSchema = z
  .string({ error: 'internal name must be a string or null' })
  .nullable()
  .transform((raw, ctx) => {
    if (raw === null || raw.trim() === '') return null;
    const result = normaliseDisplayText(raw, 'internal name');
    if (result.ok) return result.value;
    ctx.addIssue({ code: 'custom', message: result.message });
    return z.NEVER;
  });

// ---------------------------------------------------------------------------------------------
// URLs
// ---------------------------------------------------------------------------------------------

export const MAX_URI_LENGTH = 2048;

/**
 * An absolute http(s) URL, returned exactly as given (never the parser's normalised href), so that
 * what is matched later is what the partner typed. The raw text must itself start with
 * `http://` or `https://` and contain no backslash: the WHATWG parser would silently repair those.
 */
function httpUrl(what: string, options: { allowFragment: boolean }) {
  return z.string({ error: `${what} must be a string` }).superRefine((value, ctx) => {
    const fail = (message: string) => ctx.addIssue({ code: 'custom', message: `${what} ${message}` });
    if (value.length === 0) return fail('must not be empty');
    if (value.length > MAX_URI_LENGTH) return fail(`must be at most ${MAX_URI_LENGTH} characters (got ${value.length})`);
    if (/\s/u.test(value) || forbiddenCharacter(value)) return fail('must not contain spaces or control characters');
    if (!options.allowFragment && value.includes('#')) return fail('must not contain a fragment (#…)');
    if (value.includes('\\')) return fail('must not contain a backslash');
    if (!/^https?:\/\/[^/]/i.test(value)) return fail('must be an absolute URL starting with http:// or https://');
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      return fail('is not a valid URL');
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return fail('must use http or https');
    if (url.hostname === '') return fail('must have a host');
    if (url.username !== '' || url.password !== '') return fail('must not contain user info (user:password@)');
  });
}

export const redirectUriSchema = httpUrl('redirect URI', { allowFragment: false });
export const fallbackUriSchema = httpUrl('fallback URI', { allowFragment: true }).nullable();
export const logoSchema = httpUrl('logo URL', { allowFragment: true }).nullable();

// ---------------------------------------------------------------------------------------------
// Domains
// ---------------------------------------------------------------------------------------------

const MAX_DOMAIN_LENGTH = 253;
const LDH_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

function looksLikeIp(value: string): boolean {
  const bare = value.replace(/^\[|\](?::\d+)?$/g, '');
  return ipaddr.IPv4.isValidFourPartDecimal(value) || ipaddr.IPv6.isValid(bare) || /^\d+(\.\d+){3}(:\d+)?$/.test(value);
}

/** Why `raw` is not a bare host name, or the lower-case ASCII (punycode) host name. */
export function normaliseDomain(raw: string): { ok: true; domain: string } | { ok: false; message: string } {
  const fail = (message: string) => ({ ok: false as const, message });
  const value = raw.trim();
  if (value === '') return fail('must not be empty');
  if (forbiddenCharacter(value)) return fail('must not contain control or invisible formatting characters');
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) return fail('must be a host name only, without a protocol such as https://');
  if (looksLikeIp(value)) return fail('must be a host name, not an IP address (server IP addresses go in serverIps)');
  if (/\s/u.test(value)) return fail('must not contain spaces');
  if (value.includes('@')) return fail('must be a host name only, without user info (user@)');
  if (value.includes('/')) return fail('must be a host name only, without a path');
  if (value.includes('?')) return fail('must be a host name only, without a query');
  if (value.includes('#')) return fail('must be a host name only, without a fragment');
  if (value.includes(':')) return fail('must be a host name only, without a port');
  if (value.endsWith('.')) return fail('must not end with a dot');
  if (value.split('.').includes('')) return fail('must not contain empty labels (..)');
  // The URL standard reads a numeric last label as an IPv4 address; no real TLD is numeric.
  if (/^(?:\d+|0x[0-9a-f]*)$/i.test(value.split('.').at(-1)!)) return fail('must not end with an all-numeric label');
  const mixed = firstMixedScriptWord(value, /\./);
  if (mixed) return fail(`must not mix look-alike scripts in one label ("${mixed.word}" mixes ${mixed.scripts.join(' and ')})`);

  // The same normalisation the aggregate and the access pipeline compare domains by.
  const ascii = canonicalHost(value);
  if (ascii === undefined) return fail('is not a valid host name');
  // Punycode typed as such (xn--…) gets the same look-alike checks as the Unicode form.
  const unicode = domainToUnicode(ascii);
  const decoded = firstMixedScriptWord(unicode, /\./);
  if (decoded) return fail(`must not mix look-alike scripts in one label ("${decoded.word}" mixes ${decoded.scripts.join(' and ')})`);
  const lookalike = latinLookalike(unicode);
  if (lookalike) return fail(`${lookalikeMessage(lookalike)}: "${unicode}"`);
  if (ascii.length > MAX_DOMAIN_LENGTH) return fail(`must be at most ${MAX_DOMAIN_LENGTH} characters long`);
  const labels = ascii.split('.');
  for (const label of labels) {
    if (label === '') return fail('must not contain empty labels (..)');
    if (label.length > 63) return fail(`has a label longer than 63 characters ("${label.slice(0, 20)}…")`);
    if (!LDH_LABEL.test(label))
      return fail(`has an invalid label "${label}": use letters, digits and hyphens, not starting or ending with a hyphen`);
  }
  // `localhost` is the one single-label name accepted: test-mode domains use it.
  if (labels.length === 1 && ascii !== 'localhost') return fail('must contain at least one dot (e.g. example.com)');
  return { ok: true, domain: ascii };
}

export const domainSchema = z.string({ error: 'domain must be a string' }).transform((raw, ctx) => {
  const result = normaliseDomain(raw);
  if (result.ok) return result.domain;
  ctx.addIssue({ code: 'custom', message: `domain ${result.message}` });
  return z.NEVER;
});

// ---------------------------------------------------------------------------------------------
// Server IPs
// ---------------------------------------------------------------------------------------------

type Address = ipaddr.IPv4 | ipaddr.IPv6;

function parseAddress(text: string): Address | undefined {
  if (ipaddr.IPv4.isValidFourPartDecimal(text)) return ipaddr.IPv4.parse(text);
  if (!text.includes('%') && ipaddr.IPv6.isValid(text)) return ipaddr.IPv6.parse(text);
  return undefined;
}

function canonical(address: Address): string {
  return address.kind() === 'ipv4' ? address.toString() : (address as ipaddr.IPv6).toRFC5952String();
}

/**
 * Canonical IP or CIDR: IPv4-mapped IPv6 becomes IPv4, IPv6 is RFC 5952 text, a /32 (IPv4) or
 * /128 (IPv6) range is written as the plain address. A range whose host bits are set is refused
 * (naming the network address) rather than silently widened: "10.1.2.3/8" is more likely a typo.
 */
export function normaliseServerIp(raw: string): { ok: true; ip: string } | { ok: false; message: string } {
  const value = raw.trim();
  const [addressText, prefixText, ...extra] = value.split('/');
  const address = parseAddress(addressText ?? '');
  if (!address || extra.length > 0) return { ok: false, message: `"${value}" is not an IPv4 or IPv6 address or CIDR range` };
  let ip: Address = address;
  let prefix = ip.kind() === 'ipv4' ? 32 : 128;
  if (prefixText !== undefined) {
    if (!/^\d{1,3}$/.test(prefixText) || Number(prefixText) > prefix)
      return { ok: false, message: `"${value}" has an invalid prefix length (0–${prefix})` };
    prefix = Number(prefixText);
  }
  if (ip.kind() === 'ipv6' && (ip as ipaddr.IPv6).isIPv4MappedAddress() && prefix >= 96) {
    ip = (ip as ipaddr.IPv6).toIPv4Address();
    prefix -= 96;
  }
  const full = ip.kind() === 'ipv4' ? 32 : 128;
  if (prefix === full) return { ok: true, ip: canonical(ip) };
  const network = ip.kind() === 'ipv4' ? ipaddr.IPv4.networkAddressFromCIDR(`${ip.toString()}/${prefix}`) : ipaddr.IPv6.networkAddressFromCIDR(`${ip.toString()}/${prefix}`);
  if (canonical(network) !== canonical(ip))
    return { ok: false, message: `"${value}" has host bits set; use the network address ${canonical(network)}/${prefix}` };
  return { ok: true, ip: `${canonical(ip)}/${prefix}` };
}

export const serverIpSchema = z.string({ error: 'server IP must be a string' }).transform((raw, ctx) => {
  const result = normaliseServerIp(raw);
  if (result.ok) return result.ip;
  ctx.addIssue({ code: 'custom', message: result.message });
  return z.NEVER;
});

export const MAX_SERVER_IPS = 100;

/** A list of server IPs, normalised and de-duplicated (first occurrence kept); empty = any. */
export const serverIpsSchema = z
  .array(serverIpSchema, { error: 'serverIps must be an array of IP addresses or CIDR ranges' })
  .max(MAX_SERVER_IPS, { error: `serverIps may hold at most ${MAX_SERVER_IPS} entries` })
  .transform((ips) => [...new Set(ips)]);

// ---------------------------------------------------------------------------------------------
// Scopes
// ---------------------------------------------------------------------------------------------

export const scopesSchema = z
  .array(z.enum(SCOPES, { error: `scope must be one of: ${SCOPES.join(', ')}` }), { error: 'scopes must be an array' })
  .refine((scopes) => new Set(scopes).size === scopes.length, { error: 'scopes must not contain duplicates' });
