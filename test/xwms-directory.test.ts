import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './support/app.ts';
import { Caller, signUp } from './support/http.ts';
import { createPartner } from './signin-support.ts';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => {
  await t?.close();
});

const listing = { title: 'Bakery Online', description: 'Order bread.\nPick it up warm.', categories: ['commerce', 'productivity'] };
const projects = async (query = '') => {
  const response = await fetch(`${t.url}/api/global/projects${query}`);
  return { status: response.status, body: (await response.json()) as any };
};
const entryOf = async (title: string, query = '') => (await projects(query)).body.data.projects.find((p: { title: string }) => p.title === title);

describe('the public directory: GET /api/global/projects, managed at /manage/v1/clients/:clientId/listing', () => {
  it('when an owner lists a client, then it appears (no credentials needed) with its primary domain as link and the domain logo as image', async () => {
    const partner = await createPartner(t.url, { domain: 'bakery.example.com' });
    expect((await partner.owner.patch(`/manage/v1/clients/${partner.clientId}/domains/${partner.domainId}`, { logo: 'https://bakery.example.com/logo.png' })).status).toBe(200);
    const put = await partner.owner.put(`/manage/v1/clients/${partner.clientId}/listing`, { ...listing, title: 'Bakery A' });
    expect(put.status, put.text).toBe(200);
    expect(put.body).toMatchObject({ listing: { title: 'Bakery A', categories: ['commerce', 'productivity'], image: null, directRedirect: false }, position: expect.any(String) });

    const entry = await entryOf('Bakery A');
    expect(entry).toMatchObject({
      id: expect.any(Number),
      description: 'Order bread.\nPick it up warm.',
      image: 'https://bakery.example.com/logo.png',
      link: 'https://bakery.example.com/',
      is_new: true,
      direct_redirect: false,
      categories: [
        { id: 2, name: 'Commerce' },
        { id: 10, name: 'Productivity' },
      ],
    });
    expect((await entryOf('Bakery A', '?lang=nl')).categories.map((c: { name: string }) => c.name)).toEqual(['Handel', 'Productiviteit']);

    // a change keeps the id and the publication date
    expect((await partner.owner.put(`/manage/v1/clients/${partner.clientId}/listing`, { ...listing, title: 'Bakery A', image: 'https://cdn.example/b.png', directRedirect: true })).status).toBe(200);
    const changed = await entryOf('Bakery A');
    expect(changed).toMatchObject({ id: entry.id, published_at: entry.published_at, image: 'https://cdn.example/b.png', direct_redirect: true });

    // DELETE takes it out; listing again brings it back under the same id
    expect((await partner.owner.delete(`/manage/v1/clients/${partner.clientId}/listing`)).body).toMatchObject({ listing: null });
    expect(await entryOf('Bakery A')).toBeUndefined();
    expect((await partner.owner.put(`/manage/v1/clients/${partner.clientId}/listing`, { ...listing, title: 'Bakery A' })).status).toBe(200);
    expect((await entryOf('Bakery A')).id).toBe(entry.id);

    // the history shows each change
    const history = await partner.owner.get(`/manage/v1/clients/${partner.clientId}/history`);
    expect(history.body.events.filter((e: { type: string }) => e.type === 'ClientListingChanged')).toHaveLength(4);
  });

  it('when the client is disabled, its primary domain goes to test mode, or the plan is cancelled, then it is not shown', async () => {
    const partner = await createPartner(t.url, { domain: 'hidden.example.com' });
    expect((await partner.owner.put(`/manage/v1/clients/${partner.clientId}/listing`, { ...listing, title: 'Bakery B' })).status).toBe(200);
    expect(await entryOf('Bakery B')).toBeDefined();
    await partner.owner.post(`/manage/v1/clients/${partner.clientId}/disable`);
    expect(await entryOf('Bakery B')).toBeUndefined();
    await partner.owner.post(`/manage/v1/clients/${partner.clientId}/enable`);
    expect(await entryOf('Bakery B')).toBeDefined();
    await partner.owner.patch(`/manage/v1/clients/${partner.clientId}/domains/${partner.domainId}`, { testMode: true });
    expect(await entryOf('Bakery B')).toBeUndefined();
    await partner.owner.patch(`/manage/v1/clients/${partner.clientId}/domains/${partner.domainId}`, { testMode: false });
    await partner.owner.delete('/manage/v1/account/plan');
    expect(await entryOf('Bakery B')).toBeUndefined();
  });

  it('bad input is a 400 naming the field; no domain yet is primary_domain_required; another organisation gets 404; no session is 401', async () => {
    const partner = await createPartner(t.url);
    const put = (body: unknown) => partner.owner.put(`/manage/v1/clients/${partner.clientId}/listing`, body);
    for (const [body, field] of [
      [{ ...listing, title: '' }, 'title'],
      [{ ...listing, description: 'x'.repeat(501) }, 'description'],
      [{ ...listing, categories: ['cooking'] }, 'categories.0'],
      [{ ...listing, categories: ['commerce', 'games', 'health', 'social'] }, 'categories'],
      [{ ...listing, image: 'javascript:alert(1)' }, 'image'],
      [{ ...listing, directRedirect: 'yes' }, 'directRedirect'],
      [{ ...listing, extra: 1 }, '(body)'],
    ] as const) {
      const reply = await put(body);
      expect(reply.status, JSON.stringify(body)).toBe(400);
      expect(reply.body.errors[0].field, JSON.stringify(body)).toBe(field);
    }

    const { caller: bare } = await signUp(t.url, { plan: 'pro' });
    const created = await bare.post('/manage/v1/clients', { name: 'No domain' });
    const noDomain = await bare.put(`/manage/v1/clients/${created.body.clientId}/listing`, listing);
    expect(noDomain.status).toBe(400);
    expect(noDomain.body.code).toBe('primary_domain_required');

    expect((await bare.put(`/manage/v1/clients/${partner.clientId}/listing`, listing)).status).toBe(404);
    expect((await new Caller(t.url).put(`/manage/v1/clients/${partner.clientId}/listing`, listing)).status).toBe(401);
    expect((await projects('?lang=fr')).body).toMatchObject({ status: 'error', code: 'invalid_request', field: 'lang' });
  });
});

describe('the hosted-page addresses of the XWMS packages', () => {
  const location = async (path: string) => {
    const response = await fetch(`${t.url}${path}`, { redirect: 'manual' });
    expect(response.status, path).toBe(302);
    return response.headers.get('location');
  };

  it('redirect to our sign-in, registration and account pages, carrying only token and lang', async () => {
    expect(await location('/login?token=abc&lang=nl&next=https://evil.example')).toBe('/signin?token=abc&lang=nl');
    expect(await location('/sign?token=abc')).toBe('/signin?token=abc');
    expect(await location('/oauth/login?client_id=kc_1&redirect_uri=https://x.example')).toBe('/account');
    expect(await location('/login')).toBe('/account');
    expect(await location('/signup?lang=nl')).toBe('/account/register?lang=nl');
    expect(await location('/account/general')).toBe('/account');
  });
});
