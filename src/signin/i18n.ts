/** Every string of the hosted sign-in pages, in English and Dutch. */
export const LANGUAGES = ['en', 'nl'] as const;
export type Language = (typeof LANGUAGES)[number];

const en = {
  pageTitle: 'Sign in',
  languageName: 'English',
  heading: 'Sign in to {client}',
  intro: '{client} wants to sign you in with your Keyledger account.',
  shares: 'If you allow it, {client} receives:',
  basic: 'your name and email address',
  'scope.userinfo': 'your profile: given and family name, picture, date of birth and country',
  'scope.useraddresses': 'your saved addresses, which it may also add to, change and delete',
  testMode: 'Test mode',
  email: 'Email address',
  password: 'Password',
  logIn: 'Log in and continue',
  loginFirst: 'Log in to continue.',
  signedInAs: 'Signed in as {name} ({email}).',
  notYou: 'Not you? Use another account',
  approve: 'Allow',
  deny: 'Deny',
  invalidCredentials: 'The email address or password is wrong.',
  tooManyAttempts: 'Too many failed attempts. Try again in {seconds} seconds.',
  formExpired: 'This form expired. Please try again.',
  testOnlyTitle: '{client} is in test mode',
  testOnlyBody: 'Only the testers its developers invited can sign in to {client} for now, and {email} is not one of them.',
  backToApp: 'Back to {client}',
  unknownTitle: 'This sign-in link is not valid',
  expiredTitle: 'This sign-in link has expired or was already used',
  unavailableTitle: 'This app cannot sign you in right now',
  startAgain: 'Go back to the app and start signing in again.',
  errorTitle: 'Something went wrong',
  errorBody: 'Please try again. If it keeps happening, quote this reference: {reference}',
  badRequestTitle: 'This request could not be read',
} as const;

export type MessageKey = keyof typeof en;

const nl: Record<MessageKey, string> = {
  pageTitle: 'Inloggen',
  languageName: 'Nederlands',
  heading: 'Inloggen bij {client}',
  intro: '{client} wil je laten inloggen met je Keyledger-account.',
  shares: 'Als je toestemming geeft, ontvangt {client}:',
  basic: 'je naam en e-mailadres',
  'scope.userinfo': 'je profiel: voor- en achternaam, foto, geboortedatum en land',
  'scope.useraddresses': 'je opgeslagen adressen, die de app ook mag aanvullen, wijzigen en verwijderen',
  testMode: 'Testmodus',
  email: 'E-mailadres',
  password: 'Wachtwoord',
  logIn: 'Inloggen en doorgaan',
  loginFirst: 'Log in om door te gaan.',
  signedInAs: 'Ingelogd als {name} ({email}).',
  notYou: 'Niet jij? Gebruik een ander account',
  approve: 'Toestaan',
  deny: 'Weigeren',
  invalidCredentials: 'Het e-mailadres of wachtwoord is onjuist.',
  tooManyAttempts: 'Te veel mislukte pogingen. Probeer het over {seconds} seconden opnieuw.',
  formExpired: 'Dit formulier is verlopen. Probeer het opnieuw.',
  testOnlyTitle: '{client} staat in testmodus',
  testOnlyBody: 'Voorlopig kunnen alleen testers die de ontwikkelaars hebben uitgenodigd inloggen bij {client}, en {email} hoort daar niet bij.',
  backToApp: 'Terug naar {client}',
  unknownTitle: 'Deze inloglink is ongeldig',
  expiredTitle: 'Deze inloglink is verlopen of al gebruikt',
  unavailableTitle: 'Deze app kan je nu niet laten inloggen',
  startAgain: 'Ga terug naar de app en begin opnieuw met inloggen.',
  errorTitle: 'Er ging iets mis',
  errorBody: 'Probeer het opnieuw. Blijft het gebeuren, noem dan deze referentie: {reference}',
  badRequestTitle: 'Dit verzoek kon niet worden gelezen',
};

export const MESSAGES: Record<Language, Record<MessageKey, string>> = { en, nl };

export const isLanguage = (value: unknown): value is Language => typeof value === 'string' && (LANGUAGES as readonly string[]).includes(value);

/** `?lang=` (or the form's `lang`) first, then Accept-Language, then English. */
export function chooseLanguage(explicit: unknown, accepts: (languages: string[]) => string | false): Language {
  if (isLanguage(explicit)) return explicit;
  const negotiated = accepts([...LANGUAGES]);
  return isLanguage(negotiated) ? negotiated : 'en';
}

export const scopeKey = (scope: string): MessageKey | undefined =>
  `scope.${scope}` in en ? (`scope.${scope}` as MessageKey) : undefined;
