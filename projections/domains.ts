import type { DomainSettings } from '../src/clients/events.ts';
import type { Changes, Row, Value } from './changes.ts';
import type { Projection } from './projection.ts';
import { eventTime, streamEntityId } from './projection.ts';

const COLUMN = {
  domain: 'domain',
  serverIps: 'server_ips',
  internalName: 'internal_name',
  logo: 'logo',
  fallbackUri: 'fallback_uri',
  allowLogin: 'allow_login',
  allowApi: 'allow_api',
  active: 'active',
  primary: 'primary',
  testMode: 'test_mode',
} as const satisfies { [K in keyof DomainSettings]: string };

function toColumns(settings: Partial<DomainSettings>): Changes<'client_domains'> {
  const out: Record<string, Value> = {};
  for (const [key, value] of Object.entries(settings) as [keyof DomainSettings, Value | undefined][]) {
    if (value === undefined) continue;
    out[COLUMN[key]] = value;
  }
  return out;
}

/** client_domains with their switches; removing a domain also drops its links. */
export const domainsProjection: Projection = {
  name: 'domains',
  project(event, changes) {
    const clientId = streamEntityId(event.stream, 'client');
    if (!clientId) return;
    const at = eventTime(event);
    switch (event.type) {
      case 'DomainAdded': {
        const { domainId, ...settings } = event.data;
        return changes.insert('client_domains', {
          internal_name: null,
          logo: null,
          fallback_uri: null,
          ...toColumns(settings),
          domain_id: domainId,
          client_id: clientId,
          created_at: at,
          updated_at: at,
        } as Row<'client_domains'>);
      }
      case 'DomainUpdated':
        return changes.update('client_domains', { domain_id: event.data.domainId }, { ...toColumns(event.data.changes), updated_at: at });
      case 'DomainRemoved':
        changes.deleteWhere('secret_links', 'domain_id', event.data.domainId);
        return changes.delete('client_domains', { domain_id: event.data.domainId });
      default:
        return;
    }
  },
};
