import zxcvbnCore from '@zxcvbn-ts/core';
import zxcvbnCommon from '@zxcvbn-ts/language-common';
import zxcvbnEnglish from '@zxcvbn-ts/language-en';

export const PASSWORD_MIN_LENGTH = 10;
export const PASSWORD_MAX_LENGTH = 256;

/** Why a password is refused: a closed set, each with an English and a Dutch sentence. */
export type WeakPasswordReason = 'too_short' | 'too_long' | 'common' | 'guessable' | 'personal';

export const WEAK_PASSWORD_MESSAGES: Record<'en' | 'nl', Record<WeakPasswordReason, string>> = {
  en: {
    too_short: `Use at least ${PASSWORD_MIN_LENGTH} characters.`,
    too_long: `Use at most ${PASSWORD_MAX_LENGTH} characters.`,
    common: 'This password is on lists of common and leaked passwords. Choose another one.',
    guessable: 'This password is too easy to guess. Add a few uncommon words.',
    personal: 'This password contains your name or email address. Choose another one.',
  },
  nl: {
    too_short: `Gebruik minstens ${PASSWORD_MIN_LENGTH} tekens.`,
    too_long: `Gebruik hoogstens ${PASSWORD_MAX_LENGTH} tekens.`,
    common: 'Dit wachtwoord staat op lijsten van veelgebruikte en gelekte wachtwoorden. Kies een ander.',
    guessable: 'Dit wachtwoord is te makkelijk te raden. Voeg een paar ongewone woorden toe.',
    personal: 'Dit wachtwoord bevat je naam of e-mailadres. Kies een ander.',
  },
};

// zxcvbn-ts with its bundled lists (the common-password list of leaked passwords, English words,
// names and keyboard patterns): no network, the same answer on every node.
const strength = new zxcvbnCore.ZxcvbnFactory({
  dictionary: { ...zxcvbnCommon.dictionary, ...zxcvbnEnglish.dictionary },
  graphs: zxcvbnCommon.adjacencyGraphs,
  translations: zxcvbnEnglish.translations,
});

/** Score 3 of 4 ("safely unguessable": about 10^8 guesses or more) is required. */
const MIN_SCORE = 3;

/** Why `password` is refused for this user, or undefined when it is strong enough. */
export function weakPasswordReason(password: string, personal: readonly string[] = []): WeakPasswordReason | undefined {
  if ([...password].length < PASSWORD_MIN_LENGTH) return 'too_short';
  if (password.length > PASSWORD_MAX_LENGTH) return 'too_long';
  const inputs = personal.flatMap((value) => [value, ...value.split(/[@\s.]+/)]).filter((v) => v.length >= 3);
  const result = strength.check(password, inputs);
  if (result.score >= MIN_SCORE) return undefined;
  const patterns = result.sequence.map((m) => m as { pattern: string; dictionaryName?: string });
  if (patterns.some((m) => m.pattern === 'dictionary' && m.dictionaryName === 'userInputs')) return 'personal';
  if (patterns.some((m) => m.pattern === 'dictionary' && m.dictionaryName === 'passwords-common')) return 'common';
  return 'guessable';
}
