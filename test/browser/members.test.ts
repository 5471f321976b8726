import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { startTestApp, type TestApp } from '../support/app.ts';
import { hasChromium, launchBrowser } from './browser.ts';
import { expectAccessible } from './axe.ts';
import { expectNoEnglish } from './language.ts';
import { PASSWORD, uniqueEmail } from '../support/http.ts';

let t: TestApp;
let browser: Browser | undefined;

beforeAll(async () => {
  if (!hasChromium) return;
  t = await startTestApp();
  browser = await launchBrowser();
}, 180_000);
afterAll(async () => {
  await browser?.close();
  await t?.close();
});

async function open(lang: 'en' | 'nl'): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser!.newContext({ locale: lang === 'nl' ? 'nl-NL' : 'en-GB', extraHTTPHeaders: { 'accept-language': lang } });
  return { context, page: await context.newPage() };
}

async function check(page: Page, lang: 'en' | 'nl', label: string): Promise<void> {
  await expectAccessible(page, label);
  if (lang === 'nl') await expectNoEnglish(page, label);
}

async function register(page: Page, name: string, email: string): Promise<void> {
  await page.fill('#name', name);
  await page.fill('#email', email);
  await page.fill('#password', PASSWORD);
  await Promise.all([page.waitForNavigation(), page.click('main button[type=submit]')]);
}

/** Clicks and waits for the page the click leads to (every form here works without JavaScript). */
const follow = async (page: Page, selector: string) => {
  await Promise.all([page.waitForNavigation(), page.click(selector)]);
};

describe.skipIf(!hasChromium)('members in a real browser', () => {
  it('when an owner invites a developer, then the developer joins in a second browser (in Dutch), and every page passes axe', async () => {
    const owner = await open('en');
    const invitee = await open('nl');
    try {
      // the owner signs up and invites (no SMTP here: the page shows the link to pass on)
      const { page } = owner;
      await page.goto(`${t.url}/dashboard/register`);
      await register(page, 'Ada Lovelace', uniqueEmail('owner'));
      await follow(page, 'nav.nav a[href="/dashboard/members"]');
      expect(await page.textContent('h1')).toBe('Members');
      await check(page, 'en', 'members page');

      const devEmail = uniqueEmail('dev');
      await page.fill('#email', devEmail);
      await page.selectOption('#invite-role', 'developer');
      await follow(page, 'form.invite button[type=submit]');
      const url = await page.inputValue('#invitation-url');
      expect(url).toMatch(/\/invitations\/[A-Za-z0-9_-]{40,}$/);
      await check(page, 'en', 'members page with a new invitation');

      // the developer opens the link in another browser, registers, comes back and joins
      const dev = invitee.page;
      await dev.goto(url);
      expect(await dev.textContent('.invitation-text')).toContain(devEmail);
      await check(dev, 'nl', 'invitation page, logged out (nl)');
      await follow(dev, 'main a.secondary');
      await check(dev, 'nl', 'register with next (nl)');
      await register(dev, 'Grace Hopper', devEmail);
      expect(new URL(dev.url()).pathname).toMatch(/^\/invitations\//);
      await check(dev, 'nl', 'invitation page, logged in (nl)');
      await follow(dev, 'main form button[type=submit]');
      expect(new URL(dev.url()).pathname).toBe('/dashboard/members');
      expect(await dev.textContent('tr:has-text("Grace Hopper") td.role')).toBe('Ontwikkelaar');
      // two organisations now: the switcher is in the header
      expect(await dev.locator('form.org-switch select option').count()).toBe(2);
      await check(dev, 'nl', 'members page as developer, with the switcher (nl)');

      // the link works once
      await dev.goto(url);
      expect(await dev.textContent('h1')).toBe('Deze uitnodiging is al gebruikt');
      await check(dev, 'nl', 'used invitation (nl)');

      // the owner changes the developer's role, through a confirmation that says what happens
      await page.goto(`${t.url}/dashboard/members`);
      const row = page.locator('tr:has-text("Grace Hopper")');
      await row.locator('select').selectOption('viewer');
      await follow(page, 'tr:has-text("Grace Hopper") form.inline button');
      expect(await page.textContent('.confirm-text')).toContain('reads everything, changes nothing');
      await check(page, 'en', 'confirm role change');
      await follow(page, 'main form button[type=submit]');
      expect(await page.textContent('p.notice')).toBe('The role was changed.');
      expect(await page.textContent('tr:has-text("Grace Hopper") td.role')).toBe('Viewer');

      // the confirmations of remove and transfer, and the plan page
      await follow(page, 'tr:has-text("Grace Hopper") a[href$="/remove"]');
      expect(await page.textContent('.confirm-text')).toContain('loses access');
      await check(page, 'en', 'confirm remove');
      await page.goto(`${t.url}/dashboard/members`);
      await follow(page, 'tr:has-text("Grace Hopper") a[href$="/transfer"]');
      await check(page, 'en', 'confirm transfer');
      await page.goto(`${t.url}/dashboard/plan`);
      await check(page, 'en', 'plan page');
      await follow(page, 'a[href="/dashboard/plan/activate?plan=pro"]');
      expect(await page.textContent('.confirm-text')).toContain('10 clients');
      await check(page, 'en', 'confirm plan');
      await follow(page, 'main form button[type=submit]');
      expect(await page.textContent('.current-plan')).toBe('Current plan: Pro');

      // the viewer sees no write controls, and the plan page says why
      await dev.goto(`${t.url}/dashboard/members`);
      expect(await dev.locator('form.invite, form.inline').count()).toBe(0);
      await dev.goto(`${t.url}/dashboard/plan`);
      expect(await dev.locator('a[href^="/dashboard/plan/"]').count()).toBe(0);
      await check(dev, 'nl', 'plan page as viewer (nl)');
    } finally {
      await owner.context.close();
      await invitee.context.close();
    }
  }, 600_000);
});
