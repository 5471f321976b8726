import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { startTestApp, type TestApp } from '../support/app.ts';
import { Caller, PASSWORD, uniqueEmail } from '../support/http.ts';
import { join } from '../support/members.ts';
import { generateSecret } from '../../src/clients/secret-format.ts';
import { checkPage, hasChromium, languageContext, launchBrowser } from './browser.ts';

let t: TestApp;
let browser: Browser | undefined;

beforeAll(async () => {
  if (!hasChromium) return;
  t = await startTestApp();
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
  await t?.close();
});

type Lang = 'en' | 'nl';

async function open(lang: Lang): Promise<{ context: BrowserContext; page: Page }> {
  const context = await languageContext(browser!, lang);
  return { context, page: await context.newPage() };
}

/** Every page visited: axe, and on a Dutch page no English. */
const check = (page: Page, lang: Lang, label: string) => checkPage(page, lang, `${label} (${lang})`);

/** Submits the form of `main` that posts to a path ending in `action`, and waits for the next page. */
async function submit(page: Page, action: string): Promise<void> {
  await Promise.all([page.waitForNavigation(), page.click(`main form[action$="${action}"] button[type=submit]`)]);
}

/** The browser's session as an API caller (for what other engineers' pages will do: plan, members). */
async function callerOf(context: BrowserContext): Promise<Caller> {
  const caller = new Caller(t.url);
  for (const cookie of await context.cookies()) caller.cookies.set(cookie.name, cookie.value);
  return caller;
}

describe.skipIf(!hasChromium)('the dashboard in a real browser', () => {
  for (const lang of ['en', 'nl'] as const) {
    it(`when an owner signs up and manages a client in ${lang}, then every step works, every page passes axe and speaks ${lang}`, async () => {
      const { context, page } = await open(lang);
      const name = `Ada ${lang}`;
      const domain = `shop-${lang}.example.com`;
      try {
        // sign up
        await page.goto(`${t.url}/dashboard/register`);
        await page.fill('#name', name);
        await page.fill('#email', uniqueEmail(`owner-${lang}`));
        await page.fill('#password', PASSWORD);
        await submit(page, '/dashboard/register');
        await check(page, lang, 'clients list, empty');

        // the plan, on the Plan page (the members branch's)
        await page.click('header nav a[href="/dashboard/plan"]');
        await page.click('main a[href="/dashboard/plan/activate?plan=pro"]');
        await Promise.all([page.waitForNavigation(), page.click('main form button[type=submit]')]);
        const owner = await callerOf(context);
        expect((await owner.get('/manage/v1/account/me')).body.plan.status).toBe('active');

        // create a client: its secret once
        await page.click('header nav a[href="/dashboard"]');
        await page.fill('#name', `Bakery ${lang}`);
        await submit(page, '/dashboard/clients');
        const secret = await page.inputValue('#secret');
        expect(secret).toMatch(/^klsk_/);
        expect(await page.isVisible('button[data-copy]')).toBe(true);
        await check(page, lang, 'secret shown once');
        const clientId = (await page.textContent('dl.facts code'))!.trim();
        await Promise.all([page.waitForNavigation(), page.click('main a.button')]);
        expect(new URL(page.url()).pathname).toBe(`/dashboard/clients/${clientId}`);
        expect(await page.content()).not.toContain(secret);
        expect(await page.getAttribute('nav.tabs a[aria-current="page"]', 'href')).toBe(`/dashboard/clients/${clientId}`);
        await check(page, lang, 'overview');

        // a domain
        await page.click('nav.tabs a[href$="/domains"]');
        await check(page, lang, 'domains');
        await page.fill('#domain', domain);
        await submit(page, '/domains');
        expect(await page.textContent('table.list')).toContain(domain);
        await page.click(`table.list a:has-text("${domain}")`);
        await check(page, lang, 'domain settings');

        // a second secret, then linked to the domain
        await page.click('nav.tabs a[href$="/secrets"]');
        await check(page, lang, 'secrets');
        await page.fill('#label', 'Second');
        await submit(page, '/secrets');
        expect(await page.inputValue('#secret')).toMatch(/^klsk_/);
        await check(page, lang, 'second secret shown once');
        await Promise.all([page.waitForNavigation(), page.click('main a.button')]);
        await page.click('table.list a:has-text("Second")');
        await check(page, lang, 'secret detail');
        await submit(page, '/links');
        await page.waitForSelector('p.notice');
        expect(await page.textContent('ul.links')).toMatch(lang === 'en' ? /linked/ : /gekoppeld/);

        // rotate the first secret with a grace period
        await page.click('nav.tabs a[href$="/secrets"]');
        await page.click('table.list tbody tr:first-child a');
        await page.click('main a[href$="/rotate"]');
        await check(page, lang, 'rotate');
        await page.fill('#graceMinutes', '60');
        await submit(page, '/rotate');
        const rotated = await page.inputValue('#secret');
        expect(rotated).toMatch(/^klsk_/);
        expect(rotated).not.toBe(secret);
        await Promise.all([page.waitForNavigation(), page.click('main a.button')]);
        await check(page, lang, 'secrets after rotation');
        const { body } = await owner.get(`/manage/v1/clients/${clientId}`);
        const old = body.secrets.find((s: { status: string }) => s.status === 'rotated');
        expect(old.graceUntil).not.toBeNull();

        // an auth failure: a real /api call with a wrong secret
        const failed = await fetch(`${t.url}/api/whoami`, { headers: { 'x-client-id': clientId, 'x-client-secret': generateSecret().secret, 'x-client-domain': domain } });
        expect(failed.status).toBe(401);
        const denialId = failed.headers.get('x-request-id')!;
        await t.app.access.log.flush();
        await page.click('nav.tabs a[href$="/auth-failures"]');
        await check(page, lang, 'auth failures');
        await page.click(`table.list a[href$="/${denialId}"]`);
        expect(await page.textContent('h2')).toContain(lang === 'en' ? 'Wrong secret' : 'Onjuist secret');
        await check(page, lang, 'explanation');

        // a viewer (invited through the members API) sees no write controls
        const viewer = await join(t.url, owner, 'viewer', { name: `Vera ${lang}` });
        const seen = await open(lang);
        try {
          await seen.page.goto(`${t.url}/dashboard/login`);
          await seen.page.fill('#email', viewer.email);
          await seen.page.fill('#password', viewer.password);
          await submit(seen.page, '/dashboard/login');
          await seen.page.goto(`${t.url}/dashboard/clients/${clientId}/domains`);
          expect(await seen.page.locator('main form[method="post"]').count()).toBe(0);
          await check(seen.page, lang, 'domains as a viewer');
          await seen.page.goto(`${t.url}/dashboard/clients/${clientId}/secrets`);
          expect(await seen.page.locator('main form[method="post"]').count()).toBe(0);
          await seen.page.goto(`${t.url}/dashboard/clients/${clientId}`);
          expect(await seen.page.locator('main a[href$="/rename"], main a[href$="/delete"]').count()).toBe(0);
        } finally {
          await seen.context.close();
        }

        // the API refuses the viewer what the pages do not offer
        expect((await viewer.caller.patch(`/manage/v1/clients/${clientId}`, { name: 'Nope' })).status).toBe(403);
        expect((await viewer.caller.post(`/manage/v1/clients/${clientId}/secrets`, {})).status).toBe(403);

        // the owner invites a developer on the Members page (no SMTP here: the link is shown to copy)
        await page.click('header nav a[href="/dashboard/members"]');
        await check(page, lang, 'members');
        const devEmail = uniqueEmail(`dev-${lang}`);
        await page.fill('#email', devEmail);
        await page.selectOption('#invite-role', 'developer');
        await submit(page, '/dashboard/members/invite');
        const link = await page.inputValue('#invitation-url');
        expect(link).toContain('/invitations/');
        await check(page, lang, 'invitation link shown');

        // the developer opens the link in a second browser, registers, joins, and renames the client on its page
        const dev = await open(lang);
        try {
          await dev.page.goto(link);
          await check(dev.page, lang, 'invitation, logged out');
          await Promise.all([dev.page.waitForNavigation(), dev.page.click('main a.button.secondary')]);
          await dev.page.fill('#name', `Dev ${lang}`);
          await dev.page.fill('#email', devEmail);
          await dev.page.fill('#password', PASSWORD);
          await submit(dev.page, '/dashboard/register');
          expect(new URL(dev.page.url()).pathname).toBe(new URL(link).pathname);
          await submit(dev.page, new URL(link).pathname);
          await dev.page.goto(`${t.url}/dashboard/clients/${clientId}/rename`);
          await check(dev.page, lang, 'rename as a developer');
          await dev.page.fill('#name', `Bakery ${lang} 2`);
          await submit(dev.page, '/rename');
          await dev.page.waitForSelector('p.notice');
          expect(await dev.page.textContent('main')).toContain(`Bakery ${lang} 2`);
        } finally {
          await dev.context.close();
        }

        // History shows both actors, and the client as it was
        await page.click('header nav a[href="/dashboard"]');
        await page.click(`table.list a[href="/dashboard/clients/${clientId}"]`);
        await page.click('nav.tabs a[href$="/history"]');
        const history = await page.textContent('table.list');
        expect(history).toContain(name);
        expect(history).toContain(`Dev ${lang}`);
        await check(page, lang, 'history');
        await page.selectOption('#type', 'ClientRenamed');
        await Promise.all([page.waitForNavigation(), page.click('form.filters button')]);
        expect(await page.locator('table.list tbody tr').count()).toBe(1);
        await page.click('table.list tbody tr:first-child a');
        expect(await page.textContent('main dl.facts')).toContain(`Bakery ${lang} 2`);
        await check(page, lang, 'the client as it was');

        // disable, with its confirmation
        await page.click(`nav.tabs a[href="/dashboard/clients/${clientId}"]`);
        await page.click('main a[href$="/disable"]');
        expect(await page.textContent('main section p')).toMatch(lang === 'en' ? /voids its open sign-in tokens/ : /inlogtokens ongeldig/);
        await check(page, lang, 'disable confirmation');
        await submit(page, '/disable');
        await page.waitForSelector('p.notice');
        await check(page, lang, 'overview, disabled');

        // every other page of the client, walked for axe and (in nl) English
        const C = `${t.url}/dashboard/clients/${clientId}`;
        const firstSecret = (await owner.get(`/manage/v1/clients/${clientId}`)).body.secrets[0].secretId as string;
        const domainId = (await owner.get(`/manage/v1/clients/${clientId}`)).body.domains[0].domainId as string;
        for (const [path, label] of [
          ['/redirect-uris', 'redirect URIs'],
          ['/scopes', 'scopes'],
          ['/users', 'users'],
          ['/test-users', 'test users'],
          ['/listing', 'directory listing'],
          [`/secrets/${firstSecret}/revoke`, 'revoke confirmation'],
          [`/domains/${domainId}/remove`, 'domain removal confirmation'],
          ['/delete', 'delete confirmation'],
        ] as const) {
          const reply = await page.goto(`${C}${path}`);
          expect(reply?.status(), label).toBe(200);
          await check(page, lang, label);
        }

        // the organisation's beginning and end: the form for a new one, and deleting one that has clients
        await page.click('header a.new-org');
        await check(page, lang, 'new organisation');
        await page.goto(`${t.url}/dashboard/organisation/delete`);
        await check(page, lang, 'delete organisation, clients left');
      } finally {
        await context.close();
      }
    });
  }
});
