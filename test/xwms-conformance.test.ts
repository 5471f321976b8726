import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './support/app.ts';
import { approvedToken, createEndUser, createPartner, signedInUser, type Partner } from './signin-support.ts';
import { profileUpdateSchema, setEmailVerified, updateProfile } from '../src/users/profile-store.ts';

/*
 * XWMS's public partner documentation is the contract for /api/ (DESIGN §7). Each row below is
 * one documented call: the request body and the example answer exactly as the docs print them
 * (X-WMS/xwms-docs: content/03.partner/10.api/js/user.md and global.md, and the field lists of
 * content/03.partner/90.oauth-setup/js.md for sign-token and sign-token-verify). Only a `sub` or
 * an address id, which must be real, is put in. The test sends the documented body and checks
 * that every documented field is there, with the documented JSON type, all the way down.
 */

// ---- the docs' examples, verbatim --------------------------------------------------------------

const DOC_INFO = {
  status: 'success',
  message: 'The kingdom of XWMS stands tall ...',
  data: {
    application: {
      name: 'XWMS',
      description: 'XWMS is a forward-thinking software company...',
      version: 'v.2',
      locale: 'en',
      timezone: 'Europe/Amsterdam',
      time: '2026-01-12T12:00:00Z',
    },
    client: { ip: '203.0.113.10', user_agent: 'Mozilla/5.0 ...' },
    api: {
      documentation: 'https://docs.xwms.nl/',
      endpoints: {
        general_info: 'https://xwms.nl/api/info',
        countries: 'https://xwms.nl/api/global/countries',
        projects: 'https://xwms.nl/api/global/projects',
        user_address: 'https://xwms.nl/api/get/user/address',
        user_info: 'https://xwms.nl/api/get/user/info',
        auth_signin: 'https://xwms.nl/api/sign-token',
        auth_verify: 'https://xwms.nl/api/sign-token-verify',
      },
    },
  },
};

const DOC_COUNTRIES = {
  status: 'success',
  message: 'Countries retrieved successfully.',
  data: {
    countries: [
      {
        id: 1,
        short_name: 'NL',
        name: 'Netherlands',
        phonecode: '+31',
        is_eu_member: true,
        capital: 'Amsterdam',
        iso_alpha3: 'NLD',
        region: 'Europe',
        timezone: 'Europe/Amsterdam',
        currency_code: 'EUR',
      },
    ],
  },
};

const DOC_PROJECTS = {
  status: 'success',
  message: 'Projects retrieved successfully.',
  data: {
    projects: [
      {
        id: 10,
        title: 'Project Name',
        description: 'Short description',
        image: 'https://...',
        link: 'https://...',
        is_new: true,
        direct_redirect: false,
        published_at: '2026-01-01T12:00:00Z',
        categories: [{ id: 2, name: 'Automation' }],
      },
    ],
  },
};

const DOC_USER_INFO_REQUEST = { sub: 12345, socials: true };
const DOC_USER_INFO = {
  status: 'success',
  message: 'User addresses retrieved successfully.',
  data: {
    user: {
      sub: '12345',
      name: 'John Doe',
      given_name: 'John',
      family_name: 'Doe',
      email: 'john@example.com',
      email_verified: true,
      picture: 'https://...',
      birth_date: '2000-01-01',
      gender: 'male',
      second_email: null,
      country: 'NL',
      socials: [{ platform: 'instagram', username: 'john', url: 'https://...' }],
    },
  },
};

const DOC_ADDRESS_CREATE_REQUEST = {
  sub: 12345,
  action: 'create',
  address: {
    type: 'billing',
    name: 'Home',
    company_name: null,
    firstname: 'John',
    lastname: 'Doe',
    phone: '+31 612345678',
    email: 'john@example.com',
    tax_nr: null,
    registration_nr: null,
    access_code: null,
    postal_code: '1012AB',
    house_number: '10A',
    street: 'Mainstreet',
    city: 'Amsterdam',
    country: 'NL',
  },
};
const DOC_ADDRESS_CREATED = {
  status: 'success',
  message: 'Address created successfully.',
  data: {
    address: {
      id: 55,
      type: 'billing',
      name: 'Home',
      firstname: 'John',
      lastname: 'Doe',
      city: 'Amsterdam',
      country: { id: 1, short_name: 'NL', name: 'Netherlands', phonecode: '+31', is_eu_member: true },
    },
  },
};

/** sign-token: "client_id (string), token (string), expires_at (ISO 8601 string), url (string)". */
const DOC_SIGN_TOKEN = { status: 'success', message: '…', data: { client_id: 'string', token: 'string', expires_at: '2026-01-01T12:00:00Z', url: 'https://…' } };
/** sign-token-verify: "sub (string), name, given_name (string), family_name (string or null), email, email_verified (boolean), picture (string URL)". */
const DOC_SIGN_TOKEN_VERIFY = {
  status: 'success',
  message: '…',
  data: { sub: '12345', name: 'string', given_name: 'string', family_name: null, email: 'string', email_verified: true, picture: 'https://…' },
};

// ---- the check --------------------------------------------------------------------------------

/**
 * A documented field that has no value for some rows: XWMS's own country seed has a null
 * `phonecode` (Anguilla), and places like Antarctica have no capital, currency or single zone.
 * Null is allowed there; any other value must have the documented type.
 */
class OrNull {
  constructor(readonly example: unknown) {}
}
const orNull = (example: unknown) => new OrNull(example);
const [DOC_NL] = DOC_COUNTRIES.data.countries;
const COUNTRIES_CHECKED = {
  ...DOC_COUNTRIES,
  data: {
    countries: [
      { ...DOC_NL, phonecode: orNull(DOC_NL!.phonecode), capital: orNull(DOC_NL!.capital), region: orNull(DOC_NL!.region), timezone: orNull(DOC_NL!.timezone), currency_code: orNull(DOC_NL!.currency_code) },
    ],
  },
};

const kind = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);

/**
 * Every field of the documented example is in `actual` with the same JSON type (a documented
 * null — "or null", or an example left empty — admits null or a string); arrays: each element
 * against the documented first element. Returns the differences, so a failure names them all.
 */
function differences(actual: unknown, documented: unknown, path = ''): string[] {
  if (documented instanceof OrNull) return actual === null ? [] : differences(actual, documented.example, path);
  const want = kind(documented);
  const got = kind(actual);
  if (want === 'null') return got === 'null' || got === 'string' ? [] : [`${path}: documented null or string, got ${got}`];
  if (want !== got) return [`${path}: documented ${want}, got ${got} (${JSON.stringify(actual)})`];
  if (want === 'array') {
    const [example] = documented as unknown[];
    if (example === undefined) return [];
    const items = actual as unknown[];
    if (items.length === 0) return [`${path}: documented a non-empty list, got []`];
    return items.flatMap((item, i) => differences(item, example, `${path}[${i}]`));
  }
  if (want === 'object') {
    return Object.entries(documented as Record<string, unknown>).flatMap(([key, value]) =>
      Object.hasOwn(actual as object, key) ? differences((actual as Record<string, unknown>)[key], value, path ? `${path}.${key}` : key) : [`${path ? `${path}.` : ''}${key}: missing`],
    );
  }
  return [];
}

function conforms(reply: { status: number; body: unknown }, documented: unknown) {
  // a success (2xx), whatever its exact code
  expect(Math.floor(reply.status / 100), JSON.stringify(reply.body)).toBe(2);
  expect(differences(reply.body, documented)).toEqual([]);
}

// ---- the calls ----------------------------------------------------------------------------------

let t: TestApp;
let partner: Partner;
let sub: number;

async function call(method: 'GET' | 'POST', path: string, body?: unknown) {
  const response = await fetch(`${t.url}/api/${path}`, {
    method,
    headers: {
      'X-Client-Id': partner.clientId,
      'X-Client-Secret': partner.secret,
      'X-Client-Domain': partner.domain,
      Accept: 'application/json',
      ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as any };
}

/** The documented body with the real user put in for the docs' 12345. */
const withSub = <T extends { sub: number }>(documented: T): T => ({ ...documented, sub });

beforeAll(async () => {
  t = await startTestApp();
  partner = await createPartner(t.url, { name: 'Conformance shop', scopes: ['userinfo', 'useraddresses'] });
  // Listed in the directory, so `projects` has an entry to check.
  const listed = await partner.owner.put(`/manage/v1/clients/${partner.clientId}/listing`, {
    title: 'Conformance shop',
    description: 'Checks every documented field.',
    categories: ['automation'],
    image: 'https://shop.example.com/logo.png',
  });
  expect(listed.status, listed.text).toBe(200);
  const user = await signedInUser(t.url, partner, 'John Doe');
  sub = user.sub;
  // No profile page yet (issue #10 part 1): the profile goes in through the store those pages will use.
  await updateProfile(
    t.app.ctx.database.db,
    sub,
    profileUpdateSchema.parse({
      given_name: 'John',
      family_name: 'Doe',
      picture: 'https://img.example/john.png',
      birth_date: '2000-01-01',
      gender: 'male',
      country: 'NL',
      socials: [{ platform: 'instagram', username: 'john', url: 'https://instagram.com/john' }],
    }),
    new Date(),
  );
  await setEmailVerified(t.app.ctx.database.db, sub, true);
});
afterAll(async () => {
  await t?.close();
});

describe('every documented call answers with every documented field, typed as documented', () => {
  it('GET /api/info', async () => {
    const reply = await call('GET', 'info');
    conforms(reply, DOC_INFO);
    // every documented endpoint name maps to the URL of that endpoint here
    for (const [name, url] of Object.entries(DOC_INFO.data.api.endpoints)) {
      expect(reply.body.data.api.endpoints[name], name).toBe(`${t.url}${new URL(url).pathname}`);
    }
  });

  it('POST /api/global/countries', async () => {
    const reply = await call('POST', 'global/countries', {});
    conforms(reply, COUNTRIES_CHECKED);
    const nl = reply.body.data.countries.find((c: { short_name: string }) => c.short_name === 'NL');
    // the documented values, except the id (XWMS's row id; ours is ISO 3166-1 numeric)
    expect(nl).toMatchObject({ ...DOC_COUNTRIES.data.countries[0], id: 528 });
  });

  it('GET /api/global/projects', async () => {
    const reply = await call('GET', 'global/projects');
    conforms(reply, DOC_PROJECTS);
    expect(reply.body.data.projects).toContainEqual(
      expect.objectContaining({ title: 'Conformance shop', link: 'https://shop.example.com/', is_new: true, categories: [{ id: 1, name: 'Automation' }] }),
    );
  });

  it('POST /api/get/user/info', async () => {
    const reply = await call('POST', 'get/user/info', withSub(DOC_USER_INFO_REQUEST));
    conforms(reply, DOC_USER_INFO);
    expect(reply.body.data.user).toMatchObject({ ...DOC_USER_INFO.data.user, sub: String(sub), email: expect.any(String), picture: 'https://img.example/john.png', socials: [{ platform: 'instagram', username: 'john', url: 'https://instagram.com/john' }] });
  });

  it('POST /api/user/address: the documented create body, unchanged, then list, update and delete as the SDK helpers send them', async () => {
    const created = await call('POST', 'user/address', withSub(DOC_ADDRESS_CREATE_REQUEST));
    expect(created.status).toBe(201);
    conforms(created, DOC_ADDRESS_CREATED);
    const { id } = created.body.data.address;
    expect(created.body.data.address).toMatchObject({ ...DOC_ADDRESS_CREATED.data.address, id, country: { ...DOC_ADDRESS_CREATED.data.address.country, id: 528 } });
    // ISO-3 as the docs allow
    const iso3 = await call('POST', 'user/address', withSub({ ...DOC_ADDRESS_CREATE_REQUEST, address: { ...DOC_ADDRESS_CREATE_REQUEST.address, country: 'DEU' } }));
    expect(iso3.body.data.address.country).toMatchObject({ short_name: 'DE', name: 'Germany', phonecode: '+49', is_eu_member: true });

    const listed = await call('POST', 'user/address', { sub, action: 'list', address_id: undefined, address: undefined });
    conforms(listed, { status: 'success', message: '', data: { addresses: [DOC_ADDRESS_CREATED.data.address] } });
    const fetched = await call('POST', 'get/user/address', { sub });
    conforms(fetched, { status: 'success', message: '', data: { addresses: [DOC_ADDRESS_CREATED.data.address] } });

    const updated = await call('POST', 'user/address', { sub, action: 'update', address_id: id, address: DOC_ADDRESS_CREATE_REQUEST.address });
    conforms(updated, DOC_ADDRESS_CREATED);
    const removed = await call('POST', 'user/address', { sub, action: 'delete', address_id: id });
    expect(removed.status).toBe(200);
    expect(removed.body.status).toBe('success');
    expect((await call('POST', 'get/user/address', { sub })).body.data.addresses.map((a: { id: number }) => a.id)).not.toContain(id);
  });

  it('POST /api/sign-token and /api/sign-token-verify', async () => {
    const signToken = await call('POST', 'sign-token', { redirect_url: partner.redirectUri });
    conforms(signToken, DOC_SIGN_TOKEN);
    expect(Number.isNaN(Date.parse(signToken.body.data.expires_at))).toBe(false);

    const person = await createEndUser(t.url, 'Jane Roe');
    await updateProfile(t.app.ctx.database.db, person.sub, profileUpdateSchema.parse({ given_name: 'Jane', picture: 'https://img.example/jane.png' }), new Date());
    const token = await approvedToken(partner, person);
    const verified = await call('POST', 'sign-token-verify', { token });
    conforms(verified, DOC_SIGN_TOKEN_VERIFY);
    expect(verified.body.data.sub).toBe(String(person.sub));
  });

  it('the check itself catches a wrong type, a missing field and a number sent for a string', () => {
    expect(differences({ a: { b: 1 } }, { a: { b: 'x', c: true } })).toEqual(['a.b: documented string, got number (1)', 'a.c: missing']);
    expect(differences({ list: [] }, { list: [{}] })).toEqual(['list: documented a non-empty list, got []']);
    expect(differences({ sub: 12345 }, DOC_SIGN_TOKEN_VERIFY.data)).toContain('sub: documented string, got number (12345)');
  });
});
