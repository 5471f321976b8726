import { describe, expect, it } from 'vitest';
import { domainFinder } from './cache.ts';
import { domainFacts } from './snapshot.ts';

const row = (domainId: string, domain: string, serverIps: string[] = []) =>
  domainFacts({ domain_id: domainId, domain, active: true, allow_api: true, allow_login: true, test_mode: false, server_ips: serverIps });

const found = (find: ReturnType<typeof domainFinder>, sent: string) => find(sent)?.domainId;

describe('which domain an X-Client-Domain value names', () => {
  const find = domainFinder([row('dom_A1', 'shop.example.com'), row('dom_B2', 'xn--bcher-kva.example')]);

  it('ignores letter case, a leading www., a port and one trailing dot', () => {
    for (const sent of ['shop.example.com', 'SHOP.Example.COM', 'www.shop.example.com', 'shop.example.com:8443', 'WWW.shop.example.com.:443', 'shop.example.com.']) {
      expect(found(find, sent), sent).toBe('dom_A1');
    }
  });

  it('matches punycode in any case (a header cannot carry the Unicode form)', () => {
    expect(found(find, 'XN--BCHER-KVA.example')).toBe('dom_B2');
    expect(found(find, 'www.xn--bcher-kva.example')).toBe('dom_B2');
  });

  it('takes a domainId exactly as issued: not in another case, not with a port, not with www.', () => {
    expect(found(find, 'dom_A1')).toBe('dom_A1');
    for (const sent of ['DOM_A1', 'dom_a1', 'dom_A1:443', 'www.dom_A1']) expect(found(find, sent), sent).toBeUndefined();
  });

  it('does not match two trailing dots, another subdomain, a suffix or invalid punycode', () => {
    for (const sent of ['shop.example.com..', 'api.shop.example.com', 'evilshop.example.com', 'example.com', 'www.www.shop.example.com', 'xn--zz.example']) {
      expect(found(find, sent), sent).toBeUndefined();
    }
  });
});

describe('an old stream holding both shop.example.com and www.shop.example.com', () => {
  const bare = row('dom_bare', 'shop.example.com', ['203.0.113.5']);
  const www = row('dom_www', 'www.shop.example.com');

  it('answers the domain named exactly, whichever row came first', () => {
    for (const rows of [[bare, www], [www, bare]]) {
      const find = domainFinder(rows);
      for (const sent of ['shop.example.com', 'SHOP.example.com:443', 'shop.example.com.']) expect(found(find, sent), sent).toBe('dom_bare');
      for (const sent of ['www.shop.example.com', 'WWW.shop.example.com:443']) expect(found(find, sent), sent).toBe('dom_www');
    }
  });

  it('refuses a host that two stored spellings share, rather than pick one', () => {
    const find = domainFinder([row('dom_1', 'shop.example.com'), row('dom_2', 'Shop.Example.com')]);
    expect(find('shop.example.com')).toBeUndefined();
    expect(find('www.shop.example.com')).toBeUndefined();
    expect(found(find, 'dom_2')).toBe('dom_2');
  });
});
