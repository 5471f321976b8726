import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { DENIAL_REASONS, type DenialReason } from '../src/access/policy.ts';
import { generateSecret } from '../src/clients/secret-format.ts';
import { CHECK_OF } from '../src/audit/checks.ts';
import { findDenial, loadActors } from '../src/audit/denials.ts';
import { explainDecision } from '../src/audit/explain.ts';
import { historyOf, readClientHistory } from '../src/audit/history.ts';
import type { Position } from '../src/eventstore/port.ts';
import { startTestApp, type TestApp } from './support/app.ts';
import { signUp } from './support/http.ts';
import { DOMAIN_POOL, HistoryBuilder, stepArbitrary, type AppendBatch } from './support/histories.ts';

/**
 * DESIGN §11: the replay of a denial — the events folded up to the position it was logged at,
 * decided by the live code — agrees with the logged decision. Random histories are written to
 * the real event store and projected by the running app; between their steps the app's clock
 * moves and real partner requests (random secrets, domains, IPs, endpoints, client ids) go
 * through the real pipeline over HTTP. Then every logged denial is explained and must agree:
 * the replayed reason, the failing check and the cause's event type.
 */

let t: TestApp;
let clock = Date.parse('2026-03-01T09:00:00Z');
beforeAll(async () => {
  // X-Forwarded-For sets the caller's IP, so the requests can come from anywhere
  t = await startTestApp({ now: () => new Date(clock), env: { TRUST_PROXY: 'true', LOG_LEVEL: 'warn', AUTH_FAILURES_PER_IP: '1000000' } });
});
afterAll(async () => {
  await t?.close();
});

/** stop adding histories once this many requests were refused */
const DENIALS = Number(process.env.AGREEMENT_DENIALS ?? 1_200);
const MAX_HISTORIES = 40;
const IPS = ['10.1.2.3', '203.0.113.7', '::ffff:10.1.2.3', '2001:db8::1', '127.0.0.1', '198.51.100.9', '::1'];
const ENDPOINTS = [
  { path: '/api/whoami' },
  { path: '/api/sign-token', body: { redirect_url: 'https://shop.example/cb' } },
  { path: '/api/get/user/address', body: { sub: 1 } },
  { path: '/api/global/countries', body: {} },
  { path: '/api/get/user/info', body: { sub: 999_999 } },
];

async function append(batches: AppendBatch[]): Promise<void> {
  let last: Position | undefined;
  for (const batch of batches) {
    const result = await t.app.ctx.store.append(
      batch.stream,
      batch.events.map((e) => ({ id: randomUUID(), type: e.type, data: e.data, metadata: batch.metadata })),
      { expectedRevision: 'any' },
    );
    last = result.position;
  }
  if (last) expect(await t.app.ctx.watcher.waitFor(last, 30_000)).toBe(true);
}

/** An address inside each allowlist entry the histories use. */
const INSIDE: Record<string, string> = { '10.0.0.0/8': '10.1.2.3', '203.0.113.7': '203.0.113.7', '2001:db8::/32': '2001:db8::1', '10.1.2.3': '10.1.2.3', '127.0.0.0/8': '127.0.0.1', '198.51.100.0/24': '198.51.100.9', '::1': '::1' };

/**
 * A random request a partner server (or someone else) might send: mostly with what the client
 * has now (a current domain, a secret linked to it, an address on its list), so that every check
 * of the pipeline gets its turn; sometimes anything at all.
 */
function request(builder: HistoryBuilder, next: () => number): { path: string; body?: unknown; headers: Record<string, string> } {
  const pick = <T>(list: readonly T[], n: number) => list[n % list.length]!;
  const state = builder.state;
  const domains = state ? [...state.domains.values()] : [];
  const domain = domains.length > 0 && next() % 10 < 7 ? pick(domains, next()) : undefined;
  const sentDomain = domain ? pick([domain.domain, domain.domainId, domain.domain.toUpperCase(), `${domain.domain}:443`], next()) : pick([...DOMAIN_POOL, 'unknown.example'], next());
  const linked = builder.secrets.filter((s) => state?.secrets.get(s.secretId)?.status === 'active' && (!domain || state.links.has(`${s.secretId}:${domain.domainId}`)));
  const roll = next() % 10;
  const secret =
    roll < 6 && linked.length > 0
      ? pick(linked, next()).secret
      : roll < 8 && builder.secrets.length > 0
        ? pick(builder.secrets, next()).secret
        : roll < 9
          ? generateSecret().secret
          : 'klsk_not-a-valid-secret';
  const clientRoll = next() % 40;
  const clientId = clientRoll === 0 ? 'kc_neverexisted0000' : clientRoll === 1 ? builder.otherClientId : clientRoll === 2 ? 'not a client id' : builder.clientId;
  const ip = domain && domain.serverIps.length > 0 && next() % 10 < 7 ? (INSIDE[pick(domain.serverIps, next())] ?? '10.1.2.3') : pick(IPS, next());
  const endpoint = pick(ENDPOINTS, next());
  const headers: Record<string, string> = { 'X-Client-Id': clientId, 'X-Client-Secret': secret, 'X-Client-Domain': sentDomain, 'X-Forwarded-For': ip, Accept: 'application/json' };
  if (next() % 40 === 0) delete headers['X-Client-Secret'];
  return { path: endpoint.path, body: endpoint.body, headers };
}

async function send(req: { path: string; body?: unknown; headers: Record<string, string> }) {
  const res = await fetch(t.url + req.path, {
    method: req.body === undefined ? 'GET' : 'POST',
    headers: req.body === undefined ? req.headers : { ...req.headers, 'Content-Type': 'application/json' },
    body: req.body === undefined ? undefined : JSON.stringify(req.body),
  });
  const body = (await res.json()) as { code?: string };
  return { status: res.status, denied: res.status !== 200 && body.code !== undefined && (DENIAL_REASONS as readonly string[]).includes(body.code) };
}

/** Events that must be named as the cause of these reasons (whenever the log holds one). */
const CAUSE_TYPES: Partial<Record<DenialReason, readonly string[]>> = {
  plan_inactive: ['PlanCancelled'],
  client_disabled: ['ClientDisabled'],
  secret_revoked: ['ClientSecretRevoked'],
  secret_expired: ['ClientSecretRotated', 'ClientSecretIssued'],
  secret_not_linked: ['SecretUnlinkedFromDomain', 'ClientSecretIssued', 'ClientSecretRotated', 'DomainAdded'],
  domain_inactive: ['DomainUpdated', 'DomainAdded'],
  api_not_allowed: ['DomainUpdated', 'DomainAdded'],
  login_not_allowed: ['DomainUpdated', 'DomainAdded'],
  ip_not_allowed: ['DomainUpdated', 'DomainAdded'],
  test_user_required: ['DomainUpdated', 'DomainAdded'],
};

it(
  'when at least 1,000 denials of every reason are explained, then every replay agrees with the logged decision',
  async () => {
    const histories = fc.sample(fc.tuple(fc.array(stepArbitrary, { minLength: 20, maxLength: 35 }), fc.array(fc.nat(1_000_000), { minLength: 1_000, maxLength: 1_000 })), {
      numRuns: MAX_HISTORIES,
      seed: Number(process.env.AGREEMENT_SEED ?? 8),
    });
    let refused = 0;
    for (const [steps, randoms] of histories) {
      if (refused >= DENIALS) break;
      const builder = new HistoryBuilder(clock);
      await append(builder.start());
      let k = 0;
      const next = () => randoms[k++ % randoms.length]!;
      for (const step of steps) {
        await append(builder.apply({ ...step, delta: 0 }));
        clock += step.delta;
        builder.clock = clock;
        const replies = await Promise.all(Array.from({ length: 6 }, () => send(request(builder, next))));
        refused += replies.filter((reply) => reply.denied).length;
      }
    }

    // the rate limit: more than the starter plan's 600 requests a minute from one partner
    const busy = new HistoryBuilder(clock);
    await append(busy.start('starter'));
    await append(busy.apply({ op: 'addDomain', a: 0, b: 0, c: 0, flags: 0, delta: 0 }));
    const busyHeaders = { 'X-Client-Id': busy.clientId, 'X-Client-Secret': busy.secrets[0]!.secret, 'X-Client-Domain': 'shop.example', 'X-Forwarded-For': '10.1.2.3' };
    let limited = 0;
    for (let i = 0; i < 13; i++) {
      const replies = await Promise.all(Array.from({ length: 50 }, () => send({ path: '/api/whoami', headers: busyHeaders })));
      limited += replies.filter((reply) => reply.status === 429).length;
    }
    expect(limited).toBeGreaterThan(0);

    // test_user_required: a user who signed in through a client, asked for on a test-mode domain
    const tester = new HistoryBuilder(clock);
    await append(tester.start());
    await append(tester.apply({ op: 'addDomain', a: 0, b: 0, c: 0, flags: 0b110000, delta: 0 }));
    const { sub } = await signUp(t.url, { plan: null });
    await t.app.ctx.database.db
      .insertInto('client_users')
      .values({ client_id: tester.clientId, user_sub: sub, first_signed_in_at: new Date(clock), last_signed_in_at: new Date(clock), sign_in_count: 1 })
      .execute();
    const testerHeaders = { 'X-Client-Id': tester.clientId, 'X-Client-Secret': tester.secrets[0]!.secret, 'X-Client-Domain': 'shop.example' };
    expect((await send({ path: '/api/get/user/info', body: { sub }, headers: testerHeaders })).status).toBe(403);
    await t.app.access.log.flush();

    const rows = await t.app.ctx.database.db.selectFrom('auth_denials').select('request_id').orderBy('at').execute();
    const counts = new Map<string, number>();
    const disagreements: string[] = [];
    for (const { request_id } of rows) {
      const denial = (await findDenial(t.app.ctx.database, request_id))!;
      const history = denial.clientId ? await readClientHistory(t.app.ctx.store, denial.clientId) : historyOf('', null, []);
      const explanation = explainDecision({ denial, history, actors: await loadActors(t.app.ctx.database, history.events), language: 'en', now: new Date(clock) });
      const reason = denial.reason as DenialReason;
      counts.set(reason, (counts.get(reason) ?? 0) + 1);
      const failing = explanation.checks.filter((c) => !c.passed);
      const problems = [
        !explanation.replay.agrees && `replay says ${explanation.replay.reason}`,
        explanation.replay.reason !== reason && `replayed reason ${explanation.replay.reason}`,
        (failing.length !== 1 || failing[0]!.check !== CHECK_OF[reason] || explanation.checks.at(-1) !== failing[0]) && `checks ${JSON.stringify(explanation.checks)}`,
        CAUSE_TYPES[reason] && !CAUSE_TYPES[reason]!.includes(explanation.cause?.event.type ?? '') && `cause ${explanation.cause?.event.type ?? 'none'}`,
        explanation.fix.length === 0 && 'no fix',
        JSON.stringify(JSON.parse(JSON.stringify(explanation))) !== JSON.stringify(explanation) && 'not plain JSON',
      ].filter(Boolean);
      if (problems.length > 0) disagreements.push(`${request_id} ${reason} (${denial.endpoint}, ${denial.domain}, ${denial.ip}): ${problems.join('; ')}`);
    }
    console.log(`explain agreement: ${rows.length} denials`, Object.fromEntries([...counts].sort((a, b) => b[1] - a[1])));
    expect(disagreements.slice(0, 10)).toEqual([]);
    expect(rows.length).toBeGreaterThanOrEqual(1_000);
    expect(DENIAL_REASONS.filter((reason) => !counts.has(reason))).toEqual([]);
  },
  900_000,
);
