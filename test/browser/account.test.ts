import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { startTestApp, type TestApp } from '../support/app.ts';
import { startTestSmtp, type TestSmtp } from '../support/smtp.ts';
import { uniqueEmail } from '../support/http.ts';
import { linkIn, nextMail } from '../account-support.ts';
import { hasChromium, launchBrowser, checkPage, languageContext } from './browser.ts';

let t: TestApp;
let smtp: TestSmtp;
let browser: Browser | undefined;

beforeAll(async () => {
  if (!hasChromium) return;
  smtp = await startTestSmtp();
  t = await startTestApp({ env: { SMTP_URL: smtp.url } });
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
  await t?.close();
  await smtp?.close();
});

const check = checkPage;

describe.skipIf(!hasChromium)('end-user account pages in a real browser (the pages load no script: they work without JavaScript)', () => {
  for (const lang of ['en', 'nl'] as const) {
    it(`register → confirm by mail → profile, in ${lang}, pass axe`, async () => {
      const context = await languageContext(browser!, lang);
      const page = await context.newPage();
      try {
        const email = uniqueEmail(`account-${lang}`);
        await page.goto(`${t.url}/account/register`);
        await check(page, lang, `/account/register (${lang})`);
        await page.fill('#name', 'Ada Byron');
        await page.fill('#email', email);
        await page.fill('#password', 'password123456');
        await page.click('main button[type=submit]');
        await page.waitForSelector('.field-error');
        await check(page, lang, `/account/register weak password (${lang})`);
        await page.fill('#password', 'velvet orbit lantern 42');
        await page.click('main button[type=submit]');
        await page.waitForSelector('h1');
        await check(page, lang, `check your mail (${lang})`);

        const mail = await nextMail(smtp, email);
        expect(mail.headers.get('content-language')).toBe(lang);
        await page.goto(linkIn(mail.text, `${t.url}/account/verify`));
        await check(page, lang, `/account/verify (${lang})`);
        await page.click('main button[type=submit]');
        await page.waitForSelector('#profile-heading');
        expect(new URL(page.url()).pathname).toBe('/account');
        await check(page, lang, `/account (${lang})`);

        await page.fill('#given_name', 'Ada');
        await page.fill('#birth_date', '1850-01-01');
        await page.click('form[action="/account/profile"] button[type=submit]');
        await page.waitForSelector('#birth_date-note');
        await check(page, lang, `/account with errors (${lang})`);
        await page.fill('#birth_date', '1990-12-10');
        await page.selectOption('#country', 'NL');
        await page.click('form[action="/account/profile"] button[type=submit]');
        await page.waitForSelector('[role=status]');
        const row = await t.app.ctx.database.db.selectFrom('users').select(['given_name', 'country', 'email_verified']).where('email', '=', email).executeTakeFirstOrThrow();
        expect(row).toEqual({ given_name: 'Ada', country: 'NL', email_verified: true });
        await check(page, lang, `/account saved (${lang})`);
      } finally {
        await context.close();
      }
    });
  }
});
