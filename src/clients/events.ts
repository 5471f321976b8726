/**
 * Events of the client aggregate (stream `client-<clientId>`). Names are fixed by DESIGN §4.
 * No event ever carries secret material: secrets appear only as their SHA-256 and a display hint.
 */

export const SCOPES = ['userinfo', 'useraddresses'] as const;
export type Scope = (typeof SCOPES)[number];

export interface DomainSettings {
  /** root host name, lower-case, punycode for internationalised names */
  readonly domain: string;
  /** canonical IPv4/IPv6 addresses and CIDR ranges; empty = any */
  readonly serverIps: readonly string[];
  readonly internalName: string | null;
  readonly logo: string | null;
  readonly fallbackUri: string | null;
  readonly allowLogin: boolean;
  readonly allowApi: boolean;
  readonly active: boolean;
  readonly primary: boolean;
  readonly testMode: boolean;
}

/** Categories of the public directory (`GET /api/global/projects`): a closed catalogue, ids stable. */
export const PROJECT_CATEGORIES = [
  { id: 1, key: 'automation', en: 'Automation', nl: 'Automatisering' },
  { id: 2, key: 'commerce', en: 'Commerce', nl: 'Handel' },
  { id: 3, key: 'communication', en: 'Communication', nl: 'Communicatie' },
  { id: 4, key: 'developer-tools', en: 'Developer tools', nl: 'Ontwikkelaarstools' },
  { id: 5, key: 'education', en: 'Education', nl: 'Onderwijs' },
  { id: 6, key: 'entertainment', en: 'Entertainment', nl: 'Entertainment' },
  { id: 7, key: 'finance', en: 'Finance', nl: 'Financiën' },
  { id: 8, key: 'games', en: 'Games', nl: 'Games' },
  { id: 9, key: 'health', en: 'Health', nl: 'Gezondheid' },
  { id: 10, key: 'productivity', en: 'Productivity', nl: 'Productiviteit' },
  { id: 11, key: 'security', en: 'Security', nl: 'Beveiliging' },
  { id: 12, key: 'social', en: 'Social', nl: 'Sociaal' },
] as const;
export type ProjectCategory = (typeof PROJECT_CATEGORIES)[number]['key'];

/** How a client appears in the public directory; the link is always its primary domain. */
export interface ClientListing {
  readonly title: string;
  readonly description: string;
  readonly categories: readonly ProjectCategory[];
  /** an https image URL; null: the primary domain's logo */
  readonly image: string | null;
  /** XWMS's flag: the directory opens the link at once instead of a detail page */
  readonly directRedirect: boolean;
}

export type ClientEvent =
  | { type: 'ClientRegistered'; data: { clientId: string; organisationId: string; name: string } }
  | { type: 'ClientRenamed'; data: { name: string; previousName: string } }
  | {
      type: 'ClientSecretIssued';
      data: { secretId: string; label: string; hint: string; secretHash: string; expiresAt: string | null };
    }
  | {
      type: 'ClientSecretRotated';
      data: {
        /** the secret being replaced */
        secretId: string;
        newSecretId: string;
        label: string;
        hint: string;
        secretHash: string;
        graceSeconds: number;
        /** until when the old secret is still accepted; null = rejected at once */
        graceUntil: string | null;
        /** domain links the new secret inherits */
        domainIds: string[];
      };
    }
  | { type: 'ClientSecretRevoked'; data: { secretId: string } }
  | { type: 'SecretLinkedToDomain'; data: { secretId: string; domainId: string } }
  | { type: 'SecretUnlinkedFromDomain'; data: { secretId: string; domainId: string } }
  | { type: 'RedirectUriAdded'; data: { uri: string } }
  | { type: 'RedirectUriRemoved'; data: { uri: string } }
  | { type: 'DomainAdded'; data: { domainId: string } & DomainSettings }
  | { type: 'DomainUpdated'; data: { domainId: string; changes: Partial<DomainSettings> } }
  | { type: 'DomainRemoved'; data: { domainId: string; domain: string } }
  | { type: 'ClientScopesChanged'; data: { scopes: Scope[]; previous: Scope[] } }
  | { type: 'TestUserAdded'; data: { sub: number } }
  | { type: 'TestUserRemoved'; data: { sub: number } }
  | { type: 'ClientDisabled'; data: Record<string, never> }
  | { type: 'ClientEnabled'; data: Record<string, never> }
  | { type: 'ClientDeleted'; data: Record<string, never> }
  /** listed in (or, with null, taken out of) the public directory */
  | { type: 'ClientListingChanged'; data: { listing: ClientListing | null } }
  /**
   * The only event of a client id whose creation took a slot and died before registering: it
   * fences the id (a registration that wakes up later finds the stream taken) so the slot can be
   * given back.
   */
  | { type: 'ClientRegistrationAbandoned'; data: { clientId: string; organisationId: string } };

export type ClientEventType = ClientEvent['type'];

export const CLIENT_EVENT_TYPES: readonly ClientEventType[] = [
  'ClientRegistered',
  'ClientRenamed',
  'ClientSecretIssued',
  'ClientSecretRotated',
  'ClientSecretRevoked',
  'SecretLinkedToDomain',
  'SecretUnlinkedFromDomain',
  'RedirectUriAdded',
  'RedirectUriRemoved',
  'DomainAdded',
  'DomainUpdated',
  'DomainRemoved',
  'ClientScopesChanged',
  'TestUserAdded',
  'TestUserRemoved',
  'ClientDisabled',
  'ClientEnabled',
  'ClientDeleted',
  'ClientListingChanged',
  'ClientRegistrationAbandoned',
];

export const clientStream = (clientId: string): string => `client-${clientId}`;
