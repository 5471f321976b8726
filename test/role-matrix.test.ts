import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './support/app.ts';
import { Caller, PASSWORD, signUp, uniqueEmail } from './support/http.ts';
import { invite, join, tokenOf } from './support/members.ts';
import { mountedRoutes } from './support/routes.ts';
import { callApi, partnerHeaders } from './support/partner.ts';

/**
 * Every management route × every role, over HTTP, against ONE matrix. `ok` is a 2xx; a number is
 * the refusal expected. `other` is the owner of another organisation: what belongs to this one
 * does not exist for them (404); organisation-wide routes act on their own organisation.
 * The routes are read from the mounted routers: a route missing here (or listed here but gone),
 * or a route without exactly one guard, fails the test.
 */
const MATRIX = `
  route                                                         owner  admin  developer  viewer  other
  POST   /account/register                                      ok     ok     ok         ok      ok
  POST   /account/login                                         ok     ok     ok         ok      ok
  POST   /account/logout                                        ok     ok     ok         ok      ok
  GET    /account/me                                            ok     ok     ok         ok      ok
  POST   /account/organisation                                  ok     ok     ok         ok      ok
  POST   /account/plan                                          ok     ok     403        403     ok
  POST   /organisations                                         ok     ok     ok         ok      ok
  DELETE /organisations/:organisationId                         ok     403    403        403     404
  DELETE /account/plan                                          ok     ok     403        403     ok
  GET    /members                                               ok     ok     ok         ok      ok
  POST   /members/transfer-ownership                            ok     403    403        403     404
  PATCH  /members/:sub                                          ok     ok     403        403     404
  DELETE /members/:sub                                          ok     ok     403        403     404
  GET    /invitations                                           ok     ok     ok         ok      ok
  POST   /invitations                                           ok     ok     403        403     ok
  POST   /invitations/accept                                    ok     ok     ok         ok      ok
  DELETE /invitations/:invitationId                             ok     ok     403        403     404
  GET    /clients                                               ok     ok     ok         ok      ok
  POST   /clients                                               ok     ok     ok         403     ok
  GET    /clients/:clientId                                     ok     ok     ok         ok      404
  PATCH  /clients/:clientId                                     ok     ok     ok         403     404
  DELETE /clients/:clientId                                     ok     ok     ok         403     404
  POST   /clients/:clientId/disable                             ok     ok     ok         403     404
  POST   /clients/:clientId/enable                              ok     ok     ok         403     404
  POST   /clients/:clientId/secrets                             ok     ok     ok         403     404
  POST   /clients/:clientId/secrets/:secretId/rotate            ok     ok     ok         403     404
  DELETE /clients/:clientId/secrets/:secretId                   ok     ok     ok         403     404
  PUT    /clients/:clientId/domains/:domainId/secrets/:secretId ok     ok     ok         403     404
  DELETE /clients/:clientId/domains/:domainId/secrets/:secretId ok     ok     ok         403     404
  POST   /clients/:clientId/redirect-uris                       ok     ok     ok         403     404
  DELETE /clients/:clientId/redirect-uris                       ok     ok     ok         403     404
  POST   /clients/:clientId/domains                             ok     ok     ok         403     404
  PATCH  /clients/:clientId/domains/:domainId                   ok     ok     ok         403     404
  DELETE /clients/:clientId/domains/:domainId                   ok     ok     ok         403     404
  PUT    /clients/:clientId/scopes                              ok     ok     ok         403     404
  PUT    /clients/:clientId/listing                             ok     ok     ok         403     404
  DELETE /clients/:clientId/listing                             ok     ok     ok         403     404
  POST   /clients/:clientId/test-users                          ok     ok     ok         403     404
  DELETE /clients/:clientId/test-users/:sub                     ok     ok     ok         403     404
  GET    /clients/:clientId/users                               ok     ok     ok         ok      404
  GET    /clients/:clientId/history                             ok     ok     ok         ok      404
  GET    /clients/:clientId/auth-failures                       ok     ok     ok         ok      404
  GET    /clients/:clientId/state                               ok     ok     ok         ok      404
  POST   /clients/:clientId/preview                             ok     ok     ok         403     404
  GET    /auth-decisions/:requestId/explain                     ok     ok     ok         ok      404
  GET    /audit                                                 ok     ok     ok         ok      ok
  GET    /audit/export                                          ok     ok     ok         ok      ok
`;

const ROLES = ['owner', 'admin', 'developer', 'viewer', 'other'] as const;
type Who = (typeof ROLES)[number];
type Outcome = 'ok' | number;

function parseMatrix(text: string): Map<string, Record<Who, Outcome>> {
  const rows = text.trim().split('\n').slice(1);
  return new Map(
    rows.map((row) => {
      const [method, path, ...cells] = row.trim().split(/\s+/);
      expect(cells.length, row).toBe(ROLES.length);
      const outcomes = Object.fromEntries(ROLES.map((who, i) => [who, cells[i] === 'ok' ? 'ok' : Number(cells[i])])) as Record<Who, Outcome>;
      return [`${method} ${path}`, outcomes];
    }),
  );
}

interface Actor {
  readonly caller: Caller;
  readonly sub: number;
  readonly email: string;
  readonly organisationId: string;
}

interface Call {
  readonly path: string;
  readonly body?: unknown;
  /** defaults to the actor's own caller */
  readonly caller?: Caller;
  readonly after?: () => Promise<void>;
}

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
}, 120_000);
afterAll(async () => {
  await t?.close();
});

it('every management route answers every role as the matrix says', async () => {
  const matrix = parseMatrix(MATRIX);

  // the routes the app serves are exactly the matrix's, each behind exactly one guard
  const routes = mountedRoutes(t.app.express, '/manage/v1');
  expect(routes.filter((r) => r.guards !== 1).map((r) => r.key), 'routes without exactly one guard').toEqual([]);
  expect(routes.map((r) => r.key).filter((key) => !matrix.has(key)), 'routes missing from the matrix').toEqual([]);
  expect([...matrix.keys()].filter((key) => !routes.some((r) => r.key === key)), 'matrix rows without a route').toEqual([]);

  // ---- fixtures: organisation A with a member of every role; another organisation O; a third, Z, that invites
  const orgOf = async (caller: Caller) => (await caller.get('/manage/v1/account/me')).body.organisation.id as string;
  const owner = await signUp(t.url, { plan: 'business' });
  const a = await orgOf(owner.caller);
  const actorOf = async (m: { caller: Caller; sub: number; email: string }): Promise<Actor> => ({ ...m, organisationId: await orgOf(m.caller) });
  const actors: Record<Who, Actor> = {
    owner: await actorOf(owner),
    admin: await actorOf(await join(t.url, owner.caller, 'admin')),
    developer: await actorOf(await join(t.url, owner.caller, 'developer')),
    viewer: await actorOf(await join(t.url, owner.caller, 'viewer')),
    other: await actorOf(await signUp(t.url, { plan: 'business' })),
  };
  for (const who of ['admin', 'developer', 'viewer'] as const) expect(actors[who].organisationId).toBe(a);
  const target = await join(t.url, owner.caller, 'viewer');
  const zed = await signUp(t.url, { plan: null });

  const ownerOf = (actor: Actor) => (actor.organisationId === a ? owner.caller : actors.other.caller);
  const ok = async (reply: Promise<{ status: number; text: string; body: any }>) => {
    const r = await reply;
    expect(Math.floor(r.status / 100), r.text).toBe(2); // a 2xx status
    return r.body;
  };
  const domain = `${randomUUID().slice(0, 8)}.example.org`;
  const created = await ok(owner.caller.post('/manage/v1/clients', { name: 'Matrix' }));
  const clientId = created.clientId as string;
  const secretId = created.secret.secretId as string;
  const domainId = (await ok(owner.caller.post(`/manage/v1/clients/${clientId}/domains`, { domain }))).domainId as string;
  const denial = await callApi(t.url, '/api/whoami', partnerHeaders({ clientId, secret: `klsk_${'x'.repeat(40)}`, domain }));
  const requestId = denial.headers.get('x-request-id')!;
  await t.app.access.log.flush();

  const C = `/manage/v1/clients/${clientId}`;
  const freshSecret = async (domains: string[] = []) => (await ok(owner.caller.post(`${C}/secrets`, { domains }))).secretId as string;
  const freshSession = async (actor: Actor) => {
    const caller = new Caller(t.url);
    await ok(caller.post('/manage/v1/account/login', { email: actor.email, password: PASSWORD }));
    await ok(caller.post('/manage/v1/account/organisation', { organisationId: actor.organisationId }));
    return caller;
  };
  const backTo = async (actor: Actor) => {
    await ok(actor.caller.post('/manage/v1/account/organisation', { organisationId: actor.organisationId }));
  };
  const reactivate = async (actor: Actor) => {
    await ok(ownerOf(actor).post('/manage/v1/account/plan', { plan: 'business' }));
  };
  let n = 0;
  const next = () => ++n;

  /** How to call a route as `actor`: the path with its parameters, the body, fresh targets where the call uses one up. */
  const CALLS: Record<string, (actor: Actor) => Promise<Call>> = {
    'POST /account/register': async () => ({ path: '/account/register', caller: new Caller(t.url), body: { email: uniqueEmail('reg'), password: PASSWORD, name: 'New' } }),
    'POST /account/login': async (actor) => ({ path: '/account/login', caller: new Caller(t.url), body: { email: actor.email, password: PASSWORD } }),
    'POST /account/logout': async (actor) => ({ path: '/account/logout', caller: await freshSession(actor) }),
    'POST /account/organisation': async (actor) => ({ path: '/account/organisation', body: { organisationId: actor.organisationId } }),
    'POST /account/plan': async () => ({ path: '/account/plan', body: { plan: 'business' } }),
    'POST /organisations': async (actor) => ({ path: '/organisations', body: { name: `Side ${next()}` }, after: () => backTo(actor) }),
    // the owner deletes a fresh organisation of their own (A has clients); the others aim at A
    'DELETE /organisations/:organisationId': async (actor) => {
      if (actor !== actors.owner) return { path: `/organisations/${a}` };
      const fresh = (await ok(actor.caller.post('/manage/v1/organisations', { name: `Doomed org ${next()}` }))).organisation.id as string;
      return { path: `/organisations/${fresh}`, after: () => backTo(actor) };
    },
    'DELETE /account/plan': async (actor) => ({ path: '/account/plan', after: () => reactivate(actor) }),
    'POST /members/transfer-ownership': async (actor) => ({
      path: '/members/transfer-ownership',
      body: { sub: target.sub },
      after: async () => {
        if (actor !== actors.owner) return;
        await ok(target.caller.post('/manage/v1/members/transfer-ownership', { sub: owner.sub }));
        await ok(owner.caller.patch(`/manage/v1/members/${target.sub}`, { role: 'viewer' }));
      },
    }),
    'PATCH /members/:sub': async () => ({ path: `/members/${target.sub}`, body: { role: 'viewer' } }),
    'DELETE /members/:sub': async () => ({ path: `/members/${(await join(t.url, owner.caller, 'viewer')).sub}` }),
    'POST /invitations': async () => ({ path: '/invitations', body: { email: uniqueEmail('inv'), role: 'viewer' } }),
    'POST /invitations/accept': async (actor) => {
      const { url } = await invite(zed.caller, actor.email, 'viewer');
      return {
        path: '/invitations/accept',
        body: { token: tokenOf(url) },
        after: async () => {
          await ok(actor.caller.post('/manage/v1/account/organisation', { organisationId: actor.organisationId }));
        },
      };
    },
    'DELETE /invitations/:invitationId': async () => ({ path: `/invitations/${(await invite(owner.caller, uniqueEmail('del'), 'viewer')).invitationId}` }),
    'POST /clients': async () => ({ path: '/clients', body: { name: `Made ${next()}` } }),
    'PATCH /clients/:clientId': async () => ({ path: `/clients/${clientId}`, body: { name: `Renamed ${next()}` } }),
    'DELETE /clients/:clientId': async () => ({ path: `/clients/${(await ok(owner.caller.post('/manage/v1/clients', { name: `Doomed ${next()}` }))).clientId}` }),
    'POST /clients/:clientId/disable': async () => ({ path: `/clients/${clientId}/disable`, after: async () => void (await owner.caller.post(`${C}/enable`)) }),
    'POST /clients/:clientId/enable': async () => {
      await ok(owner.caller.post(`${C}/disable`));
      return { path: `/clients/${clientId}/enable`, after: async () => void (await owner.caller.post(`${C}/enable`)) };
    },
    'POST /clients/:clientId/secrets': async () => ({ path: `/clients/${clientId}/secrets`, body: { label: `Key ${next()}` } }),
    'POST /clients/:clientId/secrets/:secretId/rotate': async () => ({ path: `/clients/${clientId}/secrets/${await freshSecret()}/rotate` }),
    'DELETE /clients/:clientId/secrets/:secretId': async () => ({ path: `/clients/${clientId}/secrets/${await freshSecret()}` }),
    'PUT /clients/:clientId/domains/:domainId/secrets/:secretId': async () => ({ path: `/clients/${clientId}/domains/${domainId}/secrets/${await freshSecret()}` }),
    'DELETE /clients/:clientId/domains/:domainId/secrets/:secretId': async () => ({ path: `/clients/${clientId}/domains/${domainId}/secrets/${await freshSecret([domainId])}` }),
    'POST /clients/:clientId/redirect-uris': async () => ({ path: `/clients/${clientId}/redirect-uris`, body: { uri: `https://${domain}/cb/${next()}` } }),
    'DELETE /clients/:clientId/redirect-uris': async () => {
      const uri = `https://${domain}/gone/${next()}`;
      await ok(owner.caller.post(`${C}/redirect-uris`, { uri }));
      return { path: `/clients/${clientId}/redirect-uris`, body: { uri } };
    },
    'POST /clients/:clientId/domains': async () => ({ path: `/clients/${clientId}/domains`, body: { domain: `${randomUUID().slice(0, 8)}.example.net` } }),
    'PATCH /clients/:clientId/domains/:domainId': async () => ({ path: `/clients/${clientId}/domains/${domainId}`, body: { internalName: `Name ${next()}` } }),
    'DELETE /clients/:clientId/domains/:domainId': async () => {
      const fresh = (await ok(owner.caller.post(`${C}/domains`, { domain: `${randomUUID().slice(0, 8)}.example.net` }))).domainId as string;
      return { path: `/clients/${clientId}/domains/${fresh}` };
    },
    'PUT /clients/:clientId/scopes': async () => ({ path: `/clients/${clientId}/scopes`, body: { scopes: ['userinfo'] } }),
    'PUT /clients/:clientId/listing': async () => ({ path: `/clients/${clientId}/listing`, body: { title: `Listed ${next()}`, description: 'In the directory.', categories: ['productivity'] } }),
    'DELETE /clients/:clientId/listing': async () => ({ path: `/clients/${clientId}/listing` }),
    'POST /clients/:clientId/test-users': async () => {
      const tester = await signUp(t.url, { plan: null });
      return { path: `/clients/${clientId}/test-users`, body: { email: tester.email } };
    },
    'DELETE /clients/:clientId/test-users/:sub': async () => {
      const tester = await signUp(t.url, { plan: null });
      await ok(owner.caller.post(`${C}/test-users`, { email: tester.email }));
      return { path: `/clients/${clientId}/test-users/${tester.sub}` };
    },
    'GET /clients/:clientId/state': async () => ({ path: `/clients/${clientId}/state?at=${encodeURIComponent(new Date().toISOString())}` }),
    'POST /clients/:clientId/preview': async () => ({ path: `/clients/${clientId}/preview`, body: { method: 'PATCH', path: `/clients/${clientId}`, body: { name: 'Previewed' } } }),
    'GET /auth-decisions/:requestId/explain': async () => ({ path: `/auth-decisions/${requestId}/explain` }),
  };
  /** Routes that need nothing special: their parameters are the shared client's. */
  const plain = (key: string) => async (): Promise<Call> => ({ path: key.split(' ')[1]!.replace(':clientId', clientId) });

  const mismatches: string[] = [];
  for (const [key, expected] of matrix) {
    const method = key.split(' ')[0]!;
    for (const who of ROLES) {
      const actor = actors[who];
      const call = await (CALLS[key] ?? plain(key))(actor);
      const caller = call.caller ?? actor.caller;
      const body = method === 'GET' ? undefined : (call.body ?? (method === 'DELETE' ? undefined : {}));
      const reply = await caller.request(method, `/manage/v1${call.path}`, body);
      const outcome: Outcome = reply.status < 300 ? 'ok' : reply.status;
      if (outcome !== expected[who]) mismatches.push(`${key} as ${who}: expected ${expected[who]}, got ${reply.status} ${reply.text.slice(0, 200)}`);
      if (reply.status === 403 && expected[who] === 403 && reply.body?.code !== 'forbidden') mismatches.push(`${key} as ${who}: 403 with code ${reply.body?.code}`);
      await call.after?.();
    }
  }
  expect(mismatches).toEqual([]);
}, 900_000);
