import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WrongExpectedVersion } from '../src/eventstore/port.ts';
import { startTestApp, type TestApp } from './support/app.ts';
import { eventually } from './faults/cluster.ts';
import { callApi, partnerHeaders, partnerSetup } from './support/partner.ts';

let t: TestApp;
/** a node on the same database without METRICS_PORT */
let plain: TestApp;
let metricsUrl: string;
beforeAll(async () => {
  // unknown ids from one address on purpose: the pre-lookup throttle is tested elsewhere
  t = await startTestApp({ env: { METRICS_PORT: '0', AUTH_FAILURES_PER_IP: '1000000' } });
  plain = await startTestApp({ databaseUrl: t.databaseUrl, runProjector: false });
  metricsUrl = `http://127.0.0.1:${t.app.metricsAddress()!.port}/metrics`;
});
afterAll(async () => {
  await plain?.close();
  await t?.close();
});

async function scrape(): Promise<string> {
  const reply = await fetch(metricsUrl);
  expect(reply.status).toBe(200);
  expect(reply.headers.get('content-type')).toContain('text/plain');
  return await reply.text();
}

/** The value of one sample line (`name{labels} value`), or undefined. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/** The app's own series (the process and runtime series of prom-client's defaults come and go with the GC kinds seen). */
const seriesCount = (text: string) =>
  text.split('\n').filter((l) => l.startsWith('keyledger_') && !l.startsWith('keyledger_process_') && !l.startsWith('keyledger_nodejs_')).length;

describe('GET /metrics', () => {
  it('is served on METRICS_PORT only: the public port answers 404', async () => {
    const publicReply = await fetch(`${t.url}/metrics`);
    expect(publicReply.status).toBe(404);
    expect(await publicReply.text()).not.toContain('keyledger_');
    expect((await fetch(metricsUrl.replace('/metrics', '/'))).status).toBe(404);
  });

  it('is not served at all when METRICS_PORT is unset', async () => {
    expect(plain.app.metricsAddress()).toBeUndefined();
    expect(plain.app.metrics.enabled).toBe(false);
    const reply = await fetch(`${plain.url}/metrics`);
    expect(reply.status).toBe(404);
    expect(await reply.text()).not.toContain('keyledger_');
  });

  it('when a partner calls, then requests by route pattern and status, decisions by reason, cache hits and misses, appends and projection batches are counted', async () => {
    const p = await partnerSetup(t.url, { plan: 'business' });
    expect((await callApi(t.url, '/api/whoami', partnerHeaders(p))).status).toBe(200);
    expect((await callApi(t.url, '/api/whoami', partnerHeaders(p))).status).toBe(200);
    expect((await callApi(t.url, '/api/whoami', partnerHeaders({ ...p, domain: 'other.example.com' }))).status).toBe(403);
    const text = await eventually(async () => {
      const body = await scrape();
      return body.includes('keyledger_projection_batch_events_count{group="policy"}') ? body : undefined;
    }, 'the projector thread posted its batch figures');

    expect(sample(text, 'keyledger_http_request_duration_seconds_count{route="/api/whoami",method="GET",status="200"}')).toBe(2);
    expect(sample(text, 'keyledger_http_request_duration_seconds_count{route="/api/whoami",method="GET",status="403"}')).toBe(1);
    expect(sample(text, 'keyledger_http_request_duration_seconds_count{route="/manage/v1/clients/:clientId/domains",method="POST",status="201"}')).toBe(1);
    expect(text).not.toContain(p.clientId);
    expect(sample(text, 'keyledger_access_decisions_total{reason="allowed"}')).toBe(2);
    expect(sample(text, 'keyledger_access_decisions_total{reason="unknown_domain"}')).toBe(1);
    expect(sample(text, 'keyledger_access_decisions_total{reason="invalid_secret"}')).toBe(0);
    expect(sample(text, 'keyledger_policy_cache_misses_total')).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'keyledger_policy_cache_hits_total')).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'keyledger_policy_cache_invalidations_total')).toBeGreaterThanOrEqual(0);
    expect(sample(text, 'keyledger_eventstore_append_duration_seconds_count{outcome="ok"}')).toBeGreaterThanOrEqual(3);
    expect(sample(text, 'keyledger_projection_lag_seconds_count{group="policy"}')).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'keyledger_decision_log_queue_depth')).toBeGreaterThanOrEqual(0);
    expect(sample(text, 'keyledger_decision_log_dropped_total')).toBe(0);
    expect(sample(text, 'keyledger_support_sockets')).toBe(0);
  });

  it('when an append meets a wrong expected revision, then it is counted as a conflict', async () => {
    const before = sample(await scrape(), 'keyledger_eventstore_append_conflicts_total') ?? 0;
    const event = {
      id: randomUUID(),
      type: 'MetricsProbe',
      data: {},
      metadata: { actor: 'system', correlationId: 'c', causationId: 'c', requestId: 'r', ip: null, userAgent: null, at: new Date().toISOString() },
    };
    await expect(t.app.ctx.store.append(`probe-${randomUUID()}`, [event], { expectedRevision: 3n })).rejects.toBeInstanceOf(WrongExpectedVersion);
    const text = await scrape();
    expect(sample(text, 'keyledger_eventstore_append_conflicts_total')).toBe(before + 1);
    expect(sample(text, 'keyledger_eventstore_append_duration_seconds_count{outcome="conflict"}')).toBeGreaterThanOrEqual(1);
  });

  it('when 10,000 requests come with unknown client ids and random paths, then no series is added', async () => {
    const randomId = () => `kc_${randomBytes(12).toString('hex')}`;
    const paths = [
      () => ({ path: '/api/whoami', headers: partnerHeaders({ clientId: randomId(), secret: 'x', domain: 'a.example.com' }) }),
      () => ({ path: '/api/whoami', headers: partnerHeaders({ clientId: randomId(), secret: `kls_${randomBytes(20).toString('hex')}`, domain: `${randomBytes(4).toString('hex')}.example.com` }) }),
      () => ({ path: `/api/${randomBytes(6).toString('hex')}`, headers: {} }),
      () => ({ path: `/${randomBytes(6).toString('hex')}/${randomBytes(3).toString('hex')}`, headers: {} }),
      () => ({ path: `/manage/v1/clients/${randomId()}`, headers: {} }),
    ];
    const send = async (n: number) => {
      for (let i = 0; i < n; i += 100) {
        await Promise.all(
          Array.from({ length: Math.min(100, n - i) }, async (_, k) => {
            const { path, headers } = paths[(i + k) % paths.length]!();
            const reply = await fetch(t.url + path, { headers });
            await reply.arrayBuffer();
            expect(reply.status).toBeGreaterThanOrEqual(400);
          }),
        );
      }
    };
    await send(100);
    const before = seriesCount(await scrape());
    await send(10_000);
    const after = await scrape();
    expect(seriesCount(after)).toBe(before);
    expect(sample(after, 'keyledger_http_request_duration_seconds_count{route="(unmatched)",method="GET",status="404"}')).toBeGreaterThanOrEqual(4_000);
  }, 300_000);
});
