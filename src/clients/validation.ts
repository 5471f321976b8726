import { domainToUnicode } from 'node:url';
import ipaddr from 'ipaddr.js';
import { z } from 'zod';
import { SCOPES } from './events.ts';
import { canonicalHost } from './domain-name.ts';
import { WORD_SEPARATOR, firstMixedScriptWord, forbiddenCharacter, latinLookalike, lookalikeMessage } from './lookalikes.ts';

export { forbiddenCharacter } from './lookalikes.ts';

/**
 * Validators and normalisers for everything a partner types about a client. The HTTP layer parses
 * with these; `decide` then receives normalised values and only enforces state rules.
 */

// ---------------------------------------------------------------------------------------------
// Names and labels
// ---------------------------------------------------------------------------------------------

const MAX_NAME_LENGTH = 100;

/**
 * Trimmed, NFC-normalised, 1–100 characters (code points). No control or format characters, and
 * no word mixing look-alike scripts.
 */
export function normaliseDisplayText(raw: string, what: string): { ok: true; value: string } | { ok: false; message: string } {
  const value = raw.trim().normalize('NFC');
  const fail = (message: string) => ({ ok: false as const, message: `${what} ${message}` });
  const bad = forbiddenCharacter(value);
  if (bad) return fail(`must not contain control or invisible formatting characters (found ${bad})`);
  const length = [...value].length;
  if (length === 0) return fail('must not be empty');
  if (length > MAX_NAME_LENGTH) return fail(`must be at most ${MAX_NAME_LENGTH} characters (got ${length})`);
  const mixed = firstMixedScriptWord(value, WORD_SEPARATOR);
  if (mixed) return fail(`must not mix look-alike scripts in one word ("${mixed.word}" mixes ${mixed.scripts.join(' and ')})`);
  const lookalike = latinLookalike(value);
  if (lookalike) return fail(lookalikeMessage(lookalike));
  return { ok: true, value };
}

function displayText(what: string) {
  return z.string({ error: `${what} must be a string` }).transform((raw, ctx) => {
    const result = normaliseDisplayText(raw, what);
    if (result.ok) return result.value;
    ctx.addIssue({ code: 'custom', message: result.message });
    return z.NEVER;
  });
}

export const nameSchema = displayText('name');
export const labelSchema = displayText('label');

/** Like a name, but optional: `null`, or a blank string, clears it. */
export const internalNameSchema = z
  .string({ error: 'internal name must be a string or null' })
  .nullable()
  .transform((raw, ctx) => {
    if (raw === null || raw.trim() === '') return null;
    const result = normaliseDisplayText(raw, 'internal name');
    if (result.ok) return result.value;
    ctx.addIssue({ code: 'custom', message: result.message });
    return z.NEVER;
  });

// ---------------------------------------------------------------------------------------------
// URLs
// ---------------------------------------------------------------------------------------------

export const MAX_URI_LENGTH = 2048;

/**
 * An absolute http(s) URL, returned exactly as given (never the parser's normalised href), so that
 * what is matched later is what the partner typed. The raw text must itself start with
 * `http://` or `https://` and contain no backslash: the WHATWG parser would silently repair those.
 */
function httpUrl(what: string, options: { allowFragment: boolean }) {
  return z.string({ error: `${what} must be a string` }).superRefine((value, ctx) => {
    const fail = (message: string) => ctx.addIssue({ code: 'custom', message: `${what} ${message}` });
    if (value.length === 0) return fail('must not be empty');
    if (value.length > MAX_URI_LENGTH) return fail(`must be at most ${MAX_URI_LENGTH} characters (got ${value.length})`);
    if (/\s/u.test(value) || forbiddenCharacter(value)) return fail('must not contain spaces or control characters');
    if (!options.allowFragment && value.includes('#')) return fail('must not contain a fragment (#…)');
    if (value.includes('\\')) return fail('must not contain a backslash');
    if (!/^https?:\/\/[^/]/i.test(value)) return fail('must be an absolute URL starting with http:// or https://');
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      return fail('is not a valid URL');
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return fail('must use http or https');
    if (url.hostname === '') return fail('must have a host');
    if (url.username !== '' || url.password !== '') return fail('must not contain user info (user:password@)');
  });
}

export const redirectUriSchema = httpUrl('redirect URI', { allowFragment: false });
export const fallbackUriSchema = httpUrl('fallback URI', { allowFragment: true }).nullable();
export const logoSchema = httpUrl('logo URL', { allowFragment: true }).nullable();

// ---------------------------------------------------------------------------------------------
// Domains
// ---------------------------------------------------------------------------------------------

const MAX_DOMAIN_LENGTH = 253;
const LDH_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

function looksLikeIp(value: string): boolean {
  const bare = value.replace(/^\[|\](?::\d+)?$/g, '');
  return ipaddr.IPv4.isValidFourPartDecimal(value) || ipaddr.IPv6.isValid(bare) || /^\d+(\.\d+){3}(:\d+)?$/.test(value);
}

/** Why `raw` is not a bare host name, or the lower-case ASCII (punycode) host name. */
export function normaliseDomain(raw: string): { ok: true; domain: string } | { ok: false; message: string } {
  const fail = (message: string) => ({ ok: false as const, message });
  const value = raw.trim();
  if (value === '') return fail('must not be empty');
  if (forbiddenCharacter(value)) return fail('must not contain control or invisible formatting characters');
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) return fail('must be a host name only, without a protocol such as https://');
  if (looksLikeIp(value)) return fail('must be a host name, not an IP address (server IP addresses go in serverIps)');
  if (/\s/u.test(value)) return fail('must not contain spaces');
  if (value.includes('@')) return fail('must be a host name only, without user info (user@)');
  if (value.includes('/')) return fail('must be a host name only, without a path');
  if (value.includes('?')) return fail('must be a host name only, without a query');
  if (value.includes('#')) return fail('must be a host name only, without a fragment');
  if (value.includes(':')) return fail('must be a host name only, without a port');
  if (value.endsWith('.')) return fail('must not end with a dot');
  if (value.split('.').includes('')) return fail('must not contain empty labels (..)');
  // The URL standard reads a numeric last label as an IPv4 address; no real TLD is numeric.
  if (/^(?:\d+|0x[0-9a-f]*)$/i.test(value.split('.').at(-1)!)) return fail('must not end with an all-numeric label');
  const mixed = firstMixedScriptWord(value, /\./);
  if (mixed) return fail(`must not mix look-alike scripts in one label ("${mixed.word}" mixes ${mixed.scripts.join(' and ')})`);

  // The same normalisation the aggregate and the access pipeline compare domains by.
  const ascii = canonicalHost(value);
  if (ascii === undefined) return fail('is not a valid host name');
  // Punycode typed as such (xn--…) gets the same look-alike checks as the Unicode form.
  const unicode = domainToUnicode(ascii);
  const decoded = firstMixedScriptWord(unicode, /\./);
  if (decoded) return fail(`must not mix look-alike scripts in one label ("${decoded.word}" mixes ${decoded.scripts.join(' and ')})`);
  const lookalike = latinLookalike(unicode);
  if (lookalike) return fail(`${lookalikeMessage(lookalike)}: "${unicode}"`);
  if (ascii.length > MAX_DOMAIN_LENGTH) return fail(`must be at most ${MAX_DOMAIN_LENGTH} characters long`);
  const labels = ascii.split('.');
  for (const label of labels) {
    if (label === '') return fail('must not contain empty labels (..)');
    if (label.length > 63) return fail(`has a label longer than 63 characters ("${label.slice(0, 20)}…")`);
    if (!LDH_LABEL.test(label))
      return fail(`has an invalid label "${label}": use letters, digits and hyphens, not starting or ending with a hyphen`);
  }
  // `localhost` is the one single-label name accepted: test-mode domains use it.
  if (labels.length === 1 && ascii !== 'localhost') return fail('must contain at least one dot (e.g. example.com)');
  return { ok: true, domain: ascii };
}

export const domainSchema = z.string({ error: 'domain must be a string' }).transform((raw, ctx) => {
  const result = normaliseDomain(raw);
  if (result.ok) return result.domain;
  ctx.addIssue({ code: 'custom', message: `domain ${result.message}` });
  return z.NEVER;
});

// ---------------------------------------------------------------------------------------------
// Server IPs
// ---------------------------------------------------------------------------------------------

type Address = ipaddr.IPv4 | ipaddr.IPv6;

function parseAddress(text: string): Address | undefined {
  if (ipaddr.IPv4.isValidFourPartDecimal(text)) return ipaddr.IPv4.parse(text);
  if (!text.includes('%') && ipaddr.IPv6.isValid(text)) return ipaddr.IPv6.parse(text);
  return undefined;
}

function canonical(address: Address): string {
  return address.kind() === 'ipv4' ? address.toString() : (address as ipaddr.IPv6).toRFC5952String();
}

/**
 * Canonical IP or CIDR: IPv4-mapped IPv6 becomes IPv4, IPv6 is RFC 5952 text, a /32 (IPv4) or
 * /128 (IPv6) range is written as the plain address. A range whose host bits are set is refused
 * (naming the network address) rather than silently widened: "10.1.2.3/8" is more likely a typo.
 */
export function normaliseServerIp(raw: string): { ok: true; ip: string } | { ok: false; message: string } {
  const value = raw.trim();
  const [addressText, prefixText, ...extra] = value.split('/');
  const address = parseAddress(addressText ?? '');
  if (!address || extra.length > 0) return { ok: false, message: `"${value}" is not an IPv4 or IPv6 address or CIDR range` };
  let ip: Address = address;
  let prefix = ip.kind() === 'ipv4' ? 32 : 128;
  if (prefixText !== undefined) {
    if (!/^\d{1,3}$/.test(prefixText) || Number(prefixText) > prefix)
      return { ok: false, message: `"${value}" has an invalid prefix length (0–${prefix})` };
    prefix = Number(prefixText);
  }
  if (ip.kind() === 'ipv6' && (ip as ipaddr.IPv6).isIPv4MappedAddress() && prefix >= 96) {
    ip = (ip as ipaddr.IPv6).toIPv4Address();
    prefix -= 96;
  }
  const full = ip.kind() === 'ipv4' ? 32 : 128;
  if (prefix === full) return { ok: true, ip: canonical(ip) };
  const network = ip.kind() === 'ipv4' ? ipaddr.IPv4.networkAddressFromCIDR(`${ip.toString()}/${prefix}`) : ipaddr.IPv6.networkAddressFromCIDR(`${ip.toString()}/${prefix}`);
  if (canonical(network) !== canonical(ip))
    return { ok: false, message: `"${value}" has host bits set; use the network address ${canonical(network)}/${prefix}` };
  return { ok: true, ip: `${canonical(ip)}/${prefix}` };
}

export const serverIpSchema = z.string({ error: 'server IP must be a string' }).transform((raw, ctx) => {
  const result = normaliseServerIp(raw);
  if (result.ok) return result.ip;
  ctx.addIssue({ code: 'custom', message: result.message });
  return z.NEVER;
});

export const MAX_SERVER_IPS = 100;

/** A list of server IPs, normalised and de-duplicated (first occurrence kept); empty = any. */
export const serverIpsSchema = z
  .array(serverIpSchema, { error: 'serverIps must be an array of IP addresses or CIDR ranges' })
  .max(MAX_SERVER_IPS, { error: `serverIps may hold at most ${MAX_SERVER_IPS} entries` })
  .transform((ips) => [...new Set(ips)]);

// ---------------------------------------------------------------------------------------------
// Scopes
// ---------------------------------------------------------------------------------------------

export const scopesSchema = z
  .array(z.enum(SCOPES, { error: `scope must be one of: ${SCOPES.join(', ')}` }), { error: 'scopes must be an array' })
  .refine((scopes) => new Set(scopes).size === scopes.length, { error: 'scopes must not contain duplicates' });
