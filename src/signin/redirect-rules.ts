import { domainLookupKey } from '../clients/domain-name.ts';

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

export type RedirectCheck = { readonly ok: true } | { readonly ok: false; readonly message: string };

/**
 * Whether a sign-token `redirect_url` may be used (DESIGN §6, §7): it must equal one of the
 * client's registered redirect URIs character for character, and satisfy the domain's rule —
 * on a test-mode domain `http` only on localhost, 127.0.0.1 or [::1] (https anywhere); on a live
 * domain `https` only, on the domain itself or a subdomain of it (a leading `www.` ignored).
 */
export function checkRedirectUrl(
  redirectUrl: string,
  registered: readonly string[],
  domain: { readonly domain: string; readonly testMode: boolean },
): RedirectCheck {
  if (!registered.includes(redirectUrl)) {
    return { ok: false, message: 'redirect_url is not one of the client’s registered redirect URIs (they must match exactly).' };
  }
  let url: URL;
  try {
    url = new URL(redirectUrl);
  } catch {
    return { ok: false, message: 'redirect_url is not a valid absolute URL.' };
  }
  if (domain.testMode) {
    if (url.protocol === 'https:') return { ok: true };
    if (url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname)) return { ok: true };
    return { ok: false, message: 'On a test-mode domain a redirect_url must use https, or http on localhost, 127.0.0.1 or [::1].' };
  }
  if (url.protocol !== 'https:') return { ok: false, message: 'On a live domain a redirect_url must use https.' };
  const host = domainLookupKey(url.hostname);
  const root = domainLookupKey(domain.domain);
  if (host === undefined || root === undefined || (host !== root && !host.endsWith(`.${root}`))) {
    return { ok: false, message: `On a live domain the redirect_url's host must be ${domain.domain} or a subdomain of it.` };
  }
  return { ok: true };
}

/** `redirectUrl` with the given parameters appended (`?` or `&`), its own query kept as it was. */
export function withQuery(redirectUrl: string, params: Record<string, string>): string {
  const url = new URL(redirectUrl);
  const added = new URLSearchParams(params).toString();
  url.search = url.search.length > 1 ? `${url.search}&${added}` : `?${added}`;
  return url.toString();
}
