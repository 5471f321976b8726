import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { chooseLanguage, loadCatalogue, translator } from './i18n.ts';
import { engine } from './engine.ts';

function catalogueDir(areas: Record<'en' | 'nl', Record<string, Record<string, string>>>): string {
  const dir = mkdtempSync(join(tmpdir(), 'kl-locales-'));
  for (const lang of ['en', 'nl'] as const) {
    mkdirSync(join(dir, lang));
    for (const [area, messages] of Object.entries(areas[lang])) writeFileSync(join(dir, lang, `${area}.json`), JSON.stringify(messages));
  }
  return dir;
}

describe('the message catalogue', () => {
  it('when the real catalogue loads, then every area has the same keys in English and Dutch', () => {
    const catalogue = loadCatalogue();
    expect([...catalogue.nl.keys()].sort()).toEqual([...catalogue.en.keys()].sort());
    expect(catalogue.en.get('support.loginRequired')).toBe('You must be logged in to start a support ticket');
  });

  it('when Dutch lacks a key of English, then loading fails naming it', () => {
    const dir = catalogueDir({ en: { common: { a: 'A', b: 'B' } }, nl: { common: { a: 'A' } } });
    expect(() => loadCatalogue(dir)).toThrow(/nl lacks common\.b/);
  });

  it('when an area exists in one language only, then loading fails', () => {
    const dir = catalogueDir({ en: { common: { a: 'A' }, members: { x: 'X' } }, nl: { common: { a: 'A' } } });
    expect(() => loadCatalogue(dir)).toThrow(/areas differ/);
  });

  it('when a message has other placeholders in Dutch, then loading fails', () => {
    const dir = catalogueDir({ en: { common: { a: 'Hi {name}' } }, nl: { common: { a: 'Hoi {naam}' } } });
    expect(() => loadCatalogue(dir)).toThrow(/placeholders/);
  });

  it('when a value has $& or markup, then it is filled in literally and escaped, and strong() wraps it in <strong>', () => {
    const t = translator(loadCatalogue(), 'en');
    const name = "<b>A</b> $& B $' C $` D";
    expect(t('signin.heading', { client: name })).toBe(`Sign in to ${name}`);
    expect(t.strong('signin.heading', { client: name })).toBe('Sign in to <strong>&lt;b&gt;A&lt;/b&gt; $&amp; B $&#39; C $` D</strong>');
  });

  it('when text is put into a template, then every markup character is escaped', () => {
    expect(engine.renderString('<p><%= it.x %></p>', { x: `<script>alert("x")</script> & 'y'` })).toBe(
      '<p>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;</p>',
    );
  });
});

describe('the language of a page', () => {
  it.each([
    [undefined, undefined, 'nl-NL,nl;q=0.9,en;q=0.8', 'nl'],
    [undefined, undefined, 'en-US,en;q=0.9,nl;q=0.8', 'en'],
    [undefined, undefined, 'de-DE,nl;q=0.5,en;q=0.3', 'nl'],
    [undefined, undefined, 'nl;q=0, en', 'en'],
    [undefined, undefined, 'fr', 'en'],
    [undefined, undefined, undefined, 'en'],
    [undefined, 'nl', 'en', 'nl'],
    ['en', 'nl', 'nl', 'en'],
    ['fr', 'nl', 'en', 'nl'],
  ])('when ?lang=%s, cookie %s and Accept-Language %j, then the page is %s', (query, cookie, header, expected) => {
    expect(chooseLanguage(query, cookie, header)).toBe(expected);
  });});
