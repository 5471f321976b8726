import type { Language } from '../web/i18n.ts';

/** The mails of end-user accounts, in English and Dutch. `{link}` is the single-use link. */
export type AccountMailKind = 'verify-email' | 'account-exists' | 'reset-password' | 'reset-no-account';

interface MailText {
  readonly subject: string;
  readonly body: string;
}

const en: Record<AccountMailKind, MailText> = {
  'verify-email': {
    subject: 'Confirm your email address for Keyledger',
    body: 'Hello {name},\n\nPlease confirm that this is your email address by opening this link within 24 hours:\n\n{link}\n\nIf you did not create a Keyledger account, you can ignore this mail.',
  },
  'account-exists': {
    subject: 'Someone tried to create a Keyledger account with your email address',
    body: 'Hello,\n\nSomeone (perhaps you) tried to create a Keyledger account with this email address, but you already have one. Log in with it, or choose a new password here:\n\n{link}\n\nIf it was not you, you can ignore this mail: nothing was changed.',
  },
  'reset-password': {
    subject: 'Choose a new Keyledger password',
    body: 'Hello {name},\n\nSomeone (perhaps you) asked to reset the password of your Keyledger account. Choose a new password within one hour with this link; it works once:\n\n{link}\n\nIf it was not you, you can ignore this mail: your password stays as it is.',
  },
  'reset-no-account': {
    subject: 'Keyledger password reset',
    body: 'Hello,\n\nSomeone (perhaps you) asked to reset the Keyledger password for this email address, but there is no account with it. You can create one here:\n\n{link}\n\nIf it was not you, you can ignore this mail.',
  },
};

const nl: Record<AccountMailKind, MailText> = {
  'verify-email': {
    subject: 'Bevestig je e-mailadres voor Keyledger',
    body: 'Hallo {name},\n\nBevestig dat dit jouw e-mailadres is door binnen 24 uur deze link te openen:\n\n{link}\n\nHeb je geen Keyledger-account aangemaakt? Dan kun je deze mail negeren.',
  },
  'account-exists': {
    subject: 'Iemand probeerde een Keyledger-account aan te maken met jouw e-mailadres',
    body: 'Hallo,\n\nIemand (misschien jij) probeerde een Keyledger-account aan te maken met dit e-mailadres, maar je hebt er al een. Log daarmee in, of kies hier een nieuw wachtwoord:\n\n{link}\n\nWas jij het niet? Dan kun je deze mail negeren: er is niets veranderd.',
  },
  'reset-password': {
    subject: 'Kies een nieuw Keyledger-wachtwoord',
    body: 'Hallo {name},\n\nIemand (misschien jij) vroeg om het wachtwoord van je Keyledger-account opnieuw in te stellen. Kies binnen een uur een nieuw wachtwoord met deze link; hij werkt één keer:\n\n{link}\n\nWas jij het niet? Dan kun je deze mail negeren: je wachtwoord blijft zoals het is.',
  },
  'reset-no-account': {
    subject: 'Keyledger-wachtwoord opnieuw instellen',
    body: 'Hallo,\n\nIemand (misschien jij) vroeg om het Keyledger-wachtwoord van dit e-mailadres opnieuw in te stellen, maar er is geen account met dit adres. Je kunt er hier een aanmaken:\n\n{link}\n\nWas jij het niet? Dan kun je deze mail negeren.',
  },
};

const TEXTS: Record<Language, Record<AccountMailKind, MailText>> = { en, nl };

/** Placeholders filled by splitting, never String.replace (a name may hold `$&`). */
const fill = (template: string, values: Record<string, string>) =>
  template
    .split(/(\{[a-z]+\})/g)
    .map((part) => {
      const key = /^\{([a-z]+)\}$/.exec(part)?.[1];
      return key !== undefined && key in values ? values[key]! : part;
    })
    .join('');

export function accountMail(kind: AccountMailKind, language: Language, values: { link: string; name?: string }) {
  const text = TEXTS[language][kind];
  return { subject: text.subject, text: fill(text.body, { link: values.link, name: values.name ?? '' }) };
}
