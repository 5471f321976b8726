import type { DomainSettings } from '../src/clients/events.ts';
import type { ClientDomainsTable } from '../src/db/schema.ts';
import type { Projection } from './projection.ts';
import { eventTime, streamEntityId } from './projection.ts';

type DomainColumns = Omit<ClientDomainsTable, 'domain_id' | 'client_id' | 'created_at' | 'updated_at' | 'server_ips'> & {
  server_ips: string;
};

const COLUMN: { [K in keyof DomainSettings]: keyof DomainColumns } = {
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
};

function toColumns(settings: Partial<DomainSettings>): Partial<DomainColumns> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(settings) as [keyof DomainSettings, unknown][]) {
    if (value === undefined) continue;
    out[COLUMN[key]] = key === 'serverIps' ? JSON.stringify(value) : value;
  }
  return out as Partial<DomainColumns>;
}

/** client_domains with their switches; removing a domain also drops its links. */
export const domainsProjection: Projection = {
  name: 'domains',
  project(event, db) {
    const clientId = streamEntityId(event.stream, 'client');
    if (!clientId) return [];
    const at = eventTime(event);
    switch (event.type) {
      case 'DomainAdded': {
        const { domainId, ...settings } = event.data;
        return [
          db
            .insertInto('client_domains')
            .values({ domain_id: domainId, client_id: clientId, ...(toColumns(settings) as DomainColumns), created_at: at, updated_at: at })
            .onConflict((oc) => oc.column('domain_id').doNothing()),
        ];
      }
      case 'DomainUpdated':
        return [
          db
            .updateTable('client_domains')
            .set({ ...toColumns(event.data.changes), updated_at: at })
            .where('domain_id', '=', event.data.domainId),
        ];
      case 'DomainRemoved':
        return [
          db.deleteFrom('secret_links').where('domain_id', '=', event.data.domainId),
          db.deleteFrom('client_domains').where('domain_id', '=', event.data.domainId),
        ];
      default:
        return [];
    }
  },
};
