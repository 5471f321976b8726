import { afterAll, beforeAll, expect, it } from 'vitest';
import { CONNECTION_KINDS, type Cluster, eventually, startCluster } from './cluster.ts';
import { type Traffic, type World, createWorld, expectNothingLost, expectWhole, startTraffic } from './traffic.ts';

// Finding 1: a connection that drops (here: pg_terminate_backend) must never end the process;
// whoever held it reconnects, and the node is whole again without a restart.

let cluster: Cluster;
let world: World;
let traffic: Traffic;
beforeAll(async () => {
  cluster = await startCluster({ nodes: 2 });
  world = await createWorld(cluster);
}, 180_000);
afterAll(async () => {
  await traffic?.stop();
  world?.user.socket.disconnect();
  world?.agent.socket.disconnect();
  await cluster?.close();
}, 120_000);

it('when each kind of database connection is terminated in turn under traffic, then the nodes reconnect and lose nothing', async () => {
  // Every connection a node holds has a name that says what it is for.
  const named = await cluster.query<{ application_name: string }>(
    "SELECT DISTINCT application_name FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE 'keyledger%'",
  );
  expect(new Set(named.map((r) => r.application_name))).toEqual(new Set(CONNECTION_KINDS));

  traffic = startTraffic(world);
  for (const kind of CONNECTION_KINDS) {
    // Some traffic of every kind before the fault, so that it hits connections in use.
    const before = { ...traffic.counts };
    await eventually(async () => (traffic.counts['valid 200'] ?? 0) > (before['valid 200'] ?? 0) && (traffic.counts['write 201'] ?? 0) > (before['write 201'] ?? 0), `${kind}: traffic flows`);
    expect(await cluster.terminate(kind), `${kind} connections terminated`).toBeGreaterThan(0);
    if (kind !== 'keyledger-app' && kind !== 'keyledger-projector') {
      // long-lived connections come back by themselves
      await eventually(async () => (await cluster.connections(kind)) > 0, `${kind} reconnected`);
    }
    await expectWhole(world, `after terminating ${kind}`);
  }
  // The LISTENing connections are all back: the adapter's and the watcher's, one per node.
  expect(await cluster.connections('keyledger-socket.io', { listening: true })).toBe(2);
  expect(await cluster.connections('keyledger-watcher')).toBe(2);

  await traffic.stop();
  await expectNothingLost(world, traffic);
  // the refusals were really exercised, and writes and messages were acknowledged throughout
  expect(traffic.counts['disabled 403']).toBeGreaterThan(0);
  expect(traffic.counts['wrong_secret 401']).toBeGreaterThan(0);
  expect(traffic.ackedWrites.length).toBeGreaterThan(CONNECTION_KINDS.length);
  expect(traffic.ackedMessages.size).toBeGreaterThan(0);
}, 600_000);
