import { existsSync } from 'node:fs';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { expectAccessible } from './axe.ts';
import { expectNoEnglish } from './language.ts';

export const CHROMIUM = '/usr/bin/chromium';
/** Debian's Chromium is there: browser tests run; without it they are skipped with a visible notice. */
export const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) console.warn(`[browser tests] ${CHROMIUM} is missing: browser tests are SKIPPED (apt-get install -y chromium)`);

const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync'];

/**
 * Debian's Chromium driven by playwright-core (never a downloaded browser), or undefined when it
 * is not installed. Use with `describe.skipIf(!hasChromium)`.
 */
export async function launchBrowser(): Promise<Browser | undefined> {
  if (!hasChromium) return undefined;
  return await chromium.launch({ executablePath: CHROMIUM, args: ARGS, headless: true });
}

/** A fresh context that asks for one language, as a person's browser would. */
export async function languageContext(browser: Browser, lang: 'en' | 'nl'): Promise<BrowserContext> {
  return await browser.newContext({ locale: lang === 'nl' ? 'nl-NL' : 'en-GB', extraHTTPHeaders: { 'accept-language': lang } });
}

/** The checks every page gets: axe (serious or critical fails), and no English left on a Dutch page. */
export async function checkPage(page: Page, lang: 'en' | 'nl', label: string): Promise<void> {
  await expectAccessible(page, label);
  if (lang === 'nl') await expectNoEnglish(page, label);
}
