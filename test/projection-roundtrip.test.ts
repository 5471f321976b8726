import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { sql } from 'kysely';
import { openDatabase, migrateReadModels, type Database } from '../src/db/database.ts';
import { READ_MODEL_SCHEMA } from '../src/db/schema.ts';
import type { RecordedEvent } from '../src/eventstore/port.ts';
import { CheckpointMoved, applyEvents, ensureCheckpoints, projectBatch, readCheckpoints } from '../projections/apply.ts';
import { PROJECTION_GROUPS } from '../projections/index.ts';
import { TABLES } from '../projections/tables.ts';
import { createTestDatabase } from './support/database.ts';
import { dumpReadModels } from './support/read-models.ts';

// Text that inlined SQL gets wrong: quotes, backslashes, dollar quoting, placeholders, unicode.
const NASTY = `O'Reilly \\ "quoted" $1 $$ $tag$ \\x00 ;-- 😀 ñ`;
const BIG = 2n ** 62n + 7n; // past Number.MAX_SAFE_INTEGER: must come back exact

let seq = 0n;
function event(stream: string, revision: bigint, type: string, data: unknown, at = '2026-03-01T09:00:00.123Z'): RecordedEvent {
  seq += 1n;
  return {
    id: randomUUID(),
    stream,
    revision,
    position: { commit: BIG, prepare: seq },
    type,
    data,
    metadata: { actor: '1', correlationId: NASTY, causationId: 'c', requestId: 'r', ip: '::1', userAgent: NASTY, at },
  };
}

function makeHistory(): RecordedEvent[] {
  const org = 'organisation-org_rt';
  const client = 'client-kc_rt';
  const ticket = `ticket-tk_rt`;
  return [
    event(org, 0n, 'OrganisationCreated', { organisationId: 'org_rt', name: NASTY }),
    event(org, 1n, 'MemberAdded', { sub: 2_147_483_647, role: 'owner' }),
    event(org, 2n, 'PlanActivated', { plan: 'pro' }),
    event(client, 0n, 'ClientRegistered', { clientId: 'kc_rt', organisationId: 'org_rt', name: NASTY }),
    event(client, 1n, 'DomainAdded', {
      domainId: 'dom_1', domain: 'a.example', serverIps: ['10.0.0.0/8', '2001:db8::/32'], internalName: `$$${NASTY}`, logo: null,
      fallbackUri: null, allowLogin: true, allowApi: false, active: true, primary: true, testMode: false,
    }),
    event(client, 2n, 'ClientSecretIssued', { secretId: 'sec_1', label: NASTY, hint: 'klsk_…AbCd', secretHash: 'ab'.repeat(32), expiresAt: '2030-01-02T03:04:05.678Z' }),
    event(client, 3n, 'SecretLinkedToDomain', { secretId: 'sec_1', domainId: 'dom_1' }),
    event(client, 4n, 'ClientScopesChanged', { scopes: ['userinfo'], previous: [] }),
    event(client, 5n, 'ClientScopesChanged', { scopes: ['userinfo', 'useraddresses'], previous: ['userinfo'] }),
    event(client, 6n, 'RedirectUriAdded', { uri: `https://a.example/cb?q='\\$1` }),
    event(client, 7n, 'DomainUpdated', { domainId: 'dom_1', changes: { serverIps: [], allowApi: true, logo: `https://a.example/${NASTY}` } }),
    event(client, 8n, 'ClientSecretRotated', {
      secretId: 'sec_1', newSecretId: 'sec_2', label: NASTY, hint: 'klsk_…WxYz', secretHash: 'cd'.repeat(32), graceSeconds: 30,
      graceUntil: '2026-03-01T09:00:30.123Z', domainIds: ['dom_1'],
    }),
    event(client, 9n, 'ClientRenamed', { name: `${NASTY} (renamed)`, previousName: NASTY }),
    event(client, 10n, 'SecretUnlinkedFromDomain', { secretId: 'sec_1', domainId: 'dom_1' }),
    event(client, 11n, 'ClientDisabled', {}),
    event(client, BIG, 'ClientEnabled', {}),
    event(ticket, 0n, 'TicketOpened', { ticketId: 'tk_rt', subject: NASTY, group: 'oauth-api', clientId: 'kc_rt', openedBy: 2 }),
    event(ticket, 1n, 'TicketMessagePosted', { seq: 1, author: 2, authorRole: 'user', text: NASTY, clientMessageId: 'm1' }),
    event(ticket, 2n, 'TicketMessagePosted', { seq: 2, author: 3, authorRole: 'agent', text: '{"not":"json"}', clientMessageId: 'm2' }, '2026-03-01T09:05:00Z'),
    event(ticket, 3n, 'TicketMessagePosted', { seq: 3, author: 3, authorRole: 'agent', text: '\\', clientMessageId: 'm3' }, '2026-03-01T09:06:00Z'),
  ];
}

const HISTORY = makeHistory();
const history = () => HISTORY;

describe('set-based projection statements', () => {
  let database: Database;
  let url: string;
  beforeAll(async () => {
    url = await createTestDatabase();
    database = openDatabase(url, { max: 4 });
    await ensureCheckpoints(database.rm, PROJECTION_GROUPS);
  });
  afterAll(async () => {
    await database?.destroy();
  });

  it('when the projected tables are compared with the migrated schema, then every column and type is declared', async () => {
    const { rows } = await sql<{ table_name: string; column_name: string; type: string }>`
      SELECT c.table_name, c.column_name, format_type(a.atttypid, a.atttypmod) AS type
        FROM information_schema.columns c
        JOIN pg_attribute a ON a.attrelid = (quote_ident(c.table_schema) || '.' || quote_ident(c.table_name))::regclass AND a.attname = c.column_name
       WHERE c.table_schema = ${READ_MODEL_SCHEMA} AND c.table_name <> 'checkpoints' AND c.table_name NOT LIKE 'kysely%'`.execute(database.db);
    const declared = Object.entries(TABLES).flatMap(([table, spec]) =>
      Object.entries(spec.columns).map(([column, type]) => `${table}.${column} ${type}`),
    );
    const alias: Record<string, string> = { 'timestamp with time zone': 'timestamptz', 'text[]': 'text[]' };
    expect(rows.map((r) => `${r.table_name}.${r.column_name} ${alias[r.type] ?? r.type}`).sort()).toEqual(declared.sort());
  });

  it('when a batch writes every column type, then Postgres gives back exactly what the events said', async () => {
    const events = history();
    for (const group of PROJECTION_GROUPS) {
      const checkpoints = await readCheckpoints(database.rm);
      await projectBatch(database, READ_MODEL_SCHEMA, group, events, checkpoints.get(group.name)!);
    }
    const rm = database.rm;
    const organisation = await rm.selectFrom('organisations').selectAll().executeTakeFirstOrThrow();
    expect(organisation.name).toBe(NASTY);
    expect(organisation.plan_status).toBe('active');
    expect(organisation.plan_activated_at).toEqual(new Date('2026-03-01T09:00:00.123Z'));
    expect((await rm.selectFrom('members').selectAll().executeTakeFirstOrThrow()).user_sub).toBe(2_147_483_647);
    const client = await rm.selectFrom('clients').selectAll().executeTakeFirstOrThrow();
    expect(client).toMatchObject({ name: `${NASTY} (renamed)`, status: 'active', revision: BIG.toString(), organisation_id: 'org_rt' });
    const domain = await rm.selectFrom('client_domains').selectAll().executeTakeFirstOrThrow();
    expect(domain).toMatchObject({ server_ips: [], allow_api: true, allow_login: true, primary: true, internal_name: `$$${NASTY}`, logo: `https://a.example/${NASTY}` });
    const secrets = await rm.selectFrom('client_secrets').selectAll().orderBy('secret_id').execute();
    expect(secrets.map((s) => [s.secret_id, s.status, s.label, s.replaced_by])).toEqual([
      ['sec_1', 'rotated', NASTY, 'sec_2'],
      ['sec_2', 'active', NASTY, null],
    ]);
    expect(secrets[0]!.expires_at).toEqual(new Date('2030-01-02T03:04:05.678Z'));
    expect(secrets[0]!.grace_until).toEqual(new Date('2026-03-01T09:00:30.123Z'));
    expect(await rm.selectFrom('secret_links').select(['secret_id', 'domain_id']).execute()).toEqual([{ secret_id: 'sec_2', domain_id: 'dom_1' }]);
    expect((await rm.selectFrom('client_scopes').select('scope').orderBy('scope').execute()).map((s) => s.scope)).toEqual(['useraddresses', 'userinfo']);
    expect((await rm.selectFrom('redirect_uris').select('uri').executeTakeFirstOrThrow()).uri).toBe(`https://a.example/cb?q='\\$1`);
    const ticket = await rm.selectFrom('tickets').selectAll().executeTakeFirstOrThrow();
    // the first agent answer, not the last; the last message's number
    expect(ticket).toMatchObject({ subject: NASTY, last_seq: 3, first_response_at: new Date('2026-03-01T09:05:00Z') });
    const texts = await rm.selectFrom('ticket_messages').select('text').orderBy('seq').execute();
    expect(texts.map((t) => t.text)).toEqual([NASTY, '{"not":"json"}', '\\']);
    const audit = await rm.selectFrom('audit_log').selectAll().orderBy('prepare_position').execute();
    expect(audit).toHaveLength(16); // not the ticket's
    expect(audit.every((a) => a.commit_position === BIG.toString() && a.organisation_id === 'org_rt')).toBe(true);
    expect(audit[0]!.user_agent).toBe(NASTY);
    expect(audit[4]!.data).toMatchObject({ serverIps: ['10.0.0.0/8', '2001:db8::/32'], internalName: `$$${NASTY}` });
    expect(JSON.stringify(audit.map((a) => a.data))).not.toContain('ab'.repeat(32)); // secret hashes stay out
  });

  it('when the same events are applied one at a time elsewhere, then the tables are the same as from one batch', async () => {
    await migrateReadModels(database.db, 'rm_one_by_one');
    for (const e of history()) {
      await database.rmRaw.transaction().execute((trx) => applyEvents(trx, 'rm_one_by_one', [e]));
    }
    expect(await dumpReadModels(url, 'rm_one_by_one')).toEqual(await dumpReadModels(url, READ_MODEL_SCHEMA));
  });

  it('when a batch is replayed, then nothing changes', async () => {
    const before = await dumpReadModels(url, READ_MODEL_SCHEMA);
    const events = history();
    const policy = PROJECTION_GROUPS[0]!;
    // the live projector's compare-and-set refuses a checkpoint it does not hold
    await expect(projectBatch(database, READ_MODEL_SCHEMA, policy, events, { commit: 0n, prepare: 0n })).rejects.toBeInstanceOf(CheckpointMoved);
    // applying events at or before the checkpoint skips them
    await database.rmRaw.transaction().execute((trx) => applyEvents(trx, READ_MODEL_SCHEMA, events));
    expect(await dumpReadModels(url, READ_MODEL_SCHEMA)).toEqual(before);
  });

  it('when a batch is projected, then it travels as one simple query: one round trip, whatever it holds', async () => {
    const support = PROJECTION_GROUPS.find((g) => g.name === 'support')!;
    const checkpoint = (await readCheckpoints(database.rm)).get('support')!;
    const ticket = (n: bigint, type: string, data: Record<string, unknown>) => ({ ...event('ticket-tk_rt1', n, type, data), position: { commit: BIG + 10n, prepare: n + 1n } });
    const batch = [
      ticket(0n, 'TicketOpened', { ticketId: 'tk_rt1', subject: NASTY, group: 'billing', clientId: null, openedBy: 1 }),
      ticket(1n, 'TicketMessagePosted', { seq: 1, author: 1, authorRole: 'user', text: NASTY, clientMessageId: 'c1' }),
      ticket(2n, 'TicketMessagePosted', { seq: 2, author: 2, authorRole: 'agent', text: '$1 $$', clientMessageId: 'c2' }),
    ];
    const connect = database.pool.connect.bind(database.pool);
    const sent: string[] = [];
    const spy = vi.spyOn(database.pool, 'connect').mockImplementation((async () => {
      const client = await connect();
      const query = client.query.bind(client);
      client.query = ((...args: Parameters<typeof client.query>) => {
        sent.push(String(args[0]));
        return query(...args);
      }) as typeof client.query;
      return client;
    }) as never);
    try {
      await projectBatch(database, READ_MODEL_SCHEMA, support, batch, checkpoint);
    } finally {
      spy.mockRestore();
    }
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatch(/^BEGIN;[\s\S]*COMMIT$/);
    const messages = await database.rm.selectFrom('ticket_messages').select(['seq', 'text']).where('ticket_id', '=', 'tk_rt1').orderBy('seq').execute();
    expect(messages).toEqual([{ seq: 1, text: NASTY }, { seq: 2, text: '$1 $$' }]);
  });

  it('when an event carries a NUL character, then the batch is refused whole and nothing is written', async () => {
    const before = await dumpReadModels(url, READ_MODEL_SCHEMA);
    const policy = PROJECTION_GROUPS[0]!;
    const checkpoint = (await readCheckpoints(database.rm)).get('policy')!;
    const bad = [
      { ...event('client-kc_nul', 0n, 'ClientRegistered', { clientId: 'kc_nul', organisationId: 'org_rt', name: 'fine' }), position: { commit: BIG + 1n, prepare: 1n } },
      { ...event('client-kc_nul', 1n, 'ClientRenamed', { name: 'a\u0000b', previousName: 'fine' }), position: { commit: BIG + 1n, prepare: 2n } },
    ];
    await expect(projectBatch(database, READ_MODEL_SCHEMA, policy, bad, checkpoint)).rejects.toThrow();
    expect(await dumpReadModels(url, READ_MODEL_SCHEMA)).toEqual(before);
  });
});
