import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { DENIAL_REASONS, type DenialReason } from '../access/policy.ts';

/**
 * The app's Prometheus metrics (DESIGN §10, served by ./server.ts on METRICS_PORT only). One
 * registry per app, so several apps in one process (tests, benches) never share series.
 *
 * Every label takes values from a closed set — route patterns, not paths; reason codes; known
 * socket events; projection group names — so no request can add a series. Hot-path figures
 * (decisions, cache hits) are plain counters their owners keep and this module reads at scrape
 * time; the request histogram keeps one child per (route, method, status) so a request pays one
 * map lookup and one observe.
 *
 * The write side calls `projectionBatch` (from the projector thread's messages) and
 * `eventStoreAppend` (instrumentEventStore wraps any EventStore); a reworked projector or event
 * store only needs to call these with its own group names and outcomes.
 */

export type AccessOutcome = 'allowed' | DenialReason;
export type AppendOutcome = 'ok' | 'duplicate' | 'conflict' | 'error';

export interface ProjectionBatchStats {
  /** the projection group (lane) whose checkpoint the batch moved */
  readonly group: string;
  readonly events: number;
  /** commit of the batch − the decision time (metadata.at) of its newest event */
  readonly lagSeconds: number;
  /** how long the batch's transaction took */
  readonly seconds: number;
}

/** Plain counters read at scrape time; their owners bump them without calling into prom-client. */
export interface MetricSources {
  accessDecisions?: () => Readonly<Record<AccessOutcome, number>>;
  policyCache?: () => { hits: number; misses: number; invalidations: number; clears: number; entries: number };
  decisionLog?: () => { queueDepth: number; dropped: number };
  supportSockets?: () => number;
}

export interface Metrics {
  readonly enabled: boolean;
  readonly registry: Registry;
  readonly sources: MetricSources;
  /** one finished HTTP request; `route` is a route pattern (or `(unmatched)`), never a raw path */
  httpRequest(routeKey: object | undefined, route: () => string, method: string, status: number, seconds: number): void;
  projectionBatch(stats: ProjectionBatchStats): void;
  eventStoreAppend(seconds: number, outcome: AppendOutcome): void;
  /** a live-support socket event answered (its ack sent), by event name */
  supportEvent(event: string, seconds: number, ok: boolean): void;
}

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'OTHER'] as const;
const METHOD_INDEX = new Map<string, number>(METHODS.map((m, i) => [m, i]));
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** projection groups and support events outside these sets are reported as `other` */
const MAX_GROUPS = 32;

/** Metrics that record nothing: METRICS_PORT unset, nothing is served, nothing is paid. */
export function disabledMetrics(): Metrics {
  const noop = () => {};
  return { enabled: false, registry: new Registry(), sources: {}, httpRequest: noop, projectionBatch: noop, eventStoreAppend: noop, supportEvent: noop };
}

export function createMetrics(options: { supportEvents?: ReadonlySet<string> } = {}): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'keyledger_' });
  const sources: MetricSources = {};
  const supportEvents = options.supportEvents ?? new Set<string>();

  const requests = new Histogram({
    name: 'keyledger_http_request_duration_seconds',
    help: 'HTTP requests by route pattern, method and status',
    labelNames: ['route', 'method', 'status'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });
  // one child per (route object, method, status): no label hashing per request
  const children = new WeakMap<object, Map<number, Histogram.Internal<'route' | 'method' | 'status'>>>();
  const unmatched = {};

  new Counter({
    name: 'keyledger_access_decisions_total',
    help: 'Access pipeline decisions (DESIGN §6) by outcome: allowed, or the denial reason',
    labelNames: ['reason'] as const,
    registers: [registry],
    collect() {
      const counts = sources.accessDecisions?.();
      if (!counts) return;
      this.reset();
      for (const reason of ['allowed', ...DENIAL_REASONS] as const) this.inc({ reason }, counts[reason] ?? 0);
    },
  });

  const cacheCounter = (name: string, help: string, pick: (c: NonNullable<ReturnType<NonNullable<MetricSources['policyCache']>>>) => number) =>
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        const c = sources.policyCache?.();
        if (!c) return;
        this.reset();
        this.inc(pick(c));
      },
    });
  cacheCounter('keyledger_policy_cache_hits_total', 'Access requests answered from the cached policy', (c) => c.hits);
  cacheCounter('keyledger_policy_cache_misses_total', 'Access requests that loaded a policy from the read models', (c) => c.misses);
  cacheCounter('keyledger_policy_cache_invalidations_total', 'Cached clients dropped because the projector announced a change', (c) => c.invalidations);
  cacheCounter('keyledger_policy_cache_clears_total', 'Whole-cache drops (rebuild swap, notification connection lost or regained)', (c) => c.clears);
  new Gauge({
    name: 'keyledger_policy_cache_entries',
    help: 'Clients in the policy cache',
    registers: [registry],
    collect() {
      const c = sources.policyCache?.();
      if (c) this.set(c.entries);
    },
  });

  new Gauge({
    name: 'keyledger_decision_log_queue_depth',
    help: 'Denials waiting to be written to the decision log',
    registers: [registry],
    collect() {
      const d = sources.decisionLog?.();
      if (d) this.set(d.queueDepth);
    },
  });
  new Counter({
    name: 'keyledger_decision_log_dropped_total',
    help: 'Denials dropped because the decision-log queue was full (they are still counted per minute)',
    registers: [registry],
    collect() {
      const d = sources.decisionLog?.();
      if (!d) return;
      this.reset();
      this.inc(d.dropped);
    },
  });

  const groups = new Set<string>();
  const groupOf = (group: string) => (groups.has(group) || (groups.size < MAX_GROUPS && groups.add(group)) ? group : 'other');
  const projectionLag = new Histogram({
    name: 'keyledger_projection_lag_seconds',
    help: "Per projection group: a batch's commit minus the decision time of its newest event",
    labelNames: ['group'] as const,
    buckets: [0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [registry],
  });
  const projectionBatchSize = new Histogram({
    name: 'keyledger_projection_batch_events',
    help: 'Per projection group: events in a committed batch',
    labelNames: ['group'] as const,
    buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000],
    registers: [registry],
  });
  const projectionBatchSeconds = new Histogram({
    name: 'keyledger_projection_batch_duration_seconds',
    help: "Per projection group: a batch's transaction time",
    labelNames: ['group'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });

  const appends = new Histogram({
    name: 'keyledger_eventstore_append_duration_seconds',
    help: 'Event-store appends by outcome (ok, duplicate, conflict, error)',
    labelNames: ['outcome'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });
  const conflicts = new Counter({
    name: 'keyledger_eventstore_append_conflicts_total',
    help: 'Appends refused for a wrong expected revision (concurrent writers to one stream)',
    registers: [registry],
  });

  new Gauge({
    name: 'keyledger_support_sockets',
    help: 'Live-support sockets connected to this node',
    registers: [registry],
    collect() {
      const n = sources.supportSockets?.();
      if (n !== undefined) this.set(n);
    },
  });
  const supportLatency = new Histogram({
    name: 'keyledger_support_event_duration_seconds',
    help: 'Live-support socket events: receipt to acknowledgement, by event and outcome',
    labelNames: ['event', 'outcome'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });

  return {
    enabled: true,
    registry,
    sources,
    httpRequest(routeKey, route, method, status, seconds) {
      const key = routeKey ?? unmatched;
      let byStatus = children.get(key);
      if (!byStatus) children.set(key, (byStatus = new Map()));
      const methodIndex = METHOD_INDEX.get(method) ?? METHODS.length - 1;
      // the same route object serves one path pattern; status and method pick the child
      const slot = status * 8 + methodIndex;
      let child = byStatus.get(slot);
      if (!child) {
        child = requests.labels(routeKey ? route() : '(unmatched)', METHODS[methodIndex]!, String(status));
        byStatus.set(slot, child);
      }
      child.observe(seconds);
    },
    projectionBatch(stats) {
      const group = groupOf(stats.group);
      projectionLag.labels(group).observe(Math.max(0, stats.lagSeconds));
      projectionBatchSize.labels(group).observe(stats.events);
      projectionBatchSeconds.labels(group).observe(stats.seconds);
    },
    eventStoreAppend(seconds, outcome) {
      appends.labels(outcome).observe(seconds);
      if (outcome === 'conflict') conflicts.inc();
    },
    supportEvent(event, seconds, ok) {
      supportLatency.labels(supportEvents.has(event) ? event : 'other', ok ? 'ok' : 'refused').observe(seconds);
    },
  };
}
