import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './support/app.ts';
import { createEndUser, createPartner, sdkFailure, signedInUser, XwmsLikeClient } from './signin-support.ts';
import { profileUpdateSchema, setEmailVerified, updateProfile } from '../src/users/profile-store.ts';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => {
  await t?.close();
});

// No profile page yet (issue #10 part 1): the profile is written straight through the store the pages will use.
const setProfile = async (sub: number, profile: Record<string, unknown>) => {
  expect(await updateProfile(t.app.ctx.database.db, sub, profileUpdateSchema.parse(profile), new Date())).toBe(true);
};

const address = {
  type: 'shipping',
  name: 'Home',
  firstname: 'Grace',
  lastname: 'Hopper',
  street: 'Keizersgracht',
  house_number: '123',
  addition: 'B',
  postal_code: '1015 CJ',
  city: 'Amsterdam',
  country: 'nl',
  phone: '+31 20 123 4567',
};

describe('get/user/info', () => {
  it('with userinfo: every profile field; sub may be a number or a numeric string', async () => {
    const partner = await createPartner(t.url, { scopes: ['userinfo'] });
    const user = await signedInUser(t.url, partner, 'Grace Hopper');
    await setProfile(user.sub, {
      given_name: 'Grace',
      family_name: 'Hopper',
      picture: 'https://img.example/g.png',
      birth_date: '1906-12-09',
      country: 'USA',
      gender: 'female',
      second_email: 'grace@navy.example',
      socials: [{ platform: 'github', username: 'ghopper', url: 'https://github.com/ghopper' }, { platform: 'x', username: 'grace' }],
    });
    await setEmailVerified(t.app.ctx.database.db, user.sub, true);
    for (const sub of [user.sub, String(user.sub), ` ${user.sub}`]) {
      const reply = await partner.sdk.post('get/user/info', { sub, socials: true });
      expect(reply.data.user).toEqual({
        sub: String(user.sub),
        name: 'Grace Hopper',
        email: user.email,
        given_name: 'Grace',
        family_name: 'Hopper',
        email_verified: true,
        picture: 'https://img.example/g.png',
        birth_date: '1906-12-09',
        gender: 'female',
        second_email: 'grace@navy.example',
        country: 'US',
        socials: [
          { platform: 'github', username: 'ghopper', url: 'https://github.com/ghopper' },
          { platform: 'x', username: 'grace', url: null },
        ],
      });
    }
    // without socials: true, no socials key
    expect((await partner.sdk.getUserInfo(user.sub)).data.user).not.toHaveProperty('socials');
    // and sign-token-verify now carries the profile too
    const again = await partner.sdk.verifyToken(await (await import('./signin-support.ts')).approvedToken(partner, user));
    expect(again.data).toMatchObject({ given_name: 'Grace', family_name: 'Hopper', email_verified: true, picture: 'https://img.example/g.png' });
  });

  it('without userinfo: sub, name and email, the rest null', async () => {
    const partner = await createPartner(t.url);
    const user = await signedInUser(t.url, partner);
    await setProfile(user.sub, { given_name: 'Grace', country: 'NL', birth_date: '1990-01-02' });
    const { data } = await partner.sdk.getUserInfo(user.sub);
    expect(data.user).toEqual({
      sub: String(user.sub),
      name: user.name,
      email: user.email,
      given_name: null,
      family_name: null,
      email_verified: null,
      picture: null,
      birth_date: null,
      gender: null,
      second_email: null,
      country: null,
    });
  });

  it('only for users who signed in through this client: anyone else is user_not_found (existence does not leak)', async () => {
    const partner = await createPartner(t.url, { scopes: ['userinfo'] });
    const other = await createPartner(t.url, { scopes: ['userinfo'] });
    const user = await signedInUser(t.url, other);
    const stranger = await createEndUser(t.url);
    for (const sub of [user.sub, stranger.sub, 2_000_000_000]) {
      const error = await sdkFailure(partner.sdk.getUserInfo(sub));
      expect(error.status).toBe(404);
      expect(error.body).toMatchObject({ status: 'error', code: 'user_not_found', data: null });
    }
    expect((await other.sdk.getUserInfo(user.sub)).data.user.email).toBe(user.email);
  });

  it('on a test-mode domain only test users: others are 403 test_user_required, and logged', async () => {
    const partner = await createPartner(t.url, { domain: 'test.shop.example.com', testMode: true, redirectUri: 'http://127.0.0.1:8080/cb' });
    const tester = await createEndUser(t.url);
    expect((await partner.owner.post(`/manage/v1/clients/${partner.clientId}/test-users`, { email: tester.email })).status).toBe(201);
    const { sub } = tester;
    await partner.sdk.verifyToken(await (await import('./signin-support.ts')).approvedToken(partner, tester));
    expect((await partner.sdk.getUserInfo(sub)).data.user.sub).toBe(String(sub));

    // the same client's live domain signed a user in; the test domain may not read them
    const live = await partner.owner.post(`/manage/v1/clients/${partner.clientId}/domains`, { domain: 'shop.example.com' });
    expect(live.status).toBe(201);
    await partner.owner.post(`/manage/v1/clients/${partner.clientId}/redirect-uris`, { uri: 'https://shop.example.com/cb' });
    const liveSdk = new XwmsLikeClient({ ...partner.sdk.config, domain: 'shop.example.com', redirectUri: 'https://shop.example.com/cb' });
    const customer = await signedInUser(t.url, { ...partner, sdk: liveSdk, domain: 'shop.example.com', redirectUri: 'https://shop.example.com/cb' });
    expect((await liveSdk.getUserInfo(customer.sub)).data.user.sub).toBe(String(customer.sub));
    const refused = await sdkFailure(partner.sdk.getUserInfo(customer.sub));
    expect(refused.status).toBe(403);
    expect(refused.body.code).toBe('test_user_required');

    // removing the test user closes the door
    expect((await partner.owner.delete(`/manage/v1/clients/${partner.clientId}/test-users/${sub}`)).status).toBe(200);
    expect((await sdkFailure(partner.sdk.getUserInfo(sub))).body.code).toBe('test_user_required');

    await t.app.access.log.flush();
    const failures = await partner.owner.get(`/manage/v1/clients/${partner.clientId}/auth-failures`);
    expect(failures.body.failures[0]).toMatchObject({ reason: 'test_user_required', endpoint: 'POST /api/get/user/info', status: 403 });
  });

  it('a malformed sub is 400 invalid_request naming the field', async () => {
    const partner = await createPartner(t.url);
    for (const sub of [undefined, 0, -1, 1.5, 'abc', '12a', '', null, [1], 99_999_999_999]) {
      const error = await sdkFailure(partner.sdk.post('get/user/info', { sub }));
      expect(error.status, String(sub)).toBe(400);
      expect(error.body, String(sub)).toMatchObject({ code: 'invalid_request', field: 'sub' });
      expect(error.body.message).toMatch(/^sub: /);
    }
    const notJson = await fetch(`${t.url}/api/get/user/info`, {
      method: 'POST',
      headers: { 'X-Client-Id': partner.clientId, 'X-Client-Secret': partner.secret, 'X-Client-Domain': partner.domain, 'Content-Type': 'application/json' },
      body: '{"sub": ',
    });
    expect(notJson.status).toBe(400);
    expect(await notJson.json()).toMatchObject({ status: 'error', code: 'invalid_request' });
  });
});

describe('addresses', () => {
  it('create, list, update, delete — the first address is the default; a new default moves it', async () => {
    const partner = await createPartner(t.url, { scopes: ['useraddresses'] });
    const user = await signedInUser(t.url, partner);
    expect((await partner.sdk.getUserAddress(user.sub)).data.addresses).toEqual([]);

    const created = await partner.sdk.userAddressCrud(user.sub, 'create', { address });
    expect(created.status).toBe('success');
    const home = created.data.address;
    expect(home).toMatchObject({
      ...address,
      country: { id: 528, short_name: 'NL', name: 'Netherlands', phonecode: '+31', is_eu_member: true },
      is_default: true,
      company_name: null,
      state: null,
    });
    expect(Number.isInteger(home.id)).toBe(true);

    const work = (await partner.sdk.userAddressCrud(user.sub, 'create', { address: { name: 'Work', street: 'Damrak', city: 'Amsterdam', country: 'NLD', is_default: true } }))
      .data.address;
    expect(work.is_default).toBe(true);
    expect(work.country.short_name).toBe('NL');
    const listed = (await partner.sdk.userAddressCrud(user.sub, 'list')).data.addresses;
    expect(listed.map((a: { id: number; is_default: boolean }) => [a.id, a.is_default])).toEqual([
      [work.id, true],
      [home.id, false],
    ]);

    const updated = await partner.sdk.userAddressCrud(user.sub, 'update', { addressId: home.id, address: { city: 'Utrecht', addition: null } });
    expect(updated.data.address).toMatchObject({ id: home.id, city: 'Utrecht', addition: null, street: 'Keizersgracht' });
    // the id as a string of digits works too (XWMS's PHP helper sends whatever the caller had)
    expect((await partner.sdk.post('user/address', { sub: user.sub, action: 'update', address_id: String(home.id), address: { city: 'Delft' } })).data.address.city).toBe('Delft');

    const removed = await partner.sdk.userAddressCrud(user.sub, 'delete', { addressId: work.id });
    expect(removed.data).toEqual({ id: work.id, deleted: true });
    const left = (await partner.sdk.getUserAddress(String(user.sub))).data.addresses;
    expect(left).toHaveLength(1);
    expect(left[0]).toMatchObject({ id: home.id, is_default: true });
  });

  it("old Keyledger field names get a 400 naming the field and the XWMS name to use; nothing is written", async () => {
    const partner = await createPartner(t.url, { scopes: ['useraddresses'] });
    const user = await signedInUser(t.url, partner);
    for (const [old, use] of [
      ['label', 'name'],
      ['company', 'company_name'],
    ] as const) {
      const error = await sdkFailure(partner.sdk.userAddressCrud(user.sub, 'create', { address: { ...address, [old]: 'x' } }));
      expect(error.status).toBe(400);
      expect(error.body).toMatchObject({ code: 'invalid_request', field: `address.${old}` });
      expect(error.body.message).toContain(`use "${use}"`);
    }
    const created = (await partner.sdk.userAddressCrud(user.sub, 'create', { address })).data.address;
    const update = await sdkFailure(partner.sdk.userAddressCrud(user.sub, 'update', { addressId: created.id, address: { label: 'Old' } }));
    expect(update.body).toMatchObject({ code: 'invalid_request', field: 'address.label' });
    const oldId = await sdkFailure(partner.sdk.post('user/address', { sub: user.sub, action: 'delete', address_id: 'adr_0123456789abcdefghij' }));
    expect(oldId.body).toMatchObject({ code: 'invalid_request', field: 'address_id' });
    expect(oldId.body.message).toMatch(/numeric id/);
    expect((await partner.sdk.getUserAddress(user.sub)).data.addresses).toHaveLength(1);
  });

  it('names the bad field of an address, and refuses unknown fields', async () => {
    const partner = await createPartner(t.url, { scopes: ['useraddresses'] });
    const user = await signedInUser(t.url, partner);
    const cases: [Record<string, unknown> | undefined, string][] = [
      [undefined, 'address'],
      [{ ...address, country: 'XX' }, 'address.country'],
      [{ ...address, country: undefined }, 'address.country'],
      [{ ...address, street: '   ' }, 'address.street'],
      [{ ...address, name: 'x'.repeat(101) }, 'address.name'],
      [{ ...address, postal_code: '1015<CJ>' }, 'address.postal_code'],
      [{ ...address, phone: 'call me' }, 'address.phone'],
      [{ ...address, city: 42 }, 'address.city'],
      [{ ...address, is_default: 'yes' }, 'address.is_default'],
      [{ ...address, street: 'Main\u202Estreet' }, 'address.street'],
      [{ ...address, email: 'not-an-email' }, 'address.email'],
      [{ ...address, country: 'NLX' }, 'address.country'],
      [{ ...address, tax_nr: 'NL<script>' }, 'address.tax_nr'],
      [{ ...address, nickname: 'Gracie' }, 'address'],
    ];
    for (const [bad, field] of cases) {
      const error = await sdkFailure(partner.sdk.userAddressCrud(user.sub, 'create', { address: bad }));
      expect(error.status, field).toBe(400);
      expect(error.body, JSON.stringify(bad)).toMatchObject({ code: 'invalid_request', field });
      expect(error.body.message.startsWith(`${field}: `)).toBe(true);
    }
    const badAction = await sdkFailure(partner.sdk.userAddressCrud(user.sub, 'upsert'));
    expect(badAction.body).toMatchObject({ code: 'invalid_request', field: 'action' });
    expect((await sdkFailure(partner.sdk.userAddressCrud(user.sub, 'update', { address: { city: 'X' } }))).body).toMatchObject({ field: 'address_id' });
    expect((await sdkFailure(partner.sdk.userAddressCrud(user.sub, 'delete'))).body).toMatchObject({ field: 'address_id' });
    const emptyPatch = await sdkFailure(partner.sdk.userAddressCrud(user.sub, 'update', { addressId: 1, address: {} }));
    expect(emptyPatch.body).toMatchObject({ code: 'invalid_request', field: 'address' });
    expect((await partner.sdk.getUserAddress(user.sub)).data.addresses).toEqual([]);
  });

  it("another user's address is address_not_found, and users not signed in are user_not_found", async () => {
    const partner = await createPartner(t.url, { scopes: ['useraddresses'] });
    const alice = await signedInUser(t.url, partner, 'Alice');
    const bob = await signedInUser(t.url, partner, 'Bob');
    const stranger = await createEndUser(t.url);
    const alices = (await partner.sdk.userAddressCrud(alice.sub, 'create', { address })).data.address;
    const error = await sdkFailure(partner.sdk.userAddressCrud(bob.sub, 'delete', { addressId: alices.id }));
    expect(error.status).toBe(404);
    expect(error.body).toMatchObject({ code: 'address_not_found', field: 'address_id' });
    expect((await sdkFailure(partner.sdk.userAddressCrud(bob.sub, 'update', { addressId: alices.id, address: { city: 'X' } }))).body.code).toBe(
      'address_not_found',
    );
    expect((await sdkFailure(partner.sdk.getUserAddress(stranger.sub))).body.code).toBe('user_not_found');
    expect((await sdkFailure(partner.sdk.userAddressCrud(stranger.sub, 'create', { address }))).body.code).toBe('user_not_found');
    expect((await partner.sdk.getUserAddress(alice.sub)).data.addresses).toHaveLength(1);
  });

  it('needs the useraddresses scope', async () => {
    const partner = await createPartner(t.url, { scopes: ['userinfo'] });
    const user = await signedInUser(t.url, partner);
    const error = await sdkFailure(partner.sdk.getUserAddress(user.sub));
    expect(error.status).toBe(403);
    expect(error.body.code).toBe('scope_missing');
    expect((await sdkFailure(partner.sdk.userAddressCrud(user.sub, 'list'))).body.code).toBe('scope_missing');
  });
});

describe('global/countries', () => {
  it('lists every ISO 3166-1 country with alpha-2, alpha-3 and names in English or Dutch', async () => {
    const partner = await createPartner(t.url);
    const { data, message } = await partner.sdk.getCountries();
    expect(message).toBe('Countries retrieved successfully.');
    expect(data.countries.length).toBeGreaterThanOrEqual(249);
    const nl = data.countries.find((c: { short_name: string }) => c.short_name === 'NL');
    expect(nl).toEqual({
      id: 528,
      short_name: 'NL',
      name: 'Netherlands',
      phonecode: '+31',
      is_eu_member: true,
      capital: 'Amsterdam',
      iso_alpha3: 'NLD',
      region: 'Europe',
      timezone: 'Europe/Amsterdam',
      currency_code: 'EUR',
      iso_numeric: '528',
      names: { en: 'Netherlands', nl: 'Nederland' },
      timezones: ['Europe/Amsterdam'],
    });
    const names = data.countries.map((c: { name: string }) => c.name);
    expect(names).toEqual([...names].sort((a: string, b: string) => a.localeCompare(b, 'en')));

    const dutch = await partner.sdk.getCountries({ lang: 'nl' });
    expect(dutch.data.countries.find((c: { short_name: string }) => c.short_name === 'DE').name).toBe('Duitsland');
    expect((await sdkFailure(partner.sdk.getCountries({ lang: 'fr' }))).body).toMatchObject({ code: 'invalid_request', field: 'lang' });
  });
});
