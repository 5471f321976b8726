/** Every sentence of explain and preview, in English and Dutch. `{name}` is filled in by `say`. */
export const EXPLAIN_LANGUAGES = ['en', 'nl'] as const;
export type ExplainLanguage = (typeof EXPLAIN_LANGUAGES)[number];

const en = {
  // causes: one sentence each
  'cause.ClientDeleted': '{actor} deleted the client on {time}.',
  'cause.PlanCancelled': '{actor} cancelled the {plan} plan of the organisation on {time}.',
  'cause.ClientDisabled': '{actor} disabled the client on {time}.',
  'cause.revoked': '{actor} revoked secret {secret} on {time}.',
  'cause.rotatedNoGrace': '{actor} rotated secret {secret} on {time} without a grace period, so it stopped working at once.',
  'cause.rotatedGrace': '{actor} rotated secret {secret} on {time}; its grace period ended on {graceEnd}.',
  'cause.expired': 'Secret {secret} expired on {expiresAt}, as {actor} set when issuing it on {time}.',
  'cause.unlinked': '{actor} unlinked secret {secret} from {domain} on {time}.',
  'cause.issuedUnlinked': '{actor} issued secret {secret} on {time} without linking it to {domain}.',
  'cause.domainAddedUnlinked': '{actor} added {domain} on {time} without linking secret {secret} to it.',
  'cause.domainRemoved': '{actor} removed the domain {domain} on {time}.',
  'cause.domainRenamed': '{actor} renamed the domain {domain} to {newDomain} on {time}.',
  'cause.domainInactive': '{actor} deactivated {domain} on {time}.',
  'cause.domainAddedInactive': '{actor} added {domain} as inactive on {time}.',
  'cause.apiOff': '{actor} turned off API calls on {domain} on {time}.',
  'cause.apiOffAdded': '{actor} added {domain} with API calls turned off on {time}.',
  'cause.loginOff': '{actor} turned off sign-in on {domain} on {time}.',
  'cause.loginOffAdded': '{actor} added {domain} with sign-in turned off on {time}.',
  'cause.serverIps': '{actor} set the server IPs of {domain} to {ips} on {time}, which does not include {ip}.',
  'cause.scopeRemoved': '{actor} changed the scopes to {scopes} on {time}, taking away {scope}.',
  'cause.testMode': '{actor} put {domain} in test mode on {time}: only the client’s test users can sign in there.',
  'cause.testModeAdded': '{actor} added {domain} in test mode on {time}: only the client’s test users can sign in there.',
  // no event explains it: said in the fix
  'fix.none': 'Nothing: the same request would be allowed now.',
  'fix.checkCredentials': 'Send X-Client-Id, X-Client-Secret and X-Client-Domain, each exactly once and well-formed (the secret as issued, klsk_…).',
  'fix.checkClientId': 'No client has the id {clientId}: check X-Client-Id.',
  'fix.createClient': 'The client was deleted and cannot be restored: create a new client and use its id and secret.',
  'fix.activatePlan': 'Activate a plan for the organisation (it had the {plan} plan).',
  'fix.activateAnyPlan': 'Activate a plan for the organisation.',
  'fix.enableClient': 'Enable the client.',
  'fix.useReplacement': 'Use secret {secret} instead: it replaced the one presented.',
  'fix.useSecret': 'Use secret {secret}, a current secret of this client.',
  'fix.presentedUnknown': 'The secret presented is not a secret of this client. Use secret {secret}.',
  'fix.presentedUnknownIssue': 'The secret presented is not a secret of this client, and it has no usable secret: issue a new one.',
  'fix.issueSecret': 'Issue a new secret and use it.',
  'fix.rotateSecret': 'Rotate secret {secret} and use the new secret (it keeps the label and the domain links).',
  'fix.addDomain': 'Add {domain} as a domain of this client.',
  'fix.checkDomain': 'No domain of this client is named {domain}: check X-Client-Domain.',
  'fix.activateDomain': 'Activate {domain}.',
  'fix.linkSecret': 'Link secret {secret} to {domain}.',
  'fix.allowApi': 'Allow API calls on {domain}.',
  'fix.allowLogin': 'Allow sign-in on {domain}.',
  'fix.addIp': 'Add {ip} to the server IPs of {domain}.',
  'fix.clearIps': 'The caller’s address is unknown: empty the server IP list of {domain}, or call from a listed address.',
  'fix.grantScope': 'Grant the client the {scope} scope.',
  'fix.slowDown': 'Stay under {limit} requests a minute (the {plan} plan’s limit), or move to a larger plan.',
  'fix.addTestUser': 'Add the user as a test user of this client, or take {domain} out of test mode.',
  // actors
  'actor.user': '{name} ({email})',
  'actor.unknownUser': 'user {sub}',
  'actor.cli': 'an operator on the command line',
  'actor.system': 'the system',
  'list.empty': 'an empty list',
  'scopes.none': 'none',
  // impact preview
  'preview.summary': '{refused} caller(s) seen in the last 24 hours would be refused; {allowed} would still be allowed.',
} as const;

export type ExplainMessageKey = keyof typeof en;

const nl: Record<ExplainMessageKey, string> = {
  'cause.ClientDeleted': '{actor} heeft de client verwijderd op {time}.',
  'cause.PlanCancelled': '{actor} heeft het {plan}-abonnement van de organisatie opgezegd op {time}.',
  'cause.ClientDisabled': '{actor} heeft de client uitgeschakeld op {time}.',
  'cause.revoked': '{actor} heeft secret {secret} ingetrokken op {time}.',
  'cause.rotatedNoGrace': '{actor} heeft secret {secret} vervangen op {time} zonder overgangsperiode, dus het werkte meteen niet meer.',
  'cause.rotatedGrace': '{actor} heeft secret {secret} vervangen op {time}; de overgangsperiode eindigde op {graceEnd}.',
  'cause.expired': 'Secret {secret} is verlopen op {expiresAt}, zoals {actor} had ingesteld bij het uitgeven op {time}.',
  'cause.unlinked': '{actor} heeft secret {secret} losgekoppeld van {domain} op {time}.',
  'cause.issuedUnlinked': '{actor} heeft secret {secret} uitgegeven op {time} zonder het aan {domain} te koppelen.',
  'cause.domainAddedUnlinked': '{actor} heeft {domain} toegevoegd op {time} zonder secret {secret} eraan te koppelen.',
  'cause.domainRemoved': '{actor} heeft het domein {domain} verwijderd op {time}.',
  'cause.domainRenamed': '{actor} heeft het domein {domain} hernoemd naar {newDomain} op {time}.',
  'cause.domainInactive': '{actor} heeft {domain} gedeactiveerd op {time}.',
  'cause.domainAddedInactive': '{actor} heeft {domain} als inactief toegevoegd op {time}.',
  'cause.apiOff': '{actor} heeft API-aanroepen op {domain} uitgezet op {time}.',
  'cause.apiOffAdded': '{actor} heeft {domain} toegevoegd met API-aanroepen uitgezet op {time}.',
  'cause.loginOff': '{actor} heeft inloggen op {domain} uitgezet op {time}.',
  'cause.loginOffAdded': '{actor} heeft {domain} toegevoegd met inloggen uitgezet op {time}.',
  'cause.serverIps': '{actor} heeft de server-IP’s van {domain} op {time} ingesteld op {ips}, en daar hoort {ip} niet bij.',
  'cause.scopeRemoved': '{actor} heeft de scopes op {time} gewijzigd in {scopes}, waarmee {scope} verviel.',
  'cause.testMode': '{actor} heeft {domain} op {time} in testmodus gezet: alleen de testgebruikers van de client kunnen daar inloggen.',
  'cause.testModeAdded': '{actor} heeft {domain} op {time} in testmodus toegevoegd: alleen de testgebruikers van de client kunnen daar inloggen.',
  'fix.none': 'Niets: hetzelfde verzoek zou nu worden toegestaan.',
  'fix.checkCredentials': 'Stuur X-Client-Id, X-Client-Secret en X-Client-Domain, elk precies één keer en goed gevormd (het secret zoals uitgegeven, klsk_…).',
  'fix.checkClientId': 'Geen enkele client heeft het id {clientId}: controleer X-Client-Id.',
  'fix.createClient': 'De client is verwijderd en kan niet worden hersteld: maak een nieuwe client aan en gebruik het id en secret daarvan.',
  'fix.activatePlan': 'Activeer een abonnement voor de organisatie (die had het {plan}-abonnement).',
  'fix.activateAnyPlan': 'Activeer een abonnement voor de organisatie.',
  'fix.enableClient': 'Schakel de client weer in.',
  'fix.useReplacement': 'Gebruik in plaats daarvan secret {secret}: dat verving het aangeboden secret.',
  'fix.useSecret': 'Gebruik secret {secret}, een geldig secret van deze client.',
  'fix.presentedUnknown': 'Het aangeboden secret is geen secret van deze client. Gebruik secret {secret}.',
  'fix.presentedUnknownIssue': 'Het aangeboden secret is geen secret van deze client, en die heeft geen bruikbaar secret: geef een nieuw uit.',
  'fix.issueSecret': 'Geef een nieuw secret uit en gebruik dat.',
  'fix.rotateSecret': 'Vervang secret {secret} en gebruik het nieuwe secret (dat houdt het label en de domeinkoppelingen).',
  'fix.addDomain': 'Voeg {domain} toe als domein van deze client.',
  'fix.checkDomain': 'Geen domein van deze client heet {domain}: controleer X-Client-Domain.',
  'fix.activateDomain': 'Activeer {domain}.',
  'fix.linkSecret': 'Koppel secret {secret} aan {domain}.',
  'fix.allowApi': 'Sta API-aanroepen toe op {domain}.',
  'fix.allowLogin': 'Sta inloggen toe op {domain}.',
  'fix.addIp': 'Voeg {ip} toe aan de server-IP’s van {domain}.',
  'fix.clearIps': 'Het adres van de aanroeper is onbekend: maak de lijst met server-IP’s van {domain} leeg, of roep aan vanaf een adres op de lijst.',
  'fix.grantScope': 'Geef de client de scope {scope}.',
  'fix.slowDown': 'Blijf onder {limit} verzoeken per minuut (de limiet van het {plan}-abonnement), of kies een groter abonnement.',
  'fix.addTestUser': 'Voeg de gebruiker toe als testgebruiker van deze client, of haal {domain} uit testmodus.',
  'actor.user': '{name} ({email})',
  'actor.unknownUser': 'gebruiker {sub}',
  'actor.cli': 'een beheerder via de opdrachtregel',
  'actor.system': 'het systeem',
  'list.empty': 'een lege lijst',
  'scopes.none': 'geen',
  'preview.summary': '{refused} aanroeper(s) van de afgelopen 24 uur zouden worden geweigerd; {allowed} zouden nog worden toegestaan.',
};

const CATALOGUE: Record<ExplainLanguage, Record<ExplainMessageKey, string>> = { en, nl };

export const isExplainLanguage = (value: unknown): value is ExplainLanguage =>
  typeof value === 'string' && (EXPLAIN_LANGUAGES as readonly string[]).includes(value);

export function say(language: ExplainLanguage, key: ExplainMessageKey, values: Record<string, string | number> = {}): string {
  return CATALOGUE[language][key].replace(/\{(\w+)\}/g, (whole, name: string) => (name in values ? String(values[name]) : whole));
}

/** A time as people read it in both languages: `2026-03-01 10:00:00 UTC`. */
export const readableTime = (iso: string): string => `${iso.slice(0, 10)} ${iso.slice(11, 19)} UTC`;
