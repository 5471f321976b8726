import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './support/app.ts';
import { type Caller, signUp } from './support/http.ts';
import { join } from './support/members.ts';
import { formPost } from './signin-support.ts';
import { hiddenFields } from './support/forms.ts';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => {
  await t?.close();
});


/** Creates a client through the dashboard's form; returns its id and the page that showed the secret. */
async function createThroughForm(owner: Caller, name: string) {
  const list = await owner.get('/dashboard?lang=en');
  const fields = { ...hiddenFields(list.text, '/dashboard/clients'), name };
  const reply = await formPost(owner, '/dashboard/clients', fields);
  expect(reply.status, reply.text).toBe(201);
  const clientId = /<code>(kc_[A-Za-z0-9]+)<\/code>/.exec(reply.text)![1]!;
  return { clientId, reply, fields };
}

describe('the dashboard client pages over HTTP', () => {
  it('when a client is created with the form, then its secret is shown once, never again, never logged; a double submit creates one client', async () => {
    const { caller: owner } = await signUp(t.url);
    const { clientId, reply, fields } = await createThroughForm(owner, 'Bakery');
    const secret = /value="(klsk_[^"]+)"/.exec(reply.text)![1]!;
    expect(reply.headers.get('cache-control')).toBe('no-store');
    const overview = await owner.get(`/dashboard/clients/${clientId}`);
    expect(overview.status).toBe(200);
    expect(overview.text).not.toContain(secret);
    expect(t.logs.join('\n')).not.toContain(secret);

    const again = await formPost(owner, '/dashboard/clients', fields);
    expect(again.status).toBe(303);
    expect(again.headers.get('location')).toBe(`/dashboard/clients/${clientId}?done=already`);
    expect(again.text).not.toContain('klsk_');
    const { body } = await owner.get('/manage/v1/clients');
    expect(body.clients.filter((c: { name: string }) => c.name === 'Bakery')).toHaveLength(1);
  });

  it('when a form has bad fields, then the errors are next to the fields and the typed values kept; a forged CSRF token writes nothing (403)', async () => {
    const { caller: owner } = await signUp(t.url);
    const { clientId } = await createThroughForm(owner, 'Shop');
    const page = await owner.get(`/dashboard/clients/${clientId}/domains?lang=nl`);
    const action = `/dashboard/clients/${clientId}/domains`;
    const bad = await formPost(owner, action, { ...hiddenFields(page.text, action), domain: 'not a domain', serverIps: '10.0.0.1\nnonsense', internalName: 'Webshop' });
    expect(bad.status).toBe(400);
    expect(bad.text).toMatch(/id="domain"[^>]*aria-invalid="true"/);
    expect(bad.text).toContain('Vul een domeinnaam in');
    expect(bad.text).toContain('value="Webshop"');

    const forged = await formPost(owner, action, { ...hiddenFields(page.text, action), csrf: 'forged', domain: 'shop.example.com' });
    expect(forged.status).toBe(403);
    const { body } = await owner.get(`/manage/v1/clients/${clientId}`);
    expect(body.domains).toEqual([]);

    const good = await formPost(owner, action, { ...hiddenFields(page.text, action), domain: 'shop.example.com', active: 'on', allowApi: 'on', serverIps: '203.0.113.0/24' });
    expect(good.status, good.text).toBe(303);
    const after = await owner.get(`/manage/v1/clients/${clientId}`);
    expect(after.body.domains.map((d: { domain: string; allowLogin: boolean; serverIps: string[] }) => [d.domain, d.allowLogin, d.serverIps])).toEqual([['shop.example.com', false, ['203.0.113.0/24']]]);
  });

  it('when a form is sent twice, then it does its work once and the second answer says so (not a stale page)', async () => {
    const { caller: owner } = await signUp(t.url);
    const { clientId } = await createThroughForm(owner, 'Twice');
    const action = `/dashboard/clients/${clientId}/redirect-uris`;
    const page = await owner.get(action);
    const fields = { ...hiddenFields(page.text, action), uri: 'https://twice.example.com/cb' };
    const first = await formPost(owner, action, fields);
    expect(first.headers.get('location')).toBe(`${action}?done=added`);
    const second = await formPost(owner, action, fields);
    expect(second.status).toBe(303);
    expect(second.headers.get('location')).toBe(`${action}?done=already`);
    expect((await owner.get(`/manage/v1/clients/${clientId}`)).body.redirectUris).toEqual(['https://twice.example.com/cb']);
  });

  it('when the client changed after the page was opened, then the form writes nothing and says what changed', async () => {
    const { caller: owner } = await signUp(t.url, { name: 'Ada Lovelace' });
    const { clientId } = await createThroughForm(owner, 'Before');
    const action = `/dashboard/clients/${clientId}/rename`;
    const page = await owner.get(`${action}?lang=en`);
    expect((await owner.patch(`/manage/v1/clients/${clientId}`, { name: 'Meanwhile' })).status).toBe(200);
    const stale = await formPost(owner, action, { ...hiddenFields(page.text, action), name: 'Mine' });
    expect(stale.status).toBe(409);
    expect(stale.text).toContain('Someone changed this client after you opened this page');
    expect(stale.text).toContain('Client renamed by Ada Lovelace');
    expect(stale.text).toContain('value="Mine"');
    expect((await owner.get(`/manage/v1/clients/${clientId}`)).body.name).toBe('Meanwhile');
  });

  it('when a viewer opens the client, then no write control shows, and a write is refused (403)', async () => {
    const { caller: owner } = await signUp(t.url);
    const { clientId } = await createThroughForm(owner, 'Readable');
    const viewer = await join(t.url, owner, 'viewer');
    for (const tab of ['', '/domains', '/secrets', '/redirect-uris', '/scopes', '/test-users', '/history']) {
      const page = await viewer.caller.get(`/dashboard/clients/${clientId}${tab}`);
      expect(page.status, tab).toBe(200);
      expect(page.text.match(/<form method="post" action="\/dashboard\/clients[^"]*"/g) ?? [], tab).toEqual([]);
      expect(page.text, tab).not.toMatch(/href="[^"]*\/(rename|disable|delete|rotate|revoke)"/);
    }
    const list = await viewer.caller.get('/dashboard');
    expect(list.text).not.toContain('action="/dashboard/clients"');
    const ownerPage = await owner.get(`/dashboard/clients/${clientId}/redirect-uris`);
    const action = `/dashboard/clients/${clientId}/redirect-uris`;
    const viewerPage = await viewer.caller.get(`/dashboard/clients/${clientId}/scopes`);
    const refused = await formPost(viewer.caller, action, { ...hiddenFields(viewerPage.text, '/dashboard/logout'), uri: 'https://evil.example/cb' });
    expect(refused.status).toBe(403);
    expect(ownerPage.status).toBe(200);
    expect((await owner.get(`/manage/v1/clients/${clientId}`)).body.redirectUris).toEqual([]);
  });
});

describe('the directory listing page', () => {
  it('when the owner lists a client from its page, then /api/global/projects shows it; bad fields are named and kept; taking it out removes it; a viewer sees no form', async () => {
    const { caller: owner } = await signUp(t.url);
    const { clientId } = await createThroughForm(owner, 'Bakkerij');
    expect((await owner.post(`/manage/v1/clients/${clientId}/domains`, { domain: 'bakkerij.example', primary: true })).status).toBe(201);
    const action = `/dashboard/clients/${clientId}/listing`;
    const overview = await owner.get(`/dashboard/clients/${clientId}?lang=nl`);
    expect(overview.text).toContain(`href="${action}"`);

    const page = await owner.get(`${action}?lang=nl`);
    expect(page.status).toBe(200);
    expect(page.text).toContain('Deze client staat niet in de gids.');
    const bad = await formPost(owner, action, { ...hiddenFields(page.text, action), title: '', description: 'Vers brood', image: 'not an address' });
    expect(bad.status).toBe(400);
    expect(bad.text).toMatch(/id="title"[^>]*aria-invalid="true"/);
    expect(bad.text).toMatch(/id="image"[^>]*aria-invalid="true"/);
    expect(bad.text).toContain('Vers brood');

    // two categories: the same field twice, as a browser sends checked boxes
    const body = new URLSearchParams({ ...hiddenFields(page.text, action), title: 'Bakkerij', description: 'Vers brood, elke dag.' });
    body.append('categories', 'commerce');
    body.append('categories', 'health');
    const saved = await owner.request('POST', action, body.toString(), { 'content-type': 'application/x-www-form-urlencoded' });
    expect(saved.status, saved.text).toBe(303);
    expect(saved.headers.get('location')).toBe(`${action}?done=saved`);
    const projects = await fetch(`${t.url}/api/global/projects`).then((r) => r.json() as Promise<{ data: { projects: { title: string; link: string; categories: { name: string }[] }[] } }>);
    const entry = projects.data.projects.find((p) => p.title === 'Bakkerij');
    expect(entry?.link).toContain('bakkerij.example');
    expect(entry?.categories.map((c) => c.name)).toEqual(['Commerce', 'Health']);

    // a viewer reads it, without a form
    const viewer = await join(t.url, owner, 'viewer');
    const seen = await viewer.caller.get(action);
    expect(seen.status).toBe(200);
    expect(seen.text).toContain('This client is in the directory.');
    expect(seen.text).not.toContain('<form method="post" action="/dashboard/clients');

    const listed = await owner.get(action);
    const removed = await formPost(owner, `${action}/remove`, hiddenFields(listed.text, `${action}/remove`));
    expect(removed.status).toBe(303);
    const after = await fetch(`${t.url}/api/global/projects`).then((r) => r.json() as Promise<{ data: { projects: { title: string }[] } }>);
    expect(after.data.projects.some((p) => p.title === 'Bakkerij')).toBe(false);
  });
});
