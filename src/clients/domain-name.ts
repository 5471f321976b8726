import { domainToASCII } from 'node:url';

/**
 * The one normalisation of host names, shared by validation (what is stored), the client
 * aggregate (which domains may coexist) and the access pipeline (which domain a call names), so
 * the three can never disagree about whether two spellings are the same domain.
 *
 * Equal under it: letter case, Unicode and punycode spellings of an internationalised name
 * (`bücher.example` = `xn--bcher-kva.example`, IDNA/UTS #46 as browsers do it), full-width dots
 * and letters, and one trailing dot (the DNS root: `shop.example.com.` is `shop.example.com`).
 * The lookup key further drops one leading `www.`, which the pipeline has always ignored.
 */

/** Lower-case ASCII (punycode) form of a host name, or undefined when it is not one. */
export function canonicalHost(host: string): string | undefined {
  const relative = host.endsWith('.') ? host.slice(0, -1) : host;
  if (relative === '') return undefined;
  const ascii = domainToASCII(relative);
  return ascii === '' ? undefined : ascii;
}

const WWW = 'www.';

/** The key of a canonical host: without one leading `www.`. */
export const lookupKeyOfCanonical = (canonical: string): string => (canonical.startsWith(WWW) ? canonical.slice(WWW.length) : canonical);

/**
 * The key a call's `X-Client-Domain` is matched by, and that no two domains of one client may
 * share: the canonical host without one leading `www.`. Undefined when `host` is not a host name.
 */
export function domainLookupKey(host: string): string | undefined {
  const canonical = canonicalHost(host);
  return canonical === undefined ? undefined : lookupKeyOfCanonical(canonical);
}
