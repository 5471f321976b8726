import type { Language } from './groups.ts';

export const LANGUAGES: readonly Language[] = ['en', 'nl'];
export const LANGUAGE_COOKIE = 'kl_lang';

/** Every user-facing string of the support page and widget, in English and Dutch. */
export const STRINGS = {
  en: {
    title: 'Live support',
    loginRequired: 'You must be logged in to start a support ticket',
    login: 'Log in',
    loginTitle: 'Log in to Keyledger',
    email: 'Email',
    password: 'Password',
    loginFailed: 'The email or password is wrong.',
    tooManyAttempts: 'Too many attempts. Try again later.',
    welcome: 'Welcome back. Start a ticket or leave your question.',
    signedInAs: 'Logged in as',
    supportGroups: 'Support groups',
    newTicket: 'New ticket',
    subject: 'Subject',
    group: 'Support group',
    question: 'Your question',
    startTicket: 'Start ticket',
    yourTickets: 'Your tickets',
    noTickets: 'No tickets yet.',
    queue: 'Queue',
    assigned: 'Assigned to me',
    allTickets: 'All tickets',
    send: 'Send',
    typeMessage: 'Type a message',
    agentOnline: 'A support agent is online.',
    agentsOnline: '{n} support agents are online.',
    noAgents: 'No support agent is online right now. Leave your question: we will answer it later.',
    typing: '{who} is typing…',
    read: 'Read',
    sending: 'Sending…',
    retrying: 'Not sent yet, retrying…',
    you: 'You',
    agent: 'Support',
    customer: 'Customer',
    status: 'Status',
    status_open: 'Open',
    status_pending: 'Pending',
    status_resolved: 'Resolved',
    assignToMe: 'Assign to me',
    release: 'Back to the queue',
    back: 'All tickets',
    connecting: 'Connecting…',
    reconnecting: 'Connection lost, reconnecting…',
    rate: 'How helpful was this? (1–5)',
    thanks: 'Thank you for your rating.',
    language: 'Language',
    error_message_empty: 'Write a message first.',
    error_message_too_long: 'The message is longer than 4,000 characters.',
    error_rate_limited: 'You are sending messages too quickly. Wait a moment and try again.',
    error_ticket_not_found: 'This ticket does not exist.',
    error_unknown_group: 'Choose a support group.',
    error_invalid_payload: 'Check what you entered.',
    error_login_required: 'You must be logged in to start a support ticket',
    error_database_unavailable: 'Support is briefly unavailable. Your message was not sent; try again in a moment.',
    error_generic: 'Something went wrong. Try again.',
  },
  nl: {
    title: 'Live support',
    loginRequired: 'Je moet ingelogd zijn om een supportticket te starten',
    login: 'Inloggen',
    loginTitle: 'Inloggen bij Keyledger',
    email: 'E-mailadres',
    password: 'Wachtwoord',
    loginFailed: 'Het e-mailadres of wachtwoord klopt niet.',
    tooManyAttempts: 'Te veel pogingen. Probeer het later opnieuw.',
    welcome: 'Welkom terug. Start een ticket of laat je vraag achter.',
    signedInAs: 'Ingelogd als',
    supportGroups: 'Supportgroepen',
    newTicket: 'Nieuw ticket',
    subject: 'Onderwerp',
    group: 'Supportgroep',
    question: 'Je vraag',
    startTicket: 'Ticket starten',
    yourTickets: 'Je tickets',
    noTickets: 'Nog geen tickets.',
    queue: 'Wachtrij',
    assigned: 'Aan mij toegewezen',
    allTickets: 'Alle tickets',
    send: 'Versturen',
    typeMessage: 'Typ een bericht',
    agentOnline: 'Er is een supportmedewerker online.',
    agentsOnline: 'Er zijn {n} supportmedewerkers online.',
    noAgents: 'Er is nu geen supportmedewerker online. Laat je vraag achter: we beantwoorden hem later.',
    typing: '{who} typt…',
    read: 'Gelezen',
    sending: 'Versturen…',
    retrying: 'Nog niet verstuurd, opnieuw proberen…',
    you: 'Jij',
    agent: 'Support',
    customer: 'Klant',
    status: 'Status',
    status_open: 'Open',
    status_pending: 'In afwachting',
    status_resolved: 'Opgelost',
    assignToMe: 'Aan mij toewijzen',
    release: 'Terug naar de wachtrij',
    back: 'Alle tickets',
    connecting: 'Verbinden…',
    reconnecting: 'Verbinding verbroken, opnieuw verbinden…',
    rate: 'Hoe behulpzaam was dit? (1–5)',
    thanks: 'Bedankt voor je beoordeling.',
    language: 'Taal',
    error_message_empty: 'Schrijf eerst een bericht.',
    error_message_too_long: 'Het bericht is langer dan 4.000 tekens.',
    error_rate_limited: 'Je verstuurt te snel berichten. Wacht even en probeer het opnieuw.',
    error_ticket_not_found: 'Dit ticket bestaat niet.',
    error_unknown_group: 'Kies een supportgroep.',
    error_invalid_payload: 'Controleer wat je hebt ingevuld.',
    error_login_required: 'Je moet ingelogd zijn om een supportticket te starten',
    error_database_unavailable: 'Support is even niet bereikbaar. Je bericht is niet verstuurd; probeer het zo opnieuw.',
    error_generic: 'Er ging iets mis. Probeer het opnieuw.',
  },
} as const satisfies Record<Language, Record<string, string>>;

export type StringKey = keyof (typeof STRINGS)['en'];

const isLanguage = (value: unknown): value is Language => value === 'en' || value === 'nl';

/**
 * The page language: an explicit `?lang=` first, then the remembered choice (cookie), then
 * the browser's Accept-Language (by q-value), else English.
 */
export function chooseLanguage(query: unknown, cookie: unknown, acceptLanguage: string | undefined): Language {
  if (isLanguage(query)) return query;
  if (isLanguage(cookie)) return cookie;
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
