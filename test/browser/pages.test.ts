import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { startTestApp, type TestApp } from '../support/app.ts';
import { createPartner } from '../signin-support.ts';
import { hasChromium, launchBrowser, checkPage, languageContext } from './browser.ts';
import { expectAccessible } from './axe.ts';
import { expectNoEnglish } from './language.ts';
import { PASSWORD, uniqueEmail } from '../support/http.ts';

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

/** A fresh browser context in one language; axe is evaluated through playwright, so the CSP stays strict. */
async function open(lang: 'en' | 'nl'): Promise<{ context: BrowserContext; page: Page }> {
  const context = await languageContext(browser!, lang);
  return { context, page: await context.newPage() };
}

const check = checkPage;

describe.skipIf(!hasChromium)('every page in a real browser, in English and Dutch', () => {
  for (const lang of ['en', 'nl'] as const) {
    it(`when a newcomer opens / in ${lang}, then the login page, register, a sign up and the dashboard home pass axe and speak ${lang}`, async () => {
      const { context, page } = await open(lang);
      try {
        await page.goto(`${t.url}/`);
        expect(new URL(page.url()).pathname).toBe('/dashboard');
        await check(page, lang, `/dashboard login (${lang})`);

        await page.click('a[href="/dashboard/register"]');
        await check(page, lang, `/dashboard/register (${lang})`);
        // a form with errors, JavaScript or not, shows them next to the fields
        await page.fill('#name', 'Ada');
        await page.fill('#email', 'not-an-email');
        await page.fill('#password', 'short');
        await page.click('main button[type=submit]');
        await page.waitForSelector('.field-error');
        await check(page, lang, `/dashboard/register with errors (${lang})`);

        await page.fill('#email', uniqueEmail(`browser-${lang}`));
        await page.fill('#password', PASSWORD);
        await page.click('main button[type=submit]');
        await page.waitForSelector('h1');
        expect(new URL(page.url()).pathname).toBe('/dashboard');
        expect(await page.textContent('h1')).toBe('Clients');
        await check(page, lang, `/dashboard home (${lang})`);

        await page.goto(`${t.url}/dashboard/nowhere`);
        await check(page, lang, `404 page (${lang})`);
        await page.goto(`${t.url}/support`);
        await check(page, lang, `/support widget (${lang})`);

        await page.goto(`${t.url}/dashboard`);
        await page.click('form.logout button');
        await page.waitForSelector('form[action="/dashboard/login"]');
      } finally {
        await context.close();
      }
    });

    it(`when a visitor opens the hosted sign-in page and the support page in ${lang}, then they pass axe and speak ${lang}`, async () => {
      const partner = await createPartner(t.url, { name: `Bakkerij ${lang}`, scopes: ['userinfo'] });
      const { data } = await partner.sdk.authenticateUser();
      const { context, page } = await open(lang);
      try {
        await page.goto(data.url);
        expect(await page.locator('form[action="/signin/login"]').count()).toBe(1);
        await check(page, lang, `/signin (${lang})`);
        await page.goto(`${t.url}/support`);
        await check(page, lang, `/support visitor (${lang})`);
      } finally {
        await context.close();
      }
    });
  }

  it('when the language is switched, then the choice is remembered', async () => {
    const { context, page } = await open('en');
    try {
      await page.goto(`${t.url}/dashboard/login`);
      await page.click('a[hreflang="nl"]');
      await page.goto(`${t.url}/dashboard/register`);
      expect(await page.locator('html').getAttribute('lang')).toBe('nl');
      await expectNoEnglish(page, 'register after switching to nl');
    } finally {
      await context.close();
    }
  });

  it('when a Dutch page shows an English message or an inaccessible element, then the checks fail', async () => {
    const { context, page } = await open('nl');
    try {
      await page.goto(`${t.url}/dashboard/login`);
      await page.evaluate(`document.querySelector('main').insertAdjacentHTML('beforeend', '<p>The email address or password is wrong.</p><img src="data:,">')`);
      await expect(expectNoEnglish(page, 'tampered')).rejects.toThrow(/English on the Dutch page tampered/);
      await expect(expectAccessible(page, 'tampered')).rejects.toThrow(/axe on tampered/);
    } finally {
      await context.close();
    }
  });
});
