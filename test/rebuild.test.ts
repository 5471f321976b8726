import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { openDatabase } from '../src/db/database.ts';
import { createPostgresEventStore } from '../src/eventstore/postgres.ts';
import { rebuildReadModels } from '../projections/rebuild.ts';
import { startTestApp, type TestApp } from './support/app.ts';
import { createTestDatabase } from './support/database.ts';
import { signUp } from './support/http.ts';
import { dumpReadModels } from './support/read-models.ts';
import { newEvent } from './eventstore-contract.ts';

/** A history that touches every read model: renames, rotations, links, removals, a deletion. */
async function busyHistory(url: string) {
  const { caller } = await signUp(url);
  const ids: string[] = [];
  for (let c = 0; c < 3; c++) {
    const { clientId, secret } = (await caller.post('/manage/v1/clients', { name: `Client ${c}` })).body;
    ids.push(clientId);
    const a = (await caller.post(`/manage/v1/clients/${clientId}/domains`, { domain: `a${c}.example`, serverIps: ['10.0.0.0/8'] })).body;
    const b = (await caller.post(`/manage/v1/clients/${clientId}/domains`, { domain: `b${c}.example`, testMode: true })).body;
    await caller.patch(`/manage/v1/clients/${clientId}/domains/${b.domainId}`, { primary: true, allowApi: false });
    // a domain renamed and its old name added again: in one batch, the new row takes a name the
    // renamed row still holds until its update runs
    await caller.patch(`/manage/v1/clients/${clientId}/domains/${b.domainId}`, { domain: `renamed${c}.example` });
    expect((await caller.post(`/manage/v1/clients/${clientId}/domains`, { domain: `b${c}.example` })).status).toBe(201);
    const issued = (await caller.post(`/manage/v1/clients/${clientId}/secrets`, { label: 'Extra', domains: [a.domainId] })).body;
    await caller.post(`/manage/v1/clients/${clientId}/secrets/${secret.secretId}/rotate`, { graceSeconds: 30 });
    await caller.delete(`/manage/v1/clients/${clientId}/domains/${a.domainId}/secrets/${issued.secretId}`);
    await caller.post(`/manage/v1/clients/${clientId}/redirect-uris`, { uri: `https://a${c}.example/cb` });
    await caller.put(`/manage/v1/clients/${clientId}/scopes`, { scopes: ['userinfo', 'useraddresses'] });
    await caller.patch(`/manage/v1/clients/${clientId}`, { name: `Renamed ${c}` });
    await caller.delete(`/manage/v1/clients/${clientId}/domains/${a.domainId}`);
  }
  await caller.delete(`/manage/v1/clients/${ids[2]}`);
  await caller.post(`/manage/v1/clients/${ids[1]}/disable`);
  return { caller, ids };
}

describe('rebuild', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => {
    await t?.close();
  });

  it('when every event is replayed into fresh tables, then they equal the live read models row for row', async () => {
    await busyHistory(t.url);
    const database = openDatabase(t.databaseUrl, { max: 3 });
    try {
      const store = createPostgresEventStore(database.pool);
      const result = await rebuildReadModels(database, store, { swap: false, schema: 'rm_compare' });
      expect(result.events).toBeGreaterThan(50);
      expect(await t.app.ctx.watcher.waitFor(result.position, 60_000)).toBe(true);
      const [live, rebuilt] = await Promise.all([dumpReadModels(t.databaseUrl, 'rm'), dumpReadModels(t.databaseUrl, 'rm_compare')]);
      expect(rebuilt.clients).toHaveLength(3);
      expect(rebuilt).toEqual(live);
      // the secondary indexes the rebuild deferred are all back, as defined
      const indexes = async (schema: string) =>
        (await database.pool.query<{ d: string }>(`SELECT replace(indexdef, $1, 'S') AS d FROM pg_indexes WHERE schemaname = $2 ORDER BY 1`, [`${schema}.`, schema])).rows.map((r) => r.d);
      const liveIndexes = await indexes('rm');
      expect(liveIndexes.length).toBeGreaterThan(15);
      expect(await indexes('rm_compare')).toEqual(liveIndexes);
      await store.close();
    } finally {
      await database.destroy();
    }
  });

  it('when the rebuild swaps in, then the running app keeps serving and projecting from the new tables', async () => {
    const { caller, ids } = await busyHistory(t.url);
    const before = (await caller.get(`/manage/v1/clients/${ids[0]}`)).body;
    const database = openDatabase(t.databaseUrl, { max: 3 });
    const store = createPostgresEventStore(database.pool);
    // writes keep coming while the rebuild runs
    const writes = (async () => {
      for (let i = 0; i < 10; i++) await caller.post(`/manage/v1/clients/${ids[0]}/redirect-uris`, { uri: `https://during.example/${i}` });
    })();
    await rebuildReadModels(database, store);
    await writes;
    await store.close();
    await database.destroy();
    const after = await caller.patch(`/manage/v1/clients/${ids[0]}`, { name: 'After the swap' });
    expect(after.status).toBe(200);
    const details = (await caller.get(`/manage/v1/clients/${ids[0]}`)).body;
    expect(details.name).toBe('After the swap');
    expect(details.redirectUris).toEqual([...before.redirectUris, ...Array.from({ length: 10 }, (_, i) => `https://during.example/${i}`)]);
    const check = openDatabase(t.databaseUrl, { max: 2 });
    try {
      const checkStore = createPostgresEventStore(check.pool);
      await rebuildReadModels(check, checkStore, { swap: false, schema: 'rm_compare2' });
      await checkStore.close();
      expect(await dumpReadModels(t.databaseUrl, 'rm_compare2')).toEqual(await dumpReadModels(t.databaseUrl, 'rm'));
    } finally {
      await check.destroy();
    }
  });
});

describe('crash safety', () => {
  it('when the projector process is killed mid-batch and restarted, then the read models equal a full rebuild', async () => {
    const url = await createTestDatabase();
    const database = openDatabase(url, { max: 4 });
    const store = createPostgresEventStore(database.pool);
    // a backlog: 60 clients × 100 events
    for (let c = 0; c < 60; c++) {
      const clientId = `kc_crash${c}`;
      const events = [newEvent('ClientRegistered', { clientId, organisationId: 'org_crash', name: `C${c}` })];
      for (let i = 0; i < 99; i++) {
        events.push(i % 3 === 0 ? newEvent('RedirectUriAdded', { uri: `https://c${c}.example/${i}` }) : newEvent('ClientRenamed', { name: `C${c}-${i}`, previousName: 'x' }));
      }
      await store.append(`client-${clientId}`, events, { expectedRevision: 'no_stream' });
    }
    // the policy lane's progress (the one the blocker stops); the audit lane runs on by itself
    const checkpoint = async () => {
      const { rows } = await database.pool.query<{ n: string }>(`SELECT count(*) AS n FROM rm.redirect_uris`);
      return Number(rows[0]!.n);
    };
    const audited = async () => {
      const { rows } = await database.pool.query<{ n: string }>(`SELECT count(*) AS n FROM rm.audit_log`);
      return Number(rows[0]!.n);
    };
    const runProjector = () =>
      spawn(process.execPath, ['--import', 'tsx', 'test/support/projector-process.ts'], {
        env: { ...process.env, DATABASE_URL: url },
        stdio: ['ignore', 'ignore', 'inherit'],
      });

    // Stop the projector mid-batch on purpose, not by luck: an open transaction holds the read-model
    // row of the last client, so the batch that registers it waits inside its transaction (the
    // batches before it committed). Then kill it there.
    const blocker = await database.pool.connect();
    const blockerPid = (await blocker.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    await blocker.query('BEGIN');
    await blocker.query(
      `INSERT INTO rm.clients (client_id, organisation_id, name, status, created_at, updated_at, revision) VALUES ('kc_crash59', 'org_crash', 'blocker', 'active', now(), now(), 0)`,
    );
    const first = runProjector();
    const firstExited = new Promise((resolve) => first.once('exit', resolve));
    await vi.waitFor(
      async () => {
        const { rows } = await database.pool.query<{ n: string }>(
          `SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid <> $1`,
          [blockerPid],
        );
        expect(Number(rows[0]!.n)).toBeGreaterThan(0);
      },
      { timeout: 60_000, interval: 20 },
    );
    first.kill('SIGKILL');
    await firstExited;
    // the killed batch's backend goes on when the row is released, finds its client gone and rolls back
    await blocker.query('ROLLBACK');
    blocker.release();
    const projectedBeforeKill = await checkpoint();
    expect(projectedBeforeKill).toBeGreaterThan(0);
    expect(projectedBeforeKill).toBeLessThan(60 * 33);

    const second = runProjector();
    await vi.waitFor(async () => expect(await checkpoint()).toBe(60 * 33), { timeout: 60_000, interval: 20 });
    await vi.waitFor(async () => expect(await audited()).toBe(6_000), { timeout: 60_000, interval: 20 });
    second.kill('SIGTERM');
    await new Promise((r) => second.once('exit', r));

    await rebuildReadModels(database, store, { swap: false, schema: 'rm_compare' });
    expect(await dumpReadModels(url, 'rm_compare')).toEqual(await dumpReadModels(url, 'rm'));
    await store.close();
    await database.destroy();
  }, 300_000);
});
