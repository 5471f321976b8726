import type { Request, RequestHandler } from 'express';
import type { Config } from '../config.ts';
import { type HostName, formatHost, hostMatches, hostOf, isLoopback, parseHost, parseOrigin } from './hosts.ts';
import { ApiError } from './problem.ts';

/**
 * The one origin policy of the app: which Host it answers as and builds links on, and which
 * browser pages may write with its session cookie. The management API, the hosted sign-in forms
 * and the live-support handshake all ask here.
 */

type OriginConfig = Pick<Config, 'PUBLIC_URL' | 'ALLOWED_HOSTS' | 'TRUSTED_ORIGINS'>;

/**
 * The request's own host when the app may answer as it: the PUBLIC_URL host, a host of
 * ALLOWED_HOSTS, or — with neither configured (development) — a loopback host. Anything else is
 * a Host the caller made up, and is never echoed into a link.
 */
export function allowedRequestHost(config: OriginConfig, hostHeader: string | undefined): HostName | undefined {
  const host = hostHeader === undefined ? undefined : parseHost(hostHeader);
  if (!host) return undefined;
  if (config.PUBLIC_URL && hostMatches(hostOf(config.PUBLIC_URL), host)) return host;
  if (config.ALLOWED_HOSTS.length > 0) return config.ALLOWED_HOSTS.some((entry) => hostMatches(entry, host)) ? host : undefined;
  if (config.PUBLIC_URL) return undefined;
  return isLoopback(host) ? host : undefined;
}

/** The public origin of the app's pages: PUBLIC_URL, else the request's own allowed origin; undefined for a foreign Host. */
export function publicBase(config: OriginConfig, req: Request): string | undefined {
  if (config.PUBLIC_URL) return config.PUBLIC_URL.replace(/\/+$/, '');
  const host = allowedRequestHost(config, req.get('host'));
  return host ? `${req.protocol}://${formatHost(host)}` : undefined;
}

const HEALTH_PATHS = new Set(['/healthz', '/readyz']);

/**
 * Refuses a request whose Host the app does not answer to (as Django's ALLOWED_HOSTS does; it
 * also stops DNS rebinding against a development server). With only PUBLIC_URL set the Host
 * decides nothing, so every Host is served. Health checks (load balancers probe by address) pass.
 */
export function refuseForeignHosts(config: OriginConfig): RequestHandler {
  if (config.PUBLIC_URL && config.ALLOWED_HOSTS.length === 0) return (_req, _res, next) => next();
  // Host headers seen and allowed, so each is parsed once; bounded, and only allowed ones are kept
  const allowed = new Set<string>();
  return (req, _res, next) => {
    const host = req.headers.host;
    if (host !== undefined && allowed.has(host)) return next();
    if (allowedRequestHost(config, host)) {
      if (host !== undefined && allowed.size < 64) allowed.add(host);
      return next();
    }
    if (HEALTH_PATHS.has(req.path)) return next();
    next(
      new ApiError(
        400,
        'host_not_allowed',
        'Host not allowed',
        'the Host header names a host this server does not answer to; the operator sets PUBLIC_URL or ALLOWED_HOSTS',
      ),
    );
  };
}

/** What a browser tells about where a request comes from. */
export interface RequestSite {
  readonly origin?: string | undefined;
  readonly secFetchSite?: string | undefined;
  readonly host?: string | undefined;
}

/**
 * Whether a state-changing request came from another site's page, decided as Go 1.25's
 * `http.CrossOriginProtection` does: `Sec-Fetch-Site: same-origin | none` passes; an `Origin`
 * passes if it is the app's own (PUBLIC_URL, or the request's own allowed host when the browser
 * sent no Sec-Fetch-Site) or a TRUSTED_ORIGINS entry; any other Sec-Fetch-Site or Origin is
 * refused. With neither header the request cannot come from a browser page (curl, servers): it passes.
 */
export function crossOriginRefused(config: OriginConfig, site: RequestSite): boolean {
  const fetchSite = site.secFetchSite?.trim().toLowerCase();
  if (fetchSite === 'same-origin' || fetchSite === 'none') return false;
  if (site.origin === undefined) return fetchSite !== undefined;
  const origin = parseOrigin(site.origin);
  if (origin === undefined) return true; // `null` (sandboxed frames, some redirects) or garbage
  if (config.PUBLIC_URL && origin === new URL(config.PUBLIC_URL).origin) return false;
  if (config.TRUSTED_ORIGINS.includes(origin)) return false;
  if (fetchSite === undefined) {
    // An older browser: only Origin to go by. Like Go, compare hosts only (the scheme is not in Host).
    const own = allowedRequestHost(config, site.host);
    const from = hostOf(origin);
    if (own && own.hostname === from.hostname && own.port === from.port) return false;
  }
  return true;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Every write on a cookie-authenticated surface: refused with 403 `cross_origin_request` before anything runs. */
export function refuseCrossOriginWrites(config: OriginConfig): RequestHandler {
  return (req, _res, next) => {
    if (SAFE_METHODS.has(req.method)) return next();
    const refused = crossOriginRefused(config, { origin: req.get('origin'), secFetchSite: req.get('sec-fetch-site'), host: req.get('host') });
    if (!refused) return next();
    next(new ApiError(403, 'cross_origin_request', 'Cross-origin request', 'this write came from a page on another site; it is only accepted from this site’s own pages'));
  };
}
