import unhomoglyph from 'unhomoglyph';

/**
 * Unicode security checks for text partners type (UTS #39): invisible characters, words mixing
 * scripts, and whole-script look-alikes of Latin. validation.ts turns them into messages.
 */

// ---------------------------------------------------------------------------------------------
// Control and formatting characters
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
export function firstMixedScriptWord(text: string, separator: RegExp): { word: string; scripts: string[] } | undefined {
  for (const word of text.split(separator)) {
    const scripts = mixedScripts(word);
    if (scripts) return { word, scripts };
  }
  return undefined;
}

export const WORD_SEPARATOR = /[^\p{L}\p{M}\p{N}]+/u;

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

export const lookalikeMessage = (scripts: readonly string[]) =>
  `must not be made of ${scripts.join(' and ')} look-alikes of Latin letters (it reads as Latin text that it is not)`;
