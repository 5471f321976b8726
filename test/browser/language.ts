import type { Page } from 'playwright-core';
import { expect } from 'vitest';
import { loadCatalogue } from '../../src/web/i18n.ts';

const catalogue = loadCatalogue();
/**
 * English messages that must never show on a Dutch page: every English message that differs
 * from its Dutch one (a message that is the same in both — "Keyledger", "Status", "Clients" — is
 * Dutch too). Placeholders split a message into its fixed parts; short parts, and single words between placeholders, are skipped.
 */
const englishOnly = [...catalogue.en]
  .filter(([key, en]) => catalogue.nl.get(key) !== en)
  .flatMap(([, en]) => {
    const parts = en.split(/\{[a-zA-Z]+\}/).map((part) => part.trim());
    // a single word between placeholders ("{n} clients, {m} domains") is as often Dutch: only phrases count
    return parts.length === 1 ? parts : parts.filter((part) => /\s/.test(part));
  })
  .filter((part) => part.length >= 4);
const dutchTexts = new Set([...catalogue.nl.values()]);
/** as whole words: "linked" is not found in "LinkedIn" */
const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const englishPatterns = englishOnly.map((en) => ({ en, pattern: new RegExp(`(?<![\\p{L}\\p{N}])${escape(en)}(?![\\p{L}\\p{N}])`, 'u') }));

/**
 * Fails when the page (rendered in Dutch) shows any text of the English catalogue: its text
 * nodes, and the attributes a person reads (title, placeholder, aria-label, alt, value of
 * buttons). Elements marked with another `lang` (the "English" language switch) are skipped.
 */
export async function expectNoEnglish(page: Page, label = page.url()): Promise<void> {
  const texts = (await page.evaluate(`(() => {
    const out = [];
    const skip = (el) => el.closest('[lang]:not(html)') && el.closest('[lang]:not(html)').getAttribute('lang') !== document.documentElement.lang;
    const walker = document.createTreeWalker(document.documentElement, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const parent = node.parentElement;
      if (!parent || ['SCRIPT', 'STYLE'].includes(parent.tagName) || skip(parent)) continue;
      const text = node.textContent.trim();
      if (text) out.push(text);
    }
    for (const el of document.querySelectorAll('[title],[placeholder],[aria-label],[alt],input[type=submit][value],input[type=button][value]')) {
      if (skip(el)) continue;
      for (const name of ['title', 'placeholder', 'aria-label', 'alt', 'value']) {
        const value = el.getAttribute(name);
        if (value && (name !== 'value' || el.type === 'submit' || el.type === 'button')) out.push(value.trim());
      }
    }
    return out;
  })()`)) as string[];
  expect(await page.locator('html').getAttribute('lang'), label).toBe('nl');
  const found = texts.filter((text) => !dutchTexts.has(text)).flatMap((text) => englishPatterns.filter(({ pattern }) => pattern.test(text)).map(({ en }) => `"${en}" in "${text}"`));
  expect(found, `English on the Dutch page ${label}`).toEqual([]);
}
