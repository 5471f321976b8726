import { describe, expect, it } from 'vitest';
import { Html, escapeHtml, html, sentence, sentenceText } from './html.ts';
import { chooseLanguage, MESSAGES } from './i18n.ts';

describe('html', () => {
  it('escapes every interpolated value, except Html built here', () => {
    const name = `<script>alert('x')</script> & "co" \`tick\``;
    expect(html`<p title="${name}">${name}</p>`.value).toBe(
      '<p title="&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;co&quot; &#96;tick&#96;">&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;co&quot; &#96;tick&#96;</p>',
    );
    expect(html`<ul>${['<a>', html`<li>ok</li>`]}</ul>`.value).toBe('<ul>&lt;a&gt;<li>ok</li></ul>');
    expect(html`${null}${undefined}${false}${0}`.value).toBe('0');
    expect(escapeHtml('plain')).toBe('plain');
  });

  it('fills a translated sentence, escaping the text and each value', () => {
    expect(sentence('Sign in to {client} & more', { client: '<b>Shop</b>' })).toEqual(new Html('Sign in to <strong>&lt;b&gt;Shop&lt;/b&gt;</strong> &amp; more'));
    expect(sentence('{unknown} stays').value).toBe('{unknown} stays');
  });

  it('fills values literally: $&, $\' and $` in a value are not replacement patterns', () => {
    const name = "A $& B $' C $` D";
    expect(sentenceText('{client} is in test mode', { client: name })).toBe(`${name} is in test mode`);
    expect(sentence('{client} is in test mode', { client: name }).value).toBe('<strong>A $&amp; B $&#39; C $&#96; D</strong> is in test mode');
  });
});

describe('languages', () => {
  it('an explicit choice wins, then Accept-Language, then English', () => {
    expect(chooseLanguage('nl', () => 'en')).toBe('nl');
    expect(chooseLanguage('fr', () => 'nl')).toBe('nl');
    expect(chooseLanguage(undefined, () => false)).toBe('en');
  });

  it('Dutch has a translation for every English string, with the same placeholders', () => {
    for (const [key, english] of Object.entries(MESSAGES.en)) {
      const dutch = MESSAGES.nl[key as keyof typeof MESSAGES.en];
      expect(dutch, key).toBeTruthy();
      expect(dutch.match(/\{[a-z]+\}/g)?.sort(), key).toEqual(english.match(/\{[a-z]+\}/g)?.sort());
    }
  });
});
