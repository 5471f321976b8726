import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { openDatabase, type Database } from '../src/db/database.ts';
import { createPostgresEventStore, type PostgresEventStore } from '../src/eventstore/postgres.ts';
import { type NewEvent, type Position, comparePositions, parsePosition } from '../src/eventstore/port.ts';
import { createLogger } from '../src/logger.ts';
import { createProjector } from '../projections/runner.ts';
import { laneLock, readCheckpoints } from '../projections/apply.ts';
import { type LaneName, PROJECTION_GROUPS } from '../projections/index.ts';
import { rebuildReadModels } from '../projections/rebuild.ts';
import { startTestApp, type TestApp } from './support/app.ts';
import { createTestDatabase } from './support/database.ts';
import { signUp } from './support/http.ts';
import { dumpReadModels } from './support/read-models.ts';

function newEvent(type: string, data: unknown): NewEvent {
  const id = randomUUID();
  return { id, type, data, metadata: { actor: 'system', correlationId: id, causationId: id, requestId: id, ip: null, userAgent: null, at: '2026-03-01T09:00:00.000Z' } };
}
const ticketOpened = (ticketId: string) => newEvent('TicketOpened', { ticketId, subject: 'Help', group: 'account', clientId: null, openedBy: 1 });
const message = (seq: number) =>
  newEvent('TicketMessagePosted', { seq, author: 1, authorRole: 'user', text: `message ${seq}`, clientMessageId: `m${seq}` });

async function laneAt(database: Database, lane: LaneName): Promise<Position> {
  return (await readCheckpoints(database.rm)).get(lane)!;
}

/** Waits (by polling the checkpoint table, no fixed sleep) until `lane` reached `position`. */
async function waitForLane(database: Database, lane: LaneName, position: Position): Promise<void> {
  await vi.waitFor(async () => expect(comparePositions(await laneAt(database, lane), position)).toBeGreaterThanOrEqual(0), { timeout: 60_000, interval: 20 });
}

/**
 * Holds the support lane's batch lock: its next batch waits at its start until released, on
 * purpose and not by luck. (An open transaction that wrote something would hold back every
 * event reader instead: readers take only events older than the oldest running transaction.)
 */
async function blockSupportLane(database: Database) {
  const blocker = await database.pool.connect();
  await blocker.query('SELECT pg_advisory_lock(1262, $1)', [laneLock('support')]);
  let held = true;
  return {
    async release() {
      if (!held) return;
      held = false;
      await blocker.query('SELECT pg_advisory_unlock(1262, $1)', [laneLock('support')]);
      blocker.release();
    },
  };
}

describe('projection lanes', () => {
  let url: string;
  let database: Database;
  let store: PostgresEventStore;
  beforeAll(async () => {
    url = await createTestDatabase();
    database = openDatabase(url, { max: 6 });
    store = createPostgresEventStore(database.pool);
  });
  afterAll(async () => {
    await store?.close();
    await database?.destroy();
  });

  it('when a new group starts from zero, then it catches up alone while the policy lane stays current', async () => {
    const logger = createLogger({ level: 'warn' });
    await store.append('client-kc_lane', [newEvent('ClientRegistered', { clientId: 'kc_lane', organisationId: 'org_lane', name: 'Before' })], { expectedRevision: 'no_stream' });
    await store.append('ticket-tk_lane', [ticketOpened('tk_lane'), ...Array.from({ length: 200 }, (_, i) => message(i + 1))], { expectedRevision: 'no_stream' });
    // yesterday's version: without the support group
    const old = createProjector({ database, store, logger, groups: PROJECTION_GROUPS.filter((g) => g.name !== 'support') });
    old.start();
    const head = await store.headPosition();
    await waitForLane(database, 'policy', head);
    await waitForLane(database, 'audit', head);
    await old.stop();
    // today's: the support group is new (no checkpoint) and stuck on its first batch
    await database.pool.query(`DELETE FROM rm.checkpoints WHERE projection = 'support'`);
    const blocker = await blockSupportLane(database);
    const projector = createProjector({ database, store, logger });
    projector.start();
    try {
      const renamed = await store.append('client-kc_lane', [newEvent('ClientRenamed', { name: 'After', previousName: 'Before' })], { expectedRevision: 0n });
      await waitForLane(database, 'policy', renamed.position);
      expect((await database.rm.selectFrom('clients').select('name').executeTakeFirstOrThrow()).name).toBe('After');
      // the new lane has not got anywhere yet: the policy lane did not wait for it
      expect(comparePositions(await laneAt(database, 'support'), head)).toBeLessThan(0);
      await blocker.release();
      await waitForLane(database, 'support', renamed.position);
      expect((await database.rm.selectFrom('tickets').select('last_seq').executeTakeFirstOrThrow()).last_seq).toBe(200);
    } finally {
      await projector.stop();
    }
    await rebuildReadModels(database, store, { swap: false, schema: 'rm_lanes_compare' });
    expect(await dumpReadModels(url, 'rm_lanes_compare')).toEqual(await dumpReadModels(url, 'rm'));
  }, 180_000);
});

describe('ticket load and policy changes', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => {
    await t?.close();
  });

  it('when the support lane is held up, then a policy change is still projected, answered and invalidated', async () => {
    const { caller } = await signUp(t.url);
    const { clientId } = (await caller.post('/manage/v1/clients', { name: 'Lane test' })).body;
    const { store, watcher, database } = t.app.ctx;
    const blocker = await blockSupportLane(database);
    try {
      // a backlog of ticket traffic the support lane cannot get through
      const tickets = await store.append('ticket-tk_busy', [ticketOpened('tk_busy'), ...Array.from({ length: 300 }, (_, i) => message(i + 1))], { expectedRevision: 'no_stream' });
      const invalidated = new Promise<void>((resolve) => {
        const stop = watcher.onChange((change) => {
          if (change.lane === 'policy' && change.clientIds.includes(clientId)) {
            stop();
            resolve();
          }
        });
      });
      const renamed = await caller.patch(`/manage/v1/clients/${clientId}`, { name: 'Renamed under load' });
      expect(renamed.status).toBe(200);
      // the write was answered once its lanes had it: the held-up support lane did not delay it
      expect(watcher.reached(parsePosition(renamed.body.position)!, ['policy', 'audit'])).toBe(true);
      await invalidated;
      expect((await caller.get(`/manage/v1/clients/${clientId}`)).body.name).toBe('Renamed under load');
      expect(watcher.reached(tickets.position, ['support'])).toBe(false);
      await blocker.release();
      expect(await watcher.waitFor(tickets.position, 60_000, ['support'])).toBe(true);
    } finally {
      await blocker.release();
    }
  }, 180_000);
});
