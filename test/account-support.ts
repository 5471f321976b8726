import { expect } from 'vitest';
import { Caller, type Reply } from './support/http.ts';
import type { TestSmtp } from './support/smtp.ts';

import { hiddenFields } from './support/forms.ts';

export { hiddenFields };

/** Submits the form of `page` that posts to `action` with these visible fields (urlencoded, as a browser with JavaScript off). */
export async function submit(browser: Caller, base: string, page: string, action: string, fields: Record<string, string> = {}): Promise<Reply> {
  const body = new URLSearchParams({ ...hiddenFields(page, action), ...fields }).toString();
  return await browser.request('POST', base + action, body, { 'content-type': 'application/x-www-form-urlencoded' });
}

/** The first link in a mail's text that starts with `prefix`. */
export function linkIn(text: string, prefix: string): string {
  const link = text.split(/\s+/).find((word) => word.startsWith(prefix));
  if (!link) throw new Error(`no link starting with ${prefix} in:\n${text}`);
  return link;
}

/** Waits for the next mail to `email` after the ones already seen (`seen` counts them). */
export async function nextMail(smtp: TestSmtp, email: string, seen = 0) {
  let index = -1;
  return await smtp.waitFor((mail) => mail.to.includes(email.toLowerCase()) && ++index >= seen);
}

export const mailsTo = (smtp: TestSmtp, email: string) => smtp.received.filter((m) => m.to.includes(email.toLowerCase()));

/** Registers a new person at /account/register and confirms the address through the mailed link; returns the logged-in browser. */
export async function registerAndVerify(base: string, smtp: TestSmtp, person: { name: string; email: string; password: string }, lang = 'en') {
  const browser = new Caller('');
  const page = await browser.get(`${base}/account/register?lang=${lang}`);
  expect(page.status, page.text).toBe(200);
  const registered = await submit(browser, base, page.text, '/account/register', person);
  expect(registered.status, registered.text).toBe(200);
  const mail = await nextMail(smtp, person.email);
  const verifyPage = await browser.get(linkIn(mail.text, `${base}/account/verify`));
  expect(verifyPage.status, verifyPage.text).toBe(200);
  const verified = await submit(browser, base, verifyPage.text, '/account/verify');
  expect(verified.status, verified.text).toBe(303);
  return browser;
}
