import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { startTestApp, type TestApp } from './support/app.ts';
import { startTestSmtp, type TestSmtp } from './support/smtp.ts';
import { Caller, uniqueEmail } from './support/http.ts';
import { approvedToken, createPartner, sdkFailure } from './signin-support.ts';
import { hiddenFields, registerAndVerify, submit } from './account-support.ts';

const PASS = 'velvet orbit lantern 42';
let t: TestApp;
let smtp: TestSmtp;
beforeAll(async () => {
  smtp = await startTestSmtp();
  t = await startTestApp({ env: { SMTP_URL: smtp.url } });
});
afterAll(async () => {
  await t?.close();
  await smtp?.close();
});

async function person(name = 'Grace Hopper') {
  const email = uniqueEmail('page');
  const browser = await registerAndVerify(t.url, smtp, { name, email, password: PASS });
  const user = await t.app.ctx.database.db.selectFrom('users').select('sub').where('email', '=', email).executeTakeFirstOrThrow();
  return { email, password: PASS, name, browser, sub: user.sub };
}

const home = async (browser: Caller) => {
  const page = await browser.get(`${t.url}/account`);
  expect(page.status, page.text).toBe(200);
  return page.text;
};

describe('/account profile', () => {
  it('refuses bad fields by name and changes nothing; records which fields changed, never their values', async () => {
    const p = await person();
    const bad = await submit(p.browser, t.url, await home(p.browser), '/account/profile', {
      name: 'Grace Hopper',
      picture: 'javascript:alert(1)',
      birth_date: '2001-02-30',
      country: 'XX',
      second_email: 'not-an-email',
      given_name: 'x'.repeat(101),
    });
    expect(bad.status).toBe(400);
    for (const field of ['picture', 'birth_date', 'country', 'second_email', 'given_name']) expect(bad.text).toContain(`id="${field}-note"`);
    const row = await t.app.ctx.database.db.selectFrom('users').select(['given_name', 'country']).where('sub', '=', p.sub).executeTakeFirstOrThrow();
    expect(row).toEqual({ given_name: null, country: null });

    const ok = await submit(p.browser, t.url, await home(p.browser), '/account/profile', { name: 'Grace Hopper', given_name: 'Grace', country: 'nl', preferred_language: 'en' });
    expect(ok.status, ok.text).toBe(303);
    const events = await t.app.ctx.store.readStream(`user-${p.sub}`);
    const updated = events.find((e) => e.type === 'ProfileUpdated');
    expect(updated?.data).toEqual({ sub: p.sub, fields: ['given_name', 'country'] });
    const everything = JSON.stringify(events, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
    for (const personal of [p.email, 'Grace', '127.0.0.1']) expect(everything).not.toContain(personal);
  });

  it('takes an uploaded picture, re-encoded as WebP, served by an unguessable URL; refuses what is no image', async () => {
    const p = await person();
    const png = await sharp({ create: { width: 800, height: 600, channels: 3, background: '#3366cc' } }).png().toBuffer();
    const upload = async (file: Buffer, type: string, name: string) => {
      const form = new FormData();
      for (const [k, v] of Object.entries(hiddenFields(await home(p.browser), '/account/picture'))) form.append(k, v);
      form.append('picture', new Blob([new Uint8Array(file)], { type }), name);
      const cookie = [...p.browser.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
      return await fetch(`${t.url}/account/picture`, { method: 'POST', body: form, headers: { cookie }, redirect: 'manual' });
    };
    const saved = await upload(png, 'image/png', 'me.png');
    expect(saved.status).toBe(303);
    const { picture } = await t.app.ctx.database.db.selectFrom('users').select('picture').where('sub', '=', p.sub).executeTakeFirstOrThrow();
    expect(picture).toMatch(new RegExp(`^${t.url}/account/pictures/[A-Za-z0-9_-]{22}$`));
    const served = await fetch(picture!);
    expect(served.headers.get('content-type')).toBe('image/webp');
    const meta = await sharp(Buffer.from(await served.arrayBuffer())).metadata();
    expect(meta).toMatchObject({ format: 'webp', width: 512, height: 512 });

    const script = await upload(Buffer.from('<svg onload="alert(1)"></svg>'), 'image/png', 'evil.png');
    expect(script.status).toBe(400);
    expect(await script.text()).toContain('could not be read as an image');
  });
});

describe('/account password and sessions', () => {
  it('changing the password ends every other session, and keeps this one', async () => {
    const p = await person();
    const other = new Caller(t.url);
    expect((await other.post('/manage/v1/account/login', { email: p.email, password: PASS })).status).toBe(200);
    const elsewhere = new Caller('');
    const login = await elsewhere.get(`${t.url}/account/login`);
    expect((await submit(elsewhere, t.url, login.text, '/account/login', { email: p.email, password: PASS })).status).toBe(303);

    const wrong = await submit(p.browser, t.url, await home(p.browser), '/account/password', { current_password: 'not it at all', new_password: 'granite willow parade 7' });
    expect(wrong.status).toBe(400);
    const changed = await submit(p.browser, t.url, await home(p.browser), '/account/password', { current_password: PASS, new_password: 'granite willow parade 7' });
    expect(changed.status).toBe(303);
    expect((await p.browser.get(`${t.url}/account`)).status).toBe(200);
    expect((await elsewhere.get(`${t.url}/account`)).status).toBe(303);
    const events = await t.app.ctx.store.readStream(`user-${p.sub}`);
    expect(events.find((e) => e.type === 'PasswordChanged')?.data).toEqual({ sub: p.sub, via: 'change', sessionsEnded: 2 });
  });

  it('signs another session out from the list', async () => {
    const p = await person();
    const elsewhere = new Caller('');
    const login = await elsewhere.get(`${t.url}/account/login`);
    await submit(elsewhere, t.url, login.text, '/account/login', { email: p.email, password: PASS });
    const page = await home(p.browser);
    expect(page).toContain('This browser');
    const out = await submit(p.browser, t.url, page, '/account/sessions/sign-out');
    expect(out.status).toBe(303);
    expect((await elsewhere.get(`${t.url}/account`)).status).toBe(303);
    expect((await p.browser.get(`${t.url}/account`)).status).toBe(200);
  });
});

describe('/account partners', () => {
  it('revoking a partner makes it get user_not_found for me, until I sign in there again', async () => {
    const partner = await createPartner(t.url, { name: 'Florist', scopes: ['userinfo'] });
    const p = await person();
    const verified = await partner.sdk.verifyToken(await approvedToken(partner, p));
    const sub = verified.data.sub;
    expect((await partner.sdk.getUserInfo(sub)).status).toBe('success');

    const page = await home(p.browser);
    expect(page).toContain('Florist');
    const revoked = await submit(p.browser, t.url, page, '/account/partners/revoke');
    expect(revoked.status).toBe(200);
    expect(revoked.text).toContain('<strong>Florist</strong> can no longer see your details');
    const refused = await sdkFailure(partner.sdk.getUserInfo(sub));
    expect(refused.status).toBe(404);
    expect(refused.body.code).toBe('user_not_found');

    await partner.sdk.verifyToken(await approvedToken(partner, p));
    expect((await partner.sdk.getUserInfo(sub)).status).toBe('success');
  });
});

describe('/account deletion', () => {
  it('erases the person’s rows; the events keep only the erasure marker and a number', async () => {
    const partner = await createPartner(t.url, { name: 'Cafe', scopes: ['userinfo'] });
    const p = await person('Erin Erased');
    await partner.sdk.verifyToken(await approvedToken(partner, p));
    await submit(p.browser, t.url, await home(p.browser), '/account/profile', { name: 'Erin Erased', given_name: 'Erin', social_platform_0: 'github', social_username_0: 'erin' });

    const wrong = await submit(p.browser, t.url, await home(p.browser), '/account/delete', { delete_password: 'not my password!' });
    expect(wrong.status).toBe(400);
    const deleted = await submit(p.browser, t.url, await home(p.browser), '/account/delete', { delete_password: PASS });
    expect(deleted.status).toBe(200);
    expect(deleted.text).toContain('Your account is deleted');

    const { db, rm } = t.app.ctx.database;
    for (const table of ['users', 'sessions', 'user_socials', 'client_users', 'account_links'] as const) {
      const column = table === 'users' ? 'sub' : 'user_sub';
      const rows = await db.selectFrom(table).select(column).where(column, '=', p.sub).execute();
      expect(rows, table).toEqual([]);
    }
    expect(await rm.selectFrom('user_accounts').select(['status']).where('user_sub', '=', p.sub).executeTakeFirst()).toEqual({ status: 'erased' });
    const events = await t.app.ctx.store.readStream(`user-${p.sub}`);
    expect(events.at(-1)?.type).toBe('UserErased');
    const everything = JSON.stringify(events, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
    for (const personal of [p.email, 'Erin', 'erin']) expect(everything).not.toContain(personal);
    const sdkSub = String(p.sub);
    expect((await sdkFailure(partner.sdk.getUserInfo(sdkSub))).body.code).toBe('user_not_found');
    expect((await new Caller(t.url).post('/manage/v1/account/login', { email: p.email, password: PASS })).status).toBe(401);
  });

  it('a member of an organisation is asked to leave it first', async () => {
    const email = uniqueEmail('owner');
    expect((await new Caller(t.url).post('/manage/v1/account/register', { email, password: PASS, name: 'Owner' })).status).toBe(201);
    const browser = new Caller('');
    const login = await browser.get(`${t.url}/account/login`);
    await submit(browser, t.url, login.text, '/account/login', { email, password: PASS });
    const refused = await submit(browser, t.url, await home(browser), '/account/delete', { delete_password: PASS });
    expect(refused.status).toBe(409);
    expect(refused.text).toContain('member of an organisation');
  });
});

describe('rate limits', () => {
  it('sign-up and reset mails per address and per IP answer 429 once spent, the same for known and unknown addresses', async () => {
    const limited = await startTestApp({ env: { SMTP_URL: smtp.url, ACCOUNT_MAILS_PER_EMAIL_PER_HOUR: '2', ACCOUNT_REQUESTS_PER_IP_PER_HOUR: '5' } });
    try {
      const browser = new Caller('');
      const forgot = await browser.get(`${limited.url}/account/forgot`);
      const ask = (email: string) => submit(browser, limited.url, forgot.text, '/account/forgot', { email });
      const target = uniqueEmail('limited');
      expect((await ask(target)).status).toBe(200);
      expect((await ask(target)).status).toBe(200);
      const third = await ask(target);
      expect(third.status).toBe(429);
      expect(Number(third.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(third.text).toContain('Too many requests');
      // per IP: 5 an hour from here, whatever the address
      expect((await ask(uniqueEmail('a'))).status).toBe(200);
      expect((await ask(uniqueEmail('b'))).status).toBe(200);
      expect((await ask(uniqueEmail('c'))).status).toBe(429);
      const register = await browser.get(`${limited.url}/account/register`);
      const signups = [];
      for (let i = 0; i < 6; i++) {
        signups.push((await submit(browser, limited.url, register.text, '/account/register', { name: 'Sam', email: uniqueEmail('s'), password: PASS })).status);
      }
      expect(signups).toEqual([200, 200, 200, 200, 200, 429]);
    } finally {
      await limited.close();
    }
  });
});
