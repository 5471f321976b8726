/** Host names and origins as the HTTP edge compares them: parsed by the WHATWG URL parser, normalised. */

export interface HostName {
  /** lower-case, punycode; IPv6 in brackets */
  readonly hostname: string;
  /** '' for the scheme's default port (or, in a configured entry, for any port) */
  readonly port: string;
}

/**
 * A `Host` header or a configured host (`id.example.com`, `id.example.com:8443`, `[::1]:3000`),
 * or undefined when it is anything else (user info, a path, spaces…).
 */
export function parseHost(value: string): HostName | undefined {
  if (value === '' || value.length > 300 || /[\s/\\?#@%]/.test(value)) return undefined;
  let url: URL;
  try {
    url = new URL(`http://${value}`);
  } catch {
    return undefined;
  }
  if (url.username || url.password || url.pathname !== '/' || url.search || url.hash || url.hostname === '') return undefined;
  return { hostname: url.hostname, port: url.port };
}

/** An origin (`https://admin.example.com`), as `URL.origin` writes it, or undefined (`null`, paths, other schemes). */
export function parseOrigin(value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
  if (url.username || url.password || url.pathname !== '/' || url.search || url.hash) return undefined;
  // `https://x/` is the same origin; `https://x/path` is not an origin at all
  if (!/^[a-z]+:\/\/[^/]+\/?$/i.test(value)) return undefined;
  return url.origin;
}

export const formatHost = (host: HostName): string => (host.port ? `${host.hostname}:${host.port}` : host.hostname);

/** The host of an http(s) origin or URL. */
export const hostOf = (url: string): HostName => {
  const parsed = new URL(url);
  return { hostname: parsed.hostname, port: parsed.port };
};

/** A configured entry without a port matches every port of its host. */
export const hostMatches = (entry: HostName, host: HostName): boolean =>
  entry.hostname === host.hostname && (entry.port === '' || entry.port === host.port);

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);
export const isLoopback = (host: HostName): boolean => LOOPBACK.has(host.hostname);
