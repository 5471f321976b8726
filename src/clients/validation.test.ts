import { fieldProblems } from '../http/problem.ts';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  MAX_URI_LENGTH,
  domainSchema,
  fallbackUriSchema,
  internalNameSchema,
  labelSchema,
  logoSchema,
  nameSchema,
  redirectUriSchema,
  scopesSchema,
  serverIpSchema,
  serverIpsSchema,
} from './validation.ts';
import { latinLookalike, mixedScripts, skeleton } from './lookalikes.ts';

/** The single error message of a failed parse. */
function messageOf(schema: z.ZodType, input: unknown): string {
  const result = schema.safeParse(input);
  expect(result.success, `expected ${JSON.stringify(input)} to be refused`).toBe(false);
  return result.error!.issues.map((issue) => issue.message).join('; ');
}

describe('nameSchema / labelSchema', () => {
  it.each([
    ['  Acme Portal  ', 'Acme Portal'],
    ['Café Zürich', 'Café Zürich'],
    ['Москва Shop', 'Москва Shop'], // different scripts in different words
    ['Acmeストア東京', 'Acmeストア東京'], // Latin with Katakana and Han is Japanese
    ['Acme 한국', 'Acme 한국'],
    ['Ελληνικά', 'Ελληνικά'],
    ['x'.repeat(100), 'x'.repeat(100)],
    ['Cafe\u0301', 'Café'], // NFC
    ['App 🚀 v2.0 (beta)', 'App 🚀 v2.0 (beta)'],
  ])('accepts %j as %j', (input, expected) => {
    expect(nameSchema.parse(input)).toBe(expected);
    expect(labelSchema.parse(input)).toBe(expected);
  });

  it('refuses empty and blank names', () => {
    expect(messageOf(nameSchema, '')).toBe('name must not be empty');
    expect(messageOf(labelSchema, '   ')).toBe('label must not be empty');
  });

  it('refuses more than 100 characters after trimming, counting code points', () => {
    expect(messageOf(nameSchema, 'x'.repeat(101))).toContain('at most 100 characters');
    expect(nameSchema.parse(` ${'😀'.repeat(100)} `)).toBe('😀'.repeat(100));
  });

  it.each([
    ['a NUL', 'Acme\u0000'],
    ['a newline', 'Acme\nPortal'],
    ['a tab', 'Acme\tPortal'],
    ['a right-to-left override', 'Acme\u202eetrop'],
    ['a zero-width space', 'Ac\u200bme'],
    ['a byte order mark inside', 'Ac\ufeffme'],
    ['a lone surrogate', 'Acme\ud800'],
  ])('refuses %s', (_, input) => {
    expect(messageOf(nameSchema, input)).toContain('control or invisible formatting characters');
  });

  it.each([
    ['Latin with Cyrillic', 'Аcme Portal', 'Cyrillic'],
    ['Latin with Greek', 'Gοogle', 'Greek'],
    ['Cyrillic with Latin inside a hyphenated word', 'my-pаypal-app', 'Latin and Cyrillic'],
    ['Latin with Armenian', 'Acmeօ', 'Armenian'],
  ])('refuses a word mixing %s', (_, input, scripts) => {
    const message = messageOf(nameSchema, input);
    expect(message).toContain('look-alike scripts');
    expect(message).toContain(scripts);
  });

  it('refuses a non-string', () => {
    expect(messageOf(nameSchema, 42)).toBe('name must be a string');
  });

  it.each([
    ['Пример'], // П, и and м look like no Latin letter
    ['Москва'],
    ['Сервис Пример'],
    ['Сосо Пример'], // one word of look-alikes, but the name as a whole does not read as Latin
    ['Пример Shop'],
    ['Αθήνα'], // θ and η are no plain Latin letters
    ['Ελληνικά'],
    ['ёж'],
    ['Kırmızı Kafe'], // Turkish dotless i is Latin
    ['日本 カフェ'],
  ])('accepts %j: written in another script, but not only in look-alikes of Latin letters', (input) => {
    expect(nameSchema.parse(input)).toBe(input);
  });

  it.each([
    ['all-Cyrillic look-alikes', 'Аррӏе', 'Cyrillic'],
    ['all-Cyrillic lower case', 'раураӏ', 'Cyrillic'],
    ['Cyrillic capitals', 'ЕХРО 2025', 'Cyrillic'],
    ['a Cyrillic word beside a Latin one', 'Ассо Shop', 'Cyrillic'],
    ['a Cyrillic letter with a diaeresis', 'Ёхо', 'Cyrillic'],
    ['Greek capitals', 'ΤΑΧΙ', 'Greek'],
    ['Cherokee', 'ᎪᏴ', 'Cherokee'],
    ['Armenian', 'ոսս', 'Armenian'],
    ['Cyrillic and Greek words, each all look-alikes', 'Ассо ΑΒΕ', 'Cyrillic and Greek'],
    ['look-alikes hiding behind an emoji variation selector', 'Ассо ❤️', 'Cyrillic'],
  ])('refuses %s (whole-script confusable with Latin, UTS #39)', (_, input, scripts) => {
    const message = messageOf(nameSchema, input);
    expect(message).toBe(`name must not be made of ${scripts} look-alikes of Latin letters (it reads as Latin text that it is not)`);
    expect(messageOf(labelSchema, input)).toContain('label must not be made of');
    expect(messageOf(internalNameSchema, input)).toContain('internal name must not be made of');
  });
});

describe('skeleton and latinLookalike (UTS #39)', () => {
  it('gives look-alikes one skeleton', () => {
    expect(skeleton('раураӏ')).toBe(skeleton('paypai'));
    expect(skeleton('ѕсоре')).toBe('scope');
    expect(skeleton('Ёхо')).toBe(skeleton('Ëxo'));
    expect(skeleton('Пример')).not.toBe(skeleton('Ppnmep'));
  });
  it('names the non-Latin scripts of a Latin look-alike, and nothing for anything else', () => {
    expect(latinLookalike('аррӏе.com')).toEqual(['Cyrillic']);
    expect(latinLookalike('apple.com')).toBeUndefined(); // Latin is never a look-alike of itself
    expect(latinLookalike('яндекс.рф')).toBeUndefined();
    expect(latinLookalike('сосо.рф')).toBeUndefined(); // ф: the name as a whole does not read as Latin
    expect(latinLookalike('123 - !')).toBeUndefined();
  });
});

describe('mixedScripts', () => {
  it('ignores digits, punctuation and combining marks', () => {
    expect(mixedScripts('abc123')).toBeUndefined();
    expect(mixedScripts('ab\u0301c')).toBeUndefined();
    expect(mixedScripts('Latin中文ㄅ')).toBeUndefined(); // Latin + Han + Bopomofo
    expect(mixedScripts('한국ひら')).toEqual(['Hangul', 'Hiragana']);
  });
});

describe('internalNameSchema', () => {
  it('accepts a name, null, and treats a blank string as null', () => {
    expect(internalNameSchema.parse(' Shop NL ')).toBe('Shop NL');
    expect(internalNameSchema.parse(null)).toBeNull();
    expect(internalNameSchema.parse('  ')).toBeNull();
  });
  it('refuses what a name refuses', () => {
    expect(messageOf(internalNameSchema, 'a\u202eb')).toContain('internal name must not contain control');
    expect(messageOf(internalNameSchema, 'x'.repeat(101))).toContain('internal name must be at most 100');
    expect(messageOf(internalNameSchema, 3)).toContain('string or null');
  });
});

describe('redirectUriSchema', () => {
  it.each([
    'https://app.example.com/callback',
    'http://localhost:3000/auth/callback?x=1',
    'HTTPS://App.Example.COM/Callback/',
    'https://app.example.com/a/../b', // stored as given, not normalised
    'https://bücher.example/cb',
  ])('accepts %j and keeps it exactly as given', (uri) => {
    expect(redirectUriSchema.parse(uri)).toBe(uri);
  });

  it('accepts exactly 2,048 characters and refuses 2,049', () => {
    const base = 'https://app.example.com/';
    expect(redirectUriSchema.parse(base + 'a'.repeat(MAX_URI_LENGTH - base.length))).toHaveLength(2048);
    expect(messageOf(redirectUriSchema, base + 'a'.repeat(MAX_URI_LENGTH + 1 - base.length))).toContain('at most 2048 characters');
  });

  it.each([
    ['a fragment', 'https://app.example.com/cb#frag', 'fragment'],
    ['an empty fragment', 'https://app.example.com/cb#', 'fragment'],
    ['a relative URI', '/callback', 'absolute URL'],
    ['another scheme', 'ftp://example.com/cb', 'absolute URL'],
    ['javascript:', 'javascript:alert(1)', 'absolute URL'],
    ['a scheme without //', 'https:app.example.com/cb', 'absolute URL'],
    ['a space', 'https://app.example.com/my cb', 'spaces'],
    ['a trailing newline', 'https://app.example.com/cb\n', 'spaces'],
    ['a control character', 'https://app.example.com/\u0000', 'control'],
    ['a bidi override', 'https://app.example.com/\u202ecb', 'control'],
    ['a backslash', 'https://app.example.com\\cb', 'backslash'],
    ['user info', 'https://user:pw@app.example.com/cb', 'user info'],
    ['an invalid host', 'https://exa mple.com/', 'spaces'],
    ['an unparsable URL', 'https://[::1/cb', 'not a valid URL'],
    ['empty', '', 'must not be empty'],
  ])('refuses %s', (_, uri, problem) => {
    expect(messageOf(redirectUriSchema, uri)).toContain(problem);
  });
});

describe('fallbackUriSchema / logoSchema', () => {
  it('accept an http(s) URL, fragments included, or null', () => {
    expect(fallbackUriSchema.parse('https://example.com/help#login')).toBe('https://example.com/help#login');
    expect(fallbackUriSchema.parse(null)).toBeNull();
    expect(logoSchema.parse('https://cdn.example.com/logo.png')).toBe('https://cdn.example.com/logo.png');
    expect(logoSchema.parse(null)).toBeNull();
  });
  it('refuse other schemes and over-long URLs', () => {
    expect(messageOf(logoSchema, 'data:image/png;base64,AAAA')).toContain('logo URL must be an absolute URL');
    expect(messageOf(fallbackUriSchema, `https://example.com/${'a'.repeat(2048)}`)).toContain('fallback URI must be at most 2048');
  });
});

describe('domainSchema', () => {
  it.each([
    ['example.com', 'example.com'],
    ['www.EXAMPLE.com', 'www.example.com'],
    ['  shop.example.co.uk ', 'shop.example.co.uk'],
    ['Bücher.example', 'xn--bcher-kva.example'],
    ['XN--BCHER-KVA.example', 'xn--bcher-kva.example'],
    ['例え.jp', 'xn--r8jz45g.jp'],
    ['яндекс.рф', 'xn--d1acpjx3f.xn--p1ai'], // whole-script Cyrillic is not mixed, nor all look-alikes
    ['пример.com', 'xn--e1afmkfd.com'],
    ['сосо.рф', 'xn--n1aahb.xn--p1ai'], // ф: the domain as a whole does not read as Latin
    ['localhost', 'localhost'],
    ['a-b.example', 'a-b.example'],
    [`${'a'.repeat(63)}.com`, `${'a'.repeat(63)}.com`],
  ])('accepts %j as %j', (input, expected) => {
    expect(domainSchema.parse(input)).toBe(expected);
  });

  it.each([
    ['a protocol', 'https://example.com', 'without a protocol such as https://'],
    ['a path', 'example.com/login', 'without a path'],
    ['a port', 'example.com:8080', 'without a port'],
    ['a query', 'example.com?x=1', 'without a query'],
    ['a fragment', 'example.com#x', 'without a fragment'],
    ['user info', 'user@example.com', 'without user info'],
    ['an IPv4 address', '10.0.0.1', 'not an IP address'],
    ['an IPv4 address with port', '10.0.0.1:80', 'not an IP address'],
    ['an IPv6 address', '2001:db8::1', 'not an IP address'],
    ['a bracketed IPv6 address', '[::1]', 'not an IP address'],
    ['a trailing dot', 'example.com.', 'must not end with a dot'],
    ['a space', 'ex ample.com', 'must not contain spaces'],
    ['a Cyrillic look-alike', 'аpple.com', 'look-alike scripts'],
    ['a Cyrillic look-alike typed as punycode', 'xn--pple-43d.com', 'look-alike scripts'],
    ['a label of Cyrillic look-alikes only', 'аррӏе.com', 'must not be made of Cyrillic look-alikes of Latin letters'],
    ['the same typed as punycode', 'xn--80ak6aa92e.com', 'Cyrillic look-alikes of Latin letters (it reads as Latin text that it is not): "аррӏе.com"'],
    ['Cyrillic look-alikes in upper case', 'ЅСОРЕ.example', 'Cyrillic look-alikes'],
    ['Cyrillic look-alikes under www.', 'www.ѕсоре.example', 'Cyrillic look-alikes'],
    ['Greek look-alikes', 'ον.example', 'Greek look-alikes'],
    ['a zero-width character', 'exa\u200bmple.com', 'control or invisible'],
    ['a control character', 'example.com\u0000', 'control or invisible'],
    ['an underscore', 'my_app.example.com', 'invalid label "my_app"'],
    ['a leading hyphen', '-app.example.com', 'invalid label'],
    ['a wildcard', '*.example.com', 'invalid label'],
    ['an empty label', 'example..com', 'empty labels'],
    ['a label of 64 characters', `${'a'.repeat(64)}.com`, 'longer than 63'],
    ['more than 253 characters', `${Array(26).fill('abcdefghi').join('.')}.com`, 'at most 253'],
    ['a single label', 'intranet', 'at least one dot'],
    ['an all-numeric top-level label', 'example.123', 'all-numeric'],
    ['a hexadecimal top-level label', 'example.0x1f', 'all-numeric'],
    ['invalid punycode', 'xn--zz.com', 'not a valid host name'],
    ['empty', '', 'must not be empty'],
  ])('refuses %s, naming the problem', (_, input, problem) => {
    const message = messageOf(domainSchema, input);
    expect(message).toContain(problem);
    expect(message.startsWith('domain ')).toBe(true);
  });
});

describe('serverIpSchema', () => {
  it.each([
    ['192.0.2.1', '192.0.2.1'],
    [' 192.0.2.1 ', '192.0.2.1'],
    ['::ffff:10.0.0.1', '10.0.0.1'],
    ['10.0.0.0/8', '10.0.0.0/8'],
    ['192.0.2.7/32', '192.0.2.7'],
    ['0.0.0.0/0', '0.0.0.0/0'],
    ['2001:db8::/32', '2001:db8::/32'],
    ['2001:0DB8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
    ['2001:db8::1/128', '2001:db8::1'],
    ['::1', '::1'],
    ['::ffff:10.0.0.0/104', '10.0.0.0/8'],
  ])('accepts %j as %j', (input, expected) => {
    expect(serverIpSchema.parse(input)).toBe(expected);
  });

  it.each([
    ['a host name', 'example.com', 'not an IPv4 or IPv6'],
    ['a short IPv4 form', '10.1', 'not an IPv4 or IPv6'],
    ['a leading zero', '010.0.0.1', 'not an IPv4 or IPv6'],
    ['an octet over 255', '10.0.0.256', 'not an IPv4 or IPv6'],
    ['a zone id', 'fe80::1%eth0', 'not an IPv4 or IPv6'],
    ['a prefix over 32', '10.0.0.0/33', 'invalid prefix length (0–32)'],
    ['a prefix over 128', '2001:db8::/129', 'invalid prefix length (0–128)'],
    ['a non-numeric prefix', '10.0.0.0/abc', 'invalid prefix length'],
    ['two slashes', '10.0.0.0/8/8', 'not an IPv4 or IPv6'],
    ['host bits set', '10.1.2.3/8', 'use the network address 10.0.0.0/8'],
    ['IPv6 host bits set', '2001:db8::1/32', 'use the network address 2001:db8::/32'],
  ])('refuses %s', (_, input, problem) => {
    expect(messageOf(serverIpSchema, input)).toContain(problem);
  });

  it('a list is normalised and de-duplicated', () => {
    expect(serverIpsSchema.parse(['::ffff:10.0.0.1', '10.0.0.1', '2001:db8::/32'])).toEqual(['10.0.0.1', '2001:db8::/32']);
    expect(serverIpsSchema.parse([])).toEqual([]);
    expect(messageOf(serverIpsSchema, Array(101).fill('10.0.0.1'))).toContain('at most 100');
  });
});

describe('scopesSchema', () => {
  it('accepts unique catalogue scopes, or none', () => {
    expect(scopesSchema.parse(['userinfo', 'useraddresses'])).toEqual(['userinfo', 'useraddresses']);
    expect(scopesSchema.parse([])).toEqual([]);
  });
  it('refuses unknown scopes, duplicates and non-arrays', () => {
    expect(messageOf(scopesSchema, ['userinfo', 'admin'])).toContain('scope must be one of: userinfo, useraddresses');
    expect(messageOf(scopesSchema, ['userinfo', 'userinfo'])).toContain('must not contain duplicates');
    expect(messageOf(scopesSchema, 'userinfo')).toContain('scopes must be an array');
  });
});

describe('fieldProblems (the HTTP layer’s rendering of these errors)', () => {
  it('turns a ZodError into field paths and messages', () => {
    const schema = z.object({ name: nameSchema, domain: z.object({ serverIps: serverIpsSchema }) });
    const result = schema.safeParse({ name: '', domain: { serverIps: ['10.0.0.1', 'nope'] } });
    expect(result.success).toBe(false);
    expect(fieldProblems(result.error!)).toEqual([
      { field: 'name', message: 'name must not be empty' },
      { field: 'domain.serverIps.1', message: '"nope" is not an IPv4 or IPv6 address or CIDR range' },
    ]);
  });
  it('names the root when the whole input is wrong', () => {
    const result = nameSchema.safeParse(1);
    expect(fieldProblems(result.error!)).toEqual([{ field: '(body)', message: 'name must be a string' }]);
  });
});
