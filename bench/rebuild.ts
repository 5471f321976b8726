/**
 * Section 4: rebuild speed. In a fresh migrated database, appends realistic client histories
 * straight to the event store (2,000 clients × 100 events by default: ClientRegistered, then a
 * mix of renames, redirect URIs, domains added and updated, secrets issued and linked), in
 * batches of 10 per client, clients interleaved; then times rebuildReadModels.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import cliProgress from 'cli-progress';
import { migrate, openDatabase } from '../src/db/database.ts';
import { createPostgresEventStore } from '../src/eventstore/postgres.ts';
import type { EventMetadata, NewEvent } from '../src/eventstore/port.ts';
import { rebuildReadModels } from '../projections/rebuild.ts';
import { type BenchOptions, type Figure, countQueries, cpuSplit, createDatabase, describeQueries, int, postgresCpuMs } from './lib.ts';

const EVENTS_PER_CLIENT = 100;
const BATCH = 10;
const LOADERS = 4;
const ORGANISATIONS = 50;

interface ClientHistory {
  readonly clientId: string;
  readonly events: NewEvent[];
}

/** One client's history: always consistent (updates and links name domains and secrets it has). */
function history(index: number, count: number, start: number): ClientHistory {
  const clientId = `kc_bench${index.toString().padStart(6, '0')}`;
  const actor = String(1 + (index % ORGANISATIONS));
  const domains: string[] = [];
  const secrets: string[] = [];
  let name = `Client ${index}`;
  const events: NewEvent[] = [];
  const push = (type: string, data: unknown) => {
    const id = randomUUID();
    const metadata: EventMetadata = {
      actor,
      correlationId: id,
      causationId: id,
      requestId: id,
      ip: '203.0.113.7',
      userAgent: 'bench',
      at: new Date(start + events.length * 60_000).toISOString(),
    };
    events.push({ id, type, data, metadata });
  };
  const issueSecret = () => {
    const secretId = `sec_${randomBytes(8).toString('hex')}`;
    const secret = `klsk_${randomBytes(24).toString('base64url')}`;
    secrets.push(secretId);
    push('ClientSecretIssued', { secretId, label: 'Standard Key', hint: `klsk_…${secret.slice(-4)}`, secretHash: createHash('sha256').update(secret).digest('hex'), expiresAt: null });
  };
  const addDomain = () => {
    const domainId = `dom_${randomBytes(8).toString('hex')}`;
    domains.push(domainId);
    push('DomainAdded', {
      domainId,
      domain: `app${domains.length}.client${index}.example.com`,
      serverIps: [],
      internalName: null,
      logo: null,
      fallbackUri: null,
      allowLogin: true,
      allowApi: true,
      active: true,
      primary: false,
      testMode: false,
    });
  };

  push('ClientRegistered', { clientId, organisationId: `org_bench${(index % ORGANISATIONS).toString().padStart(4, '0')}`, name });
  if (count > 1) issueSecret();
  while (events.length < count) {
    const roll = Math.random();
    if (roll < 0.25) {
      const next = `Client ${index} v${events.length}`;
      push('ClientRenamed', { name: next, previousName: name });
      name = next;
    } else if (roll < 0.5) push('RedirectUriAdded', { uri: `https://client${index}.example.com/callback/${events.length}` });
    else if (roll < 0.6 || domains.length === 0) addDomain();
    else if (roll < 0.75) push('DomainUpdated', { domainId: domains[Math.floor(Math.random() * domains.length)]!, changes: { active: false } });
    else if (roll < 0.85) issueSecret();
    else push('SecretLinkedToDomain', { secretId: secrets[Math.floor(Math.random() * secrets.length)]!, domainId: domains[Math.floor(Math.random() * domains.length)]! });
  }
  return { clientId, events };
}

export async function rebuildSection(options: BenchOptions, totalEvents: number): Promise<Figure[]> {
  const clients = Math.max(1, Math.round(totalEvents / EVENTS_PER_CLIENT));
  console.log(`\n4. Rebuild: ${int(clients * EVENTS_PER_CLIENT)} events (${int(clients)} clients × ${EVENTS_PER_CLIENT}), appended in batches of ${BATCH}, clients interleaved`);
  const database = openDatabase(await createDatabase(options.adminUrl, 'bench_rebuild'), { max: 10 });
  const store = createPostgresEventStore(database.pool);
  try {
    await migrate(database);
    const start = Date.parse('2025-01-01T00:00:00Z');
    const histories = Array.from({ length: clients }, (_, i) => history(i, EVENTS_PER_CLIENT, start + i * 1000));
    const total = histories.reduce((n, h) => n + h.events.length, 0);

    const bar = new cliProgress.SingleBar({ format: '  loading  {bar} {percentage}% | {value}/{total} events | {eta_formatted} left', hideCursor: true }, cliProgress.Presets.shades_classic);
    bar.start(total, 0);
    const loadStarted = performance.now();
    const batches: { stream: string; events: NewEvent[] }[] = [];
    for (let offset = 0; offset < EVENTS_PER_CLIENT; offset += BATCH) {
      for (const h of histories) batches.push({ stream: `client-${h.clientId}`, events: h.events.slice(offset, offset + BATCH) });
    }
    let next = 0;
    let loaded = 0;
    await Promise.all(
      Array.from({ length: LOADERS }, async () => {
        while (next < batches.length) {
          const batch = batches[next++]!;
          await store.append(batch.stream, batch.events, { expectedRevision: 'any' });
          loaded += batch.events.length;
          bar.update(loaded);
        }
      }),
    );
    bar.stop();
    const loadSeconds = (performance.now() - loadStarted) / 1000;
    console.log(`  loaded ${int(total)} events in ${loadSeconds.toFixed(1)} s (${int(total / loadSeconds)} events/s in ${int(batches.length)} appends)`);

    const rebuildBar = new cliProgress.SingleBar({ format: '  rebuild  {bar} {percentage}% | {value}/{total} events | {eta_formatted} left', hideCursor: true }, cliProgress.Presets.shades_classic);
    rebuildBar.start(total, 0);
    const counter = countQueries();
    const [cpuBefore, postgresBefore, wallBefore] = [process.cpuUsage(), postgresCpuMs(), performance.now()];
    const result = await rebuildReadModels(database, store, { onProgress: (p) => rebuildBar.update(p.done) }).finally(() => {
      counter.stop();
      rebuildBar.stop();
    });
    const split = cpuSplit(performance.now() - wallBefore, process.cpuUsage(cpuBefore), postgresCpuMs() - postgresBefore);
    const queries = counter.stop();
    const perSecond = result.events / result.seconds;
    console.log(`  rebuilt ${int(result.events)} events in ${result.seconds.toFixed(2)} s: ${int(perSecond)} events/s   (target ≥ 5 × the bare-INSERT rate)`);
    console.log(`  ${split}`);
    console.log(describeQueries(queries, result.events, 8).replace('per command', 'per event'));
    return [{ metric: 'rebuild events/s', figure: int(perSecond), target: '' }];
  } finally {
    await store.close();
    await database.destroy();
  }
}
