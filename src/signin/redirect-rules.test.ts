import { describe, expect, it } from 'vitest';
import { checkRedirectUrl, withQuery } from './redirect-rules.ts';

const live = { domain: 'shop.example.com', testMode: false };
const test = { domain: 'shop.example.com', testMode: true };
const ok = (url: string, domain = live, registered = [url]) => checkRedirectUrl(url, registered, domain).ok;

describe('checkRedirectUrl', () => {
  it('when the URL is not registered character for character, then it is refused', () => {
    const registered = ['https://shop.example.com/cb'];
    expect(checkRedirectUrl('https://shop.example.com/cb', registered, live).ok).toBe(true);
    for (const other of ['https://shop.example.com/cb/', 'https://SHOP.example.com/cb', 'https://shop.example.com/cb?x=1', 'https://shop.example.com/c']) {
      expect(checkRedirectUrl(other, registered, live).ok, other).toBe(false);
    }
  });

  it('on a live domain: https on the domain or a subdomain only', () => {
    expect(ok('https://shop.example.com/cb')).toBe(true);
    expect(ok('https://www.shop.example.com/cb')).toBe(true);
    expect(ok('https://auth.shop.example.com:8443/cb')).toBe(true);
    expect(ok('http://shop.example.com/cb')).toBe(false);
    expect(ok('https://example.com/cb')).toBe(false);
    expect(ok('https://evilshop.example.com/cb')).toBe(false);
    expect(ok('https://shop.example.com.evil.test/cb')).toBe(false);
    expect(ok('http://localhost:3000/cb')).toBe(false);
  });

  it('on a test-mode domain: http only on loopback, https anywhere', () => {
    for (const url of ['http://localhost:3000/cb', 'http://127.0.0.1/cb', 'http://[::1]:8080/cb', 'https://staging.other.test/cb']) {
      expect(ok(url, test), url).toBe(true);
    }
    for (const url of ['http://shop.example.com/cb', 'http://localhost.evil.test/cb', 'http://127.0.0.2/cb']) {
      expect(ok(url, test), url).toBe(false);
    }
  });
});

describe('withQuery', () => {
  it('appends with ? or &, keeping an existing query as it was', () => {
    expect(withQuery('https://a.test/cb', { token: 'x_y-z' })).toBe('https://a.test/cb?token=x_y-z');
    expect(withQuery('https://a.test/cb?next=%2Fhome&a=b+c', { error: 'access_denied' })).toBe('https://a.test/cb?next=%2Fhome&a=b+c&error=access_denied');
    expect(withQuery('https://a.test/cb?', { token: 't' })).toBe('https://a.test/cb?token=t');
  });
});
