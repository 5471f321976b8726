import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './support/app.ts';
import { type Caller, signUp } from './support/http.ts';
import { hashSecret } from '../src/clients/secret-format.ts';
import { verifyAuditExport } from '../src/audit/audit-verify.ts';
import type { AuditEntry } from '../src/audit/audit-trail.ts';
import { START, formatPosition } from '../src/eventstore/port.ts';

/** The organisation's audit trail and its export, over real HTTP on a real database. */

let t: TestApp;
let ada: { caller: Caller; email: string; sub: number; organisationId: string };
let bob: { caller: Caller; email: string; sub: number; organisationId: string };
let shopId: string;
let otherClientId: string;
/** every plaintext secret the scenario saw: none may appear in a trail or an export */
const secrets: string[] = [];

async function member(name: string) {
  const signed = await signUp(t.url, { name });
  const me = await signed.caller.get('/manage/v1/account/me');
  return { ...signed, organisationId: me.body.organisation.id as string };
}

async function ok<T = any>(reply: Promise<{ status: number; body: T; text: string }>): Promise<T> {
  const r = await reply;
  if (r.status >= 300) throw new Error(`${r.status} ${r.text}`);
  return r.body;
}

/** `wanted` appears in `list` in this order, other items allowed between. */
function subsequence(list: readonly string[], wanted: readonly string[]): boolean {
  let i = 0;
  for (const item of list) if (item === wanted[i]) i++;
  return i === wanted.length;
}

async function trail(caller: Caller, query = ''): Promise<AuditEntry[]> {
  const r = await caller.get(`/manage/v1/audit?limit=1000${query}`);
  expect(r.status, r.text).toBe(200);
  expect(r.body.next).toBeNull();
  return r.body.entries;
}

beforeAll(async () => {
  // a projector thread that starts slowly on a busy machine must not fail the sign-up's read-your-writes
  t = await startTestApp({ env: { WRITE_WAIT_MS: '60000' } });
  ada = await member('Ada Lovelace');
  bob = await member('Bob Other');
  const shop = await ok(ada.caller.post('/manage/v1/clients', { name: 'Shop' }));
  shopId = shop.clientId;
  secrets.push(shop.secret.secret);
  const { domainId } = await ok(ada.caller.post(`/manage/v1/clients/${shopId}/domains`, { domain: 'shop.example.com' }));
  const second = await ok(ada.caller.post(`/manage/v1/clients/${shopId}/secrets`, { label: 'Backup', domains: [domainId] }));
  secrets.push(second.secret);
  const rotated = await ok(ada.caller.post(`/manage/v1/clients/${shopId}/secrets/${second.secretId}/rotate`, { graceSeconds: 60 }));
  secrets.push(rotated.secret);
  await ok(ada.caller.patch(`/manage/v1/clients/${shopId}/domains/${domainId}`, { serverIps: ['203.0.113.0/24'] }));
  await ok(ada.caller.delete(`/manage/v1/clients/${shopId}/secrets/${shop.secret.secretId}`));
  await ok(ada.caller.put(`/manage/v1/clients/${shopId}/scopes`, { scopes: ['userinfo'] }));
  await ok(ada.caller.delete('/manage/v1/account/plan'));
  await ok(ada.caller.post('/manage/v1/account/plan', { plan: 'pro' }));
  const other = await ok(bob.caller.post('/manage/v1/clients', { name: 'Elsewhere' }));
  otherClientId = other.clientId;
  secrets.push(other.secret.secret);
}, 180_000);
afterAll(async () => {
  await t?.close();
});

describe('GET /manage/v1/audit', () => {
  it('when an organisation changed its clients and plan, then the trail lists every event oldest first with its actor', async () => {
    const entries = await trail(ada.caller);
    // exactly the events of the organisation's streams, in the store's order
    const stored = (await t.app.ctx.store.readAll(START, 10_000)).filter(
      (e) => e.stream === `organisation-${ada.organisationId}` || e.stream === `client-${shopId}`,
    );
    expect(entries.map((e) => [e.type, e.position, e.stream])).toEqual(stored.map((e) => [e.type, formatPosition(e.position), e.stream]));
    // and among them, in this order, what the scenario did
    expect(subsequence(
      entries.map((e) => e.type),
      [
        'OrganisationCreated',
        'MemberAdded',
        'PlanActivated',
        'ClientRegistered',
        'ClientSecretIssued',
        'DomainAdded',
        'SecretLinkedToDomain', // a client's first domain takes its existing secret
        'ClientSecretIssued',
        'SecretLinkedToDomain',
        'ClientSecretRotated',
        'DomainUpdated',
        'ClientSecretRevoked',
        'ClientScopesChanged',
        'PlanCancelled',
        'PlanActivated',
      ],
    )).toBe(true);
    for (const e of entries) {
      expect(e.actor).toEqual({ kind: 'user', sub: ada.sub, email: ada.email, name: 'Ada Lovelace' });
      expect(e.stream).toBe(e.clientId ? `client-${shopId}` : `organisation-${ada.organisationId}`);
      expect(Date.parse(e.at)).not.toBeNaN();
      expect(e.position).toMatch(/^\d+\/\d+$/);
    }
    const positions = entries.map((e) => e.position.split('/').map(BigInt) as [bigint, bigint]);
    for (let i = 1; i < positions.length; i++) {
      const [a, b] = [positions[i - 1]!, positions[i]!];
      expect(a[0] < b[0] || (a[0] === b[0] && a[1] < b[1]), `entry ${i} after entry ${i - 1}`).toBe(true);
    }
    expect(entries.find((e) => e.type === 'DomainUpdated')!.data).toMatchObject({ changes: { serverIps: ['203.0.113.0/24'] } });
  });

  it('when paged two at a time, then following `next` returns every entry exactly once, in order', async () => {
    const all = await trail(ada.caller);
    const seen: AuditEntry[] = [];
    let after: string | null = null;
    for (let pages = 0; pages < 50; pages++) {
      const r: { status: number; body: { entries: AuditEntry[]; next: string | null } } = await ada.caller.get(
        `/manage/v1/audit?limit=2${after ? `&after=${after}` : ''}`,
      );
      expect(r.status).toBe(200);
      seen.push(...r.body.entries);
      after = r.body.next;
      if (after === null) break;
      expect(r.body.entries).toHaveLength(2);
      expect(after).toBe(r.body.entries[1]!.cursor);
    }
    expect(after).toBeNull();
    expect(seen.map((e) => e.position)).toEqual(all.map((e) => e.position));
    expect(new Set(seen.map((e) => e.position)).size).toBe(all.length);
  });

  it('when filtered by type, actor or client, then only those events come back', async () => {
    const all = await trail(ada.caller);
    const secretChanges = await trail(ada.caller, '&type=ClientSecretRotated,ClientSecretRevoked');
    expect(secretChanges.map((e) => e.type)).toEqual(['ClientSecretRotated', 'ClientSecretRevoked']);
    expect(await trail(ada.caller, `&actor=${ada.sub}`)).toEqual(all);
    expect(await trail(ada.caller, `&actor=${encodeURIComponent(ada.email.toUpperCase())}`)).toEqual(all);
    expect(await trail(ada.caller, '&actor=cli')).toEqual([]);
    expect(await trail(ada.caller, `&actor=${bob.sub}`)).toEqual([]);
    const shopOnly = await trail(ada.caller, `&clientId=${shopId}`);
    expect(shopOnly.map((e) => e.position)).toEqual(all.filter((e) => e.clientId === shopId).map((e) => e.position));
    expect(await trail(ada.caller, `&clientId=${shopId}&type=PlanActivated`)).toEqual([]);
    const page = await ada.caller.get(`/manage/v1/audit?type=ClientSecretIssued&limit=1`);
    expect(page.body.entries).toHaveLength(1);
    const rest = await trail(ada.caller, `&type=ClientSecretIssued&after=${page.body.next}`);
    expect(rest.map((e) => e.type)).toEqual(['ClientSecretIssued']);
  });

  it('when a filter is malformed, then the answer is 400 naming the field', async () => {
    const cases: [string, string][] = [
      ['limit=0', 'limit'],
      ['limit=1001', 'limit'],
      ['limit=ten', 'limit'],
      ['type=ClientExploded', 'type'],
      ['type=ClientRenamed,', 'type'],
      ['actor=robert%27)--', 'actor'],
      ['after=not-a-cursor', 'after'],
      [`after=${Buffer.from('1/2').toString('base64url')}`, 'after'],
      [`after=${Buffer.from('9223372036854775808.1').toString('base64url')}`, 'after'],
      ['clientId=kc%20x', 'clientId'],
      ['limit=1&limit=2', 'limit'],
      ['sort=desc', '(body)'],
    ];
    for (const [query, field] of cases) {
      const r = await ada.caller.get(`/manage/v1/audit?${query}`);
      expect(r.status, query).toBe(400);
      expect(r.headers.get('content-type')).toContain('application/problem+json');
      expect(r.body.errors[0].field, query).toBe(field);
    }
  });

  it("when another organisation reads its trail, then none of this organisation's events is in it, and this organisation's client is 404", async () => {
    const theirs = await trail(bob.caller);
    const stored = (await t.app.ctx.store.readAll(START, 10_000)).filter(
      (e) => e.stream === `organisation-${bob.organisationId}` || e.stream === `client-${otherClientId}`,
    );
    expect(theirs.map((e) => e.position)).toEqual(stored.map((e) => formatPosition(e.position)));
    expect(subsequence(theirs.map((e) => e.type), ['OrganisationCreated', 'MemberAdded', 'PlanActivated', 'ClientRegistered', 'ClientSecretIssued'])).toBe(true);
    expect(theirs.every((e) => e.actor.kind === 'user' && e.actor.sub === bob.sub)).toBe(true);
    expect(JSON.stringify(theirs)).not.toContain(shopId);
    expect(JSON.stringify(theirs)).not.toContain(ada.organisationId);
    const probe = await bob.caller.get(`/manage/v1/audit?clientId=${shopId}`);
    expect(probe.status).toBe(404);
    expect((await bob.caller.get('/manage/v1/audit?clientId=kc_neverexisted')).status).toBe(404);
    expect((await bob.caller.get(`/manage/v1/audit?clientId=${otherClientId}`)).status).toBe(200);
  });

  it('when there is no session, then the trail and the export are 401', async () => {
    for (const path of ['/manage/v1/audit', '/manage/v1/audit/export']) {
      const r = await fetch(t.url + path);
      expect(r.status).toBe(401);
    }
  });
});

describe('GET /manage/v1/audit/export', () => {
  async function exportText(caller: Caller, query = '') {
    const r = await caller.get(`/manage/v1/audit/export${query}`);
    expect(r.status, r.text).toBe(200);
    expect(r.headers.get('content-type')).toBe('application/x-ndjson; charset=utf-8');
    return r.text;
  }

  it('when exported, then the file holds every event of the trail and verifies on its own', async () => {
    const all = await trail(ada.caller);
    const text = await exportText(ada.caller);
    const result = verifyAuditExport(text);
    expect(result).toMatchObject({ ok: true, events: all.length, organisationId: ada.organisationId, from: null });
    const events = text.trim().split('\n').map((l) => JSON.parse(l)).filter((l) => l.record === 'event');
    expect(events.map((e) => e.position)).toEqual(all.map((e) => e.position));
    expect(events[0]).toMatchObject({ type: 'OrganisationCreated', actor: { kind: 'user', sub: ada.sub, email: ada.email } });
  });

  it('when one character of the export is changed, then verify fails naming the line', async () => {
    const text = await exportText(ada.caller);
    const lines = text.split('\n');
    const target = 6; // 1-based: the fifth event
    const line = lines[target - 1]!;
    const at = line.indexOf('"type":"') + 9;
    lines[target - 1] = line.slice(0, at) + (line[at] === 'x' ? 'y' : 'x') + line.slice(at + 1);
    expect(verifyAuditExport(lines.join('\n'))).toMatchObject({ ok: false, line: target, problem: 'hash_mismatch' });
  });

  it('when a line is removed or two are swapped, then verify fails', async () => {
    const lines = (await exportText(ada.caller)).split('\n');
    expect(verifyAuditExport(lines.toSpliced(4, 1).join('\n'))).toMatchObject({ ok: false, line: 5, problem: 'prev_hash_mismatch' });
    const swapped = [...lines];
    [swapped[3], swapped[4]] = [swapped[4]!, swapped[3]!];
    expect(verifyAuditExport(swapped.join('\n'))).toMatchObject({ ok: false, line: 4 });
    const withoutEnd = lines.slice(0, -2).join('\n') + '\n';
    expect(verifyAuditExport(withoutEnd)).toMatchObject({ ok: false, problem: 'truncated' });
  });

  it('when the range holds no event, then the file is a header and an end line, and verifies', async () => {
    const text = await exportText(ada.caller, '?from=2001-01-01T00:00:00Z&to=2001-02-01T00:00:00%2B02:00');
    expect(text.trim().split('\n')).toHaveLength(2);
    expect(verifyAuditExport(text)).toMatchObject({ ok: true, events: 0, from: '2001-01-01T00:00:00.000Z', to: '2001-01-31T22:00:00.000Z' });
  });

  it('when a range is given, then exactly the events with from <= at < to are in it', async () => {
    const all = await trail(ada.caller);
    const from = all[3]!.at;
    const to = all.at(-2)!.at;
    const text = await exportText(ada.caller, `?from=${from}&to=${to}`);
    const result = verifyAuditExport(text);
    const expected = all.filter((e) => e.at >= from && e.at < to);
    expect(expected.length).toBeGreaterThan(0);
    expect(result).toMatchObject({ ok: true, events: expected.length, from, to });
  });

  it('when the range is malformed, then the answer is 400 naming the field', async () => {
    const future = new Date(Date.now() + 86_400_000).toISOString();
    const cases: [string, string][] = [
      ['from=2026-01-01T00:00:00', 'from'],
      ['from=yesterday', 'from'],
      ['from=1969-12-31T23:59:59Z', 'from'],
      [`to=${future}`, 'to'],
      ['from=2020-01-02T00:00:00Z&to=2020-01-01T00:00:00Z', 'to'],
      ['format=csv', '(body)'],
    ];
    for (const [query, field] of cases) {
      const r = await ada.caller.get(`/manage/v1/audit/export?${query}`);
      expect(r.status, query).toBe(400);
      expect(r.body.errors[0].field, query).toBe(field);
    }
  });

  it('when scanned, then no trail entry or export line holds a secret, its hash, or a secret hash field', async () => {
    const texts = [
      await exportText(ada.caller),
      await exportText(bob.caller),
      JSON.stringify(await trail(ada.caller)),
      JSON.stringify(await trail(bob.caller)),
    ];
    expect(secrets).toHaveLength(4);
    for (const text of texts) {
      for (const secret of secrets) {
        expect(text).not.toContain(secret);
        expect(text).not.toContain(hashSecret(secret));
        expect(text).not.toContain(Buffer.from(hashSecret(secret), 'hex').toString('base64'));
      }
      expect(text).not.toMatch(/klsk_[0-9A-Za-z]{8,}/);
      expect(text).not.toMatch(/secretHash|Token"|password/i);
    }
    // hints, which identify a secret to people, stay
    expect(texts[0]).toContain(`klsk_…${secrets[1]!.slice(-4)}`);
  });
});
