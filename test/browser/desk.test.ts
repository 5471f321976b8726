import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { startTestApp, type TestApp } from '../support/app.ts';
import { testClock } from '../support/clock.ts';
import { type Caller, signUp } from '../support/http.ts';
import { callApi, partnerHeaders } from '../support/partner.ts';
import { supportUser } from '../support-socket.ts';
import { hasChromium, launchBrowser, checkPage, languageContext } from './browser.ts';

/**
 * Issue 12, "done when", in Chromium: an agent and a customer in two browser contexts. The customer
 * opens a ticket about a client whose secret expired; the agent sees the client panel and the
 * explanation, answers with a canned answer, adds a private note the customer never sees, resolves;
 * the customer rates it five stars; the report shows it. Then the offline path with business hours
 * closed. In English and in Dutch, axe on every page.
 */

const clock = testClock();
let t: TestApp;
let browser: Browser | undefined;

beforeAll(async () => {
  if (!hasChromium) return;
  t = await startTestApp({ now: clock.now });
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
  await t?.close();
});

async function contextFor(caller: Caller, lang: 'en' | 'nl'): Promise<{ context: BrowserContext; page: Page }> {
  const context = await languageContext(browser!, lang);
  await context.addCookies([...caller.cookies].map(([name, value]) => ({ name, value, url: t.url })));
  return { context, page: await context.newPage() };
}

const check = checkPage;

const WORDS = {
  en: { subject: 'Every call is refused', question: 'Since this morning our webshop is refused.', canned: 'Hello {{customerName}}, client {{clientId}} still uses its old secret.', note: 'Private: they rotated without a grace period', rated: 'Quick and clear' },
  nl: { subject: 'Elke aanroep wordt geweigerd', question: 'Sinds vanochtend wordt onze webwinkel geweigerd.', canned: 'Hallo {{customerName}}, client {{clientId}} gebruikt nog het oude geheim.', note: 'Privé: geroteerd zonder respijt', rated: 'Snel en duidelijk' },
};

describe.skipIf(!hasChromium)('the agent desk and the customer page in Chromium', () => {
  for (const lang of ['en', 'nl'] as const) {
    it(`when a customer asks about a client whose secret expired, then the agent explains, answers, notes, resolves and the rating reaches the report (${lang})`, async () => {
      const w = WORDS[lang];
      // the customer's organisation, a client, and a denial: a secret rotated with a minute's grace, the minute passed
      const ada = await signUp(t.url, { name: `Ada ${lang}`, plan: 'pro' });
      const created = await ada.caller.post('/manage/v1/clients', { name: `Webshop ${lang}` });
      const clientId = created.body.clientId as string;
      await ada.caller.post(`/manage/v1/clients/${clientId}/domains`, { domain: `shop-${lang}.example.com` });
      await ada.caller.post(`/manage/v1/clients/${clientId}/secrets/${created.body.secret.secretId}/rotate`, { graceSeconds: 60 });
      clock.advance(61_000);
      const refused = await callApi(t.url, '/api/whoami', partnerHeaders({ clientId, secret: created.body.secret.secret, domain: `shop-${lang}.example.com` }));
      expect(refused.body.code).toBe('secret_expired');
      const denial = refused.headers.get('x-request-id')!;
      const agentUser = await supportUser(t, { agent: true, name: `Grace ${lang}` });

      const agent = await contextFor(agentUser.caller, lang);
      const customer = await contextFor(ada.caller, lang);
      try {
        // the agent is at the desk (online); the customer page is not theirs
        await agent.page.goto(`${t.url}/support`);
        expect(new URL(agent.page.url()).pathname).toBe('/support/desk');
        await agent.page.waitForSelector('#desk-live');
        await check(agent.page, lang, `desk (${lang})`);

        // the customer opens a ticket about the client
        await customer.page.goto(`${t.url}/support`);
        await customer.page.waitForSelector('#start-button');
        await customer.page.selectOption('select[name=group]', 'oauth-api');
        await customer.page.selectOption('select[name=clientId]', clientId);
        await customer.page.fill('input[name=subject]', w.subject);
        await customer.page.fill('textarea[name=message]', w.question);
        await customer.page.click('#start-button');
        await customer.page.waitForSelector('#conversation:not([hidden])');
        await check(customer.page, lang, `customer ticket (${lang})`);

        // the agent finds it in the queue, with the customer and the client at hand
        await agent.page.goto(`${t.url}/support/desk?tab=queue`);
        expect(await agent.page.getAttribute('.desk-tabs a[data-scope=queue]', 'aria-current')).toBe('page');
        await agent.page.click(`.desk-ticket a:text("${w.subject}")`);
        await agent.page.waitForSelector('.desk-context');
        expect(await agent.page.textContent('.desk-ticket-view')).toContain(ada.email);
        const panel = (await agent.page.textContent('.desk-context'))!;
        expect(panel).toContain(`Webshop ${lang}`);
        expect(panel).toContain('secret_expired');
        expect(panel).not.toContain(created.body.secret.secret);
        await check(agent.page, lang, `desk ticket with context (${lang})`);
        await agent.page.click(`a[aria-label$="${denial}"]`);
        await agent.page.waitForSelector('#explanation');
        expect(await agent.page.textContent('#explanation')).toContain(denial);
        await check(agent.page, lang, `desk explanation (${lang})`);

        // a canned answer in the customer's language, with the placeholders filled
        await agent.page.fill('#canned-title', `Old secret ${lang}`);
        await agent.page.fill('#canned-en', WORDS.en.canned);
        await agent.page.fill('#canned-nl', WORDS.nl.canned);
        await agent.page.click('form[action="/support/desk/canned"] button[type=submit]');
        await agent.page.waitForSelector('#canned-select');
        await agent.page.selectOption('#canned-select', { label: `Old secret ${lang}` });
        await agent.page.click('form[action$="/canned"] button[type=submit]:not([form])');
        const answer = w.canned.replace('{{customerName}}', `Ada ${lang}`).replace('{{clientId}}', clientId);
        await customer.page.waitForSelector(`#messages li:has-text("${answer}")`);

        // a private note, then a sentinel answer: once the customer has the sentinel, the note would have come first
        await agent.page.fill('#note-text', w.note);
        await agent.page.click('.note-form button[type=submit]');
        await agent.page.waitForSelector(`#desk-messages li.note:has-text("${w.note}")`);
        await agent.page.fill('#reply-text', 'sentinel-' + lang);
        await agent.page.click(`form[action$="/reply"] button[type=submit]`);
        await customer.page.waitForSelector(`#messages li:has-text("sentinel-${lang}")`);
        expect(await customer.page.textContent('#messages')).not.toContain(w.note);

        // resolved; the customer rates it five stars with a comment
        await agent.page.selectOption('#status-select', 'resolved');
        await agent.page.click('form[action$="/status"] button[type=submit]');
        await customer.page.waitForSelector('#rate:not([hidden])');
        await check(customer.page, lang, `customer rating form (${lang})`);
        await customer.page.click('label[for=star-5]');
        await customer.page.fill('#rate-comment', w.rated);
        await customer.page.click('#rate button[type=submit]');
        await customer.page.waitForSelector('#notice:not([hidden])');

        // the report shows the agent's rating
        await agent.page.goto(`${t.url}/support/desk/report`);
        const row = agent.page.locator('table.report').first().locator(`tr:has-text("Grace ${lang}")`);
        expect(await row.textContent()).toContain('5');
        await check(agent.page, lang, `desk report (${lang})`);

        // offline: billing has business hours that are closed now (open on no day)
        await agent.page.goto(`${t.url}/support/desk`);
        const billing = agent.page.locator('form.hours:has(input[name=group][value=billing])');
        await billing.locator('input[name=timeZone]').fill('Europe/Amsterdam');
        await billing.locator('button[type=submit]:not([name])').click();
        await agent.page.waitForSelector('.done');
        await customer.page.goto(`${t.url}/support`);
        await customer.page.selectOption('select[name=group]', 'billing');
        await customer.page.waitForSelector('#offline:not([hidden])');
        await check(customer.page, lang, `customer offline (${lang})`);
        await customer.page.fill('input[name=subject]', `${w.subject} (billing)`);
        await customer.page.fill('textarea[name=message]', w.question);
        await customer.page.click('#start-button');
        await customer.page.waitForSelector('#conversation:not([hidden])');
        // back to no hours for the next language
        await agent.page.goto(`${t.url}/support/desk`);
        await agent.page.locator('form.hours:has(input[name=group][value=billing]) button[name=clear]').click();
        await agent.page.waitForSelector('.done');
      } finally {
        await agent.context.close();
        await customer.context.close();
      }
    });
  }
});
