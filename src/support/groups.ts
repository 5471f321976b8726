/** The support groups (DESIGN §9). Ids are fixed: they are stored in events. */
export const SUPPORT_GROUP_IDS = ['oauth-api', 'account', 'billing'] as const;
export type SupportGroupId = (typeof SUPPORT_GROUP_IDS)[number];

export type Language = 'en' | 'nl';

export interface SupportGroup {
  readonly id: SupportGroupId;
  readonly name: Readonly<Record<Language, string>>;
}

export const SUPPORT_GROUPS: readonly SupportGroup[] = [
  {
    id: 'oauth-api',
    name: {
      en: 'OAuth, tokens, scopes, API access and client settings',
      nl: 'OAuth, tokens, scopes, API-toegang en clientinstellingen',
    },
  },
  { id: 'account', name: { en: 'Account and login', nl: 'Account en inloggen' } },
  { id: 'billing', name: { en: 'Plans and billing', nl: 'Abonnementen en facturatie' } },
];

export const isSupportGroup = (value: string): value is SupportGroupId => (SUPPORT_GROUP_IDS as readonly string[]).includes(value);
