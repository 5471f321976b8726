import type { Role } from './events.ts';

export const MAIL_LANGUAGES = ['en', 'nl'] as const;
export type MailLanguage = (typeof MAIL_LANGUAGES)[number];

const ROLE_NAMES: Record<MailLanguage, Record<Role, string>> = {
  en: { owner: 'owner', admin: 'admin', developer: 'developer', viewer: 'viewer' },
  nl: { owner: 'eigenaar', admin: 'beheerder', developer: 'ontwikkelaar', viewer: 'kijker' },
};

export interface InvitationMailInput {
  readonly organisation: string;
  readonly inviter: string;
  readonly role: Role;
  readonly url: string;
  /** ISO-8601 */
  readonly expiresAt: string;
}

/** The invitation mail, in the inviter's language (the invitee has no account yet to ask). */
export function invitationMail(language: MailLanguage, input: InvitationMailInput): { subject: string; text: string } {
  const role = ROLE_NAMES[language][input.role];
  const day = input.expiresAt.slice(0, 10);
  if (language === 'nl') {
    return {
      subject: `${input.inviter} nodigt je uit voor ${input.organisation} op Keyledger`,
      text: [
        `${input.inviter} nodigt je uit om als ${role} lid te worden van de organisatie ${input.organisation} op Keyledger.`,
        '',
        `Open deze link, log in of maak een account aan met dit e-mailadres, en je bent lid:`,
        input.url,
        '',
        `De link werkt één keer en verloopt op ${day}. Verwachtte je deze uitnodiging niet? Dan kun je deze e-mail negeren.`,
      ].join('\n'),
    };
  }
  return {
    subject: `${input.inviter} invited you to ${input.organisation} on Keyledger`,
    text: [
      `${input.inviter} invited you to join the organisation ${input.organisation} on Keyledger as ${role === 'admin' ? 'an' : 'a'} ${role}.`,
      '',
      'Open this link, log in or register with this email address, and you are in:',
      input.url,
      '',
      `The link works once and expires on ${day}. If you did not expect this invitation, you can ignore this email.`,
    ].join('\n'),
  };
}
