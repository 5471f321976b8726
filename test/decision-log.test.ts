import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../src/db/database.ts';
import { DecisionLog, mergeCounts, type Denial } from '../src/access/decision-log.ts';
import { createLogger } from '../src/logger.ts';
import { createTestDatabase } from './support/database.ts';

let database: Database;
beforeAll(async () => {
  database = openDatabase(await createTestDatabase(), { max: 3 });
});
afterAll(async () => {
  await database?.destroy();
});

const denial = (requestId: string, at = new Date()): Denial => ({
  requestId,
  at,
  clientId: 'kc_x',
  domain: 'a.example',
  ip: '127.0.0.1',
  endpoint: 'GET /api/whoami',
  secretSha256: null,
  reason: 'invalid_secret',
  status: 401,
  position: '1/1',
});

it('when the queue is full, then denials are dropped and counted, never waited for', async () => {
  const log = new DecisionLog(database, createLogger({ level: 'silent' }), { maxQueue: 3, flushEveryMs: 60_000 });
  for (let i = 0; i < 10; i++) log.deny(denial(`full-${i}`));
  expect(log.dropped).toBe(7);
  await log.close();
  const rows = await database.db.selectFrom('auth_denials').select('request_id').where('request_id', 'like', 'full-%').execute();
  expect(rows.map((r) => r.request_id).sort()).toEqual(['full-0', 'full-1', 'full-2']);
});

it('counts allows per client, domain and minute, adding across flushes', async () => {
  const log = new DecisionLog(database, createLogger({ level: 'silent' }), { flushEveryMs: 60_000 });
  const minute = new Date('2026-01-01T10:00:10Z');
  log.allow('kc_a', 'dom_1', minute);
  log.allow('kc_a', 'dom_1', new Date('2026-01-01T10:00:50Z'));
  log.allow('kc_a', 'dom_2', minute);
  log.allow('kc_a', 'dom_1', new Date('2026-01-01T10:01:00Z'));
  await log.flush();
  log.allow('kc_a', 'dom_1', minute);
  await log.close();
  const rows = await database.db.selectFrom('auth_allow_counts').selectAll().where('client_id', '=', 'kc_a').orderBy('domain_id').orderBy('minute').execute();
  expect(rows.map((r) => [r.domain_id, r.minute.toISOString(), Number(r.count)])).toEqual([
    ['dom_1', '2026-01-01T10:00:00.000Z', 3],
    ['dom_1', '2026-01-01T10:01:00.000Z', 1],
    ['dom_2', '2026-01-01T10:00:00.000Z', 1],
  ]);
});

it('prunes denials past the retention period in batches', async () => {
  const log = new DecisionLog(database, createLogger({ level: 'silent' }), {
    flushEveryMs: 60_000,
    retentionDays: 30,
    maxQueue: 20_000,
    // every one of them in full: this test is about pruning, not sampling
    samplesPerGroup: Number.POSITIVE_INFINITY,
    unknownSamplesPerMinute: Number.POSITIVE_INFINITY,
  });
  const now = new Date('2026-06-01T00:00:00Z');
  for (let i = 0; i < 12_000; i++) log.deny(denial(`old-${i}`, new Date('2026-04-01T00:00:00Z')));
  log.deny(denial('recent', new Date('2026-05-20T00:00:00Z')));
  await log.flush();
  expect(await log.prune(now)).toBe(12_000);
  const left = await database.db.selectFrom('auth_denials').select('request_id').where('request_id', 'in', ['recent', 'old-1']).execute();
  expect(left.map((r) => r.request_id)).toEqual(['recent']);
  const counts = await database.db.selectFrom('auth_denial_counts').select('minute').where('minute', '<', new Date('2026-05-01T00:00:00Z')).execute();
  expect(counts).toEqual([]);
  await log.close();
});

describe('a flood of denials (issue 7, finding 8)', () => {
  const silent = createLogger({ level: 'silent' });
  const randomId = () => `kc_${randomBytes(9).toString('hex')}`;
  const at = new Date('2026-03-01T12:00:05Z');
  const countsFor = (ip: string) =>
    database.db.selectFrom('auth_denial_counts').selectAll().where('ip', '=', ip).orderBy('minute').orderBy('client_id').orderBy('reason').execute();
  const fullRowsFor = (ip: string) => database.db.selectFrom('auth_denials').select(['request_id', 'client_id', 'reason']).where('ip', '=', ip).execute();

  it('when one address sends 1,000 random client ids, then a few are kept in full with their request ids and all 1,000 are counted', async () => {
    const log = new DecisionLog(database, silent, { flushEveryMs: 60_000, samplesPerGroup: 5 });
    for (let i = 0; i < 1_000; i++) {
      log.deny({ ...denial(`flood-${i}`, at), clientId: randomId(), ip: '198.51.100.7', reason: 'unknown_client', clientKnown: false });
    }
    await log.flush();
    const rows = await fullRowsFor('198.51.100.7');
    expect(rows.map((r) => r.request_id).sort()).toEqual(['flood-0', 'flood-1', 'flood-2', 'flood-3', 'flood-4']);
    expect((await countsFor('198.51.100.7')).map((c) => [c.client_id, c.minute.toISOString(), c.reason, Number(c.count), Number(c.sampled)])).toEqual([
      ['', '2026-03-01T12:00:00.000Z', 'unknown_client', 1_000, 5],
    ]);
    await log.close();
  });

  it('groups by known client, reason, minute and address (an IPv6 /64 is one address), adding across flushes', async () => {
    const log = new DecisionLog(database, silent, { flushEveryMs: 60_000, samplesPerGroup: 2 });
    const send = (n: number, fields: Partial<Denial>) => {
      for (let i = 0; i < n; i++) log.deny({ ...denial(`grp-${randomBytes(6).toString('hex')}`, at), ...fields });
    };
    send(7, { clientId: 'kc_real', clientKnown: true, reason: 'invalid_secret', ip: '2001:db8:7:1::1' });
    send(3, { clientId: 'kc_real', clientKnown: true, reason: 'invalid_secret', ip: '2001:db8:7:1:ffff:1:2:3' });
    send(4, { clientId: 'kc_real', clientKnown: true, reason: 'unknown_domain', ip: '2001:db8:7:1::1' });
    send(3, { clientId: 'kc_real', clientKnown: true, reason: 'invalid_secret', ip: '2001:db8:7:1::1', at: new Date('2026-03-01T12:01:00Z') });
    await log.flush();
    send(5, { clientId: 'kc_real', clientKnown: true, reason: 'invalid_secret', ip: '2001:db8:7:1::9' });
    await log.close();
    const counts = await countsFor('2001:db8:7:1::/64');
    expect(counts.map((c) => [c.client_id, c.minute.toISOString(), c.reason, Number(c.count), Number(c.sampled)])).toEqual([
      ['kc_real', '2026-03-01T12:00:00.000Z', 'invalid_secret', 15, 2],
      ['kc_real', '2026-03-01T12:00:00.000Z', 'unknown_domain', 4, 2],
      ['kc_real', '2026-03-01T12:01:00.000Z', 'invalid_secret', 3, 2],
    ]);
    const full = await database.db.selectFrom('auth_denials').select('reason').where('client_id', '=', 'kc_real').where('request_id', 'like', 'grp-%').execute();
    expect(full).toHaveLength(6);
  });

  it('when many addresses send unknown ids, then the full rows stay within the per-minute cap and every denial is counted', async () => {
    const log = new DecisionLog(database, silent, { flushEveryMs: 60_000, samplesPerGroup: 3, unknownSamplesPerMinute: 50 });
    for (let host = 1; host <= 100; host++) {
      for (let i = 0; i < 4; i++) log.deny({ ...denial(`many-${host}-${i}`, at), clientId: randomId(), ip: `203.0.113.${host}`, reason: 'unknown_client' });
    }
    await log.close();
    const full = await database.db.selectFrom('auth_denials').select('request_id').where('request_id', 'like', 'many-%').execute();
    expect(full).toHaveLength(50);
    const total = await database.db
      .selectFrom('auth_denial_counts')
      .select((eb) => [eb.fn.sum<string>('count').as('count'), eb.fn.sum<string>('sampled').as('sampled')])
      .where('ip', 'like', '203.0.113.%')
      .executeTakeFirstOrThrow();
    expect([Number(total.count), Number(total.sampled)]).toEqual([400, 50]);
  });

  it('when the queue is full, then a dropped denial is still counted (and not as sampled)', async () => {
    const log = new DecisionLog(database, silent, { flushEveryMs: 60_000, maxQueue: 2, samplesPerGroup: 10 });
    for (let i = 0; i < 6; i++) log.deny({ ...denial(`qfull-${i}`, at), ip: '192.0.2.99' });
    expect(log.dropped).toBe(4);
    await log.close();
    expect((await countsFor('192.0.2.99')).map((c) => [Number(c.count), Number(c.sampled)])).toEqual([[6, 2]]);
  });
});

it('keeps the caller’s own request id and the endpoint’s requirement beside a denial', async () => {
  const log = new DecisionLog(database, createLogger({ level: 'silent' }), { flushEveryMs: 60_000 });
  log.deny({ ...denial('den_00000000000000000000000000000001'), callerRequestId: 'mine-123', requirementKind: 'api', requirementScope: 'useraddresses' });
  log.deny(denial('den_00000000000000000000000000000002'));
  await log.close();
  const rows = await database.db
    .selectFrom('auth_denials')
    .select(['request_id', 'caller_request_id', 'requirement_kind', 'requirement_scope'])
    .where('request_id', 'like', 'den_0000%')
    .orderBy('request_id')
    .execute();
  expect(rows).toEqual([
    { request_id: 'den_00000000000000000000000000000001', caller_request_id: 'mine-123', requirement_kind: 'api', requirement_scope: 'useraddresses' },
    { request_id: 'den_00000000000000000000000000000002', caller_request_id: null, requirement_kind: null, requirement_scope: null },
  ]);
});

it('counts distinct allowed callers per hour, with their first and last use, and prunes them with the rest', async () => {
  const log = new DecisionLog(database, createLogger({ level: 'silent' }), { flushEveryMs: 60_000, retentionDays: 30 });
  const caller = { secretId: 'sec_1', domain: 'shop.example', ip: '203.0.113.7', kind: 'api' as const, scope: null };
  log.allow('kc_callers', 'dom_1', new Date('2026-05-01T10:05:00Z'), caller);
  log.allow('kc_callers', 'dom_1', new Date('2026-05-01T10:55:00Z'), caller);
  await log.flush();
  log.allow('kc_callers', 'dom_1', new Date('2026-05-01T10:30:00Z'), caller);
  log.allow('kc_callers', 'dom_1', new Date('2026-05-01T11:00:00Z'), { ...caller, ip: null });
  log.allow('kc_callers', 'dom_1', new Date('2026-03-01T00:00:00Z'), { ...caller, scope: 'userinfo', kind: 'login' });
  await log.flush();
  const rows = async () =>
    (await database.db.selectFrom('auth_allow_callers').selectAll().where('client_id', '=', 'kc_callers').orderBy('hour').orderBy('ip').execute()).map((r) => ({
      hour: r.hour.toISOString(),
      ip: r.ip,
      kind: r.kind,
      scope: r.scope,
      count: Number(r.count),
      first: r.first_at.toISOString(),
      last: r.last_at.toISOString(),
    }));
  expect(await rows()).toEqual([
    { hour: '2026-03-01T00:00:00.000Z', ip: '203.0.113.7', kind: 'login', scope: 'userinfo', count: 1, first: '2026-03-01T00:00:00.000Z', last: '2026-03-01T00:00:00.000Z' },
    { hour: '2026-05-01T10:00:00.000Z', ip: '203.0.113.7', kind: 'api', scope: '', count: 3, first: '2026-05-01T10:05:00.000Z', last: '2026-05-01T10:55:00.000Z' },
    { hour: '2026-05-01T11:00:00.000Z', ip: '', kind: 'api', scope: '', count: 1, first: '2026-05-01T11:00:00.000Z', last: '2026-05-01T11:00:00.000Z' },
  ]);
  await log.prune(new Date('2026-05-02T00:00:00Z'));
  expect((await rows()).map((r) => r.hour)).toEqual(['2026-05-01T10:00:00.000Z', '2026-05-01T11:00:00.000Z']);
  await log.close();
});

it('when a count write failed and new denials of the same group arrive, then the retry adds them up in one row per group (an upsert may not touch a row twice)', () => {
  const minute = new Date('2026-05-01T10:00:00Z');
  const row = (count: number, sampled: number, reason = 'invalid_secret') => ({ clientId: 'kc_a', minute, reason, ip: '203.0.113.7', count, sampled });
  expect(mergeCounts([row(3, 2)], [row(4, 0), row(1, 1, 'unknown_domain')])).toEqual([row(7, 2), row(1, 1, 'unknown_domain')]);
  expect(mergeCounts([], [row(1, 1)])).toEqual([row(1, 1)]);
});
