import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './support/app.ts';
import { testClock } from './support/clock.ts';
import { callApi, partnerHeaders, partnerSetup } from './support/partner.ts';

// Two app nodes on one database, one injected clock (stopped inside a window while the burst
// runs): the plan's requests per minute hold for the cluster, not per node.

const clock = testClock();
let a: TestApp;
let b: TestApp;
beforeAll(async () => {
  a = await startTestApp({ now: clock.now });
  b = await startTestApp({ databaseUrl: a.databaseUrl, runProjector: false, now: clock.now });
});
afterAll(async () => {
  await b?.close();
  await a?.close();
});

/** Stops the clock just after the start of the next minute: the burst falls in one window. */
function freezeAtNextWindow(): void {
  const at = clock.freeze();
  clock.advance(60_000 - (at % 60_000) + 1);
}

it('when 1,000 requests of a starter client (600 a minute) go to two nodes in one window, then about 600 are allowed in all, the rest 429 rate_limited, without a lease per request', async () => {
  const p = await partnerSetup(a.url, { plan: 'starter' });
  const headers = partnerHeaders(p);
  freezeAtNextWindow();
  try {
    const leasesBefore = a.app.access.limiter.leases + b.app.access.limiter.leases;
    const statuses: number[] = [];
    const codes = new Set<string>();
    for (let i = 0; i < 1_000; i += 50) {
      const batch = await Promise.all(
        Array.from({ length: 50 }, (_, k) => callApi((i + k) % 2 === 0 ? a.url : b.url, '/api/whoami', headers)),
      );
      for (const reply of batch) {
        statuses.push(reply.status);
        if (reply.status !== 200) codes.add(`${reply.status} ${reply.body.code}`);
      }
    }
    const allowed = statuses.filter((s) => s === 200).length;
    expect(Math.abs(allowed - 600)).toBeLessThanOrEqual(60);
    expect([...codes]).toEqual(['429 rate_limited']);
    // each node answered some of the allowed ones (neither counted alone up to 600)
    const leases = a.app.access.limiter.leases + b.app.access.limiter.leases - leasesBefore;
    expect(leases).toBeGreaterThan(1);
    expect(leases).toBeLessThan(allowed / 4);

    // the next window has a fresh budget, on both nodes
    clock.advance(60_000);
    expect((await callApi(a.url, '/api/whoami', headers)).status).toBe(200);
    expect((await callApi(b.url, '/api/whoami', headers)).status).toBe(200);
  } finally {
    clock.release();
  }
});

it('when one node took a share and goes quiet, then what it did not use goes back to the window and the other node can spend it', async () => {
  const p = await partnerSetup(a.url, { plan: 'starter' });
  const headers = partnerHeaders(p);
  freezeAtNextWindow();
  try {
    // node A leases a share (12 of 600) and spends one
    expect((await callApi(a.url, '/api/whoami', headers)).status).toBe(200);
    // it shuts its buckets (as an idle bucket or a stopping node does): the unused 11 go back
    await a.app.access.limiter.close();
    const statuses: number[] = [];
    for (let i = 0; i < 650; i += 50) {
      const batch = await Promise.all(Array.from({ length: 50 }, () => callApi(b.url, '/api/whoami', headers)));
      statuses.push(...batch.map((r) => r.status));
    }
    // 600 in the window: 1 on A, 599 on B
    expect(statuses.filter((s) => s === 200).length).toBe(599);
  } finally {
    clock.release();
  }
});
