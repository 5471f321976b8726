/**
 * The page layer: the ONE way to answer with an HTML page (sign-in, support, dashboard, …).
 *
 *   const pages = await createPageLayer(ctx);           // once, in createApp
 *   const router = pages.router();                       // every page router starts here: origin check,
 *                                                        // urlencoded body, input guard, cookies, helmet
 *                                                        // headers + strict CSP, no-store, language, CSRF
 *   router.get('/x', (req, res) => renderPage(req, res, 'dashboard/x', { … }, { title: 'dashboard.title' }));
 *   pages.finish(router);                                // 404 page + error pages (403 CSRF, 503, 500)
 *
 * In a view (`src/web/views/<area>/<name>.eta`, Eta, `it` is the data):
 *   <%= it.t('dashboard.clientsHeading') %>              // escaped text from the catalogue
 *   <%~ it.t.strong('signin.heading', { client }) %>     // escaped message, values escaped in <strong>
 *   <form method="post" action="…"><%~ include('/partials/hidden', it) %> … </form>
 *                                                        // csrf + lang (+ idempotencyKey when it.form has one)
 *   <%~ include('/partials/field', { ...it, name: 'email', type: 'email', label: it.t('dashboard.email') }) %>
 *                                                        // label, kept value, error next to the field
 * Messages: `src/web/locales/{en,nl}/<area>.json`; a new area also gets one line in `Areas` (i18n.ts).
 * Forms: `emptyForm({ idempotent: true })`, `resubmittedForm(req, fields, fieldErrors(zodError, t, {...}))`,
 * `submittedIdempotencyKey(req)` (forms.ts). A write without a valid CSRF token never reaches a handler: 403 page.
 * Assets: `src/web/static/` at `/assets/…` (long-cached; link with `it.asset('path')`, which adds a content hash).
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { type ErrorRequestHandler, type Request, type RequestHandler, type Response, Router } from 'express';
import cookieParser from 'cookie-parser';
import helmet from 'helmet';
import type { AppContext } from '../context.ts';
import { DATABASE_RETRY_AFTER_SECONDS, isDatabaseUnavailable } from '../db/errors.ts';
import { refuseCrossOriginWrites } from '../http/origin.ts';
import { refuseUnstorableInput } from '../http/input-guard.ts';
import { toApiError } from '../http/problem.ts';
import type { SessionUser } from '../accounts/sessions.ts';
import { engine } from './engine.ts';
import { LANGUAGE_COOKIE, LANGUAGES, type Language, type MessageKey, type Translator, type Vars, chooseLanguage, loadCatalogue, translator } from './i18n.ts';
import { createPageCsrf } from './csrf.ts';

export { emptyForm, fieldErrors, keptValues, resubmittedForm, submittedIdempotencyKey, type FormState } from './forms.ts';
export type { Language, MessageKey, Translator } from './i18n.ts';

const STATIC = fileURLToPath(new URL('./static/', import.meta.url));

/** A link in the header's navigation. */
export interface NavItem {
  readonly href: string;
  readonly label: string;
  readonly current?: boolean;
}

/** What the layer keeps on `res.locals` for every page request. */
export interface PageLocals {
  readonly lang: Language;
  readonly t: Translator;
  /** the CSRF token for this response's forms (sets the cookie on first use) */
  readonly csrfToken: () => string;
  /** the logged-in account, when the page knows it: shows the logout button */
  account?: SessionUser;
  /** header navigation and organisation switcher (the dashboard fills them) */
  nav?: readonly NavItem[];
  organisations?: readonly { id: string; name: string; current: boolean }[];
}

export interface RenderOptions {
  readonly status?: number;
  /** the window title, a catalogue key or { key, vars } */
  readonly title: MessageKey | { key: MessageKey; vars: Vars };
  /** where the language switch links go (path + query, without lang); default: this GET's URL, or `/` after a POST */
  readonly here?: string;
}

const localsOf = (res: Response): PageLocals => {
  const page = res.locals.page as PageLocals | undefined;
  if (!page) throw new Error('renderPage outside a page router (use pages.router())');
  return page;
};

/** The page's translator and language, for code that builds data for a view. */
export const pageLocals = localsOf;

let assetVersions: ReadonlyMap<string, string> = new Map();
/** `/assets/<path>?v=<content hash>`: the long cache never serves an old file under a new page. */
export const assetUrl = (path: string): string => `/assets/${path}${assetVersions.has(path) ? `?v=${assetVersions.get(path)}` : ''}`;

function languageLinks(req: Request, lang: Language, here: string | undefined) {
  const base = here ?? (req.method === 'GET' ? req.originalUrl : req.baseUrl || '/');
  const [path, query = ''] = base.split('?', 2) as [string, string?];
  return LANGUAGES.map((to) => {
    const params = new URLSearchParams(query);
    params.delete('lang');
    params.append('lang', to);
    return { lang: to, href: `${path}?${params.toString()}`, current: to === lang };
  });
}

/** Renders `src/web/views/<view>.eta` inside the shared layout and sends it. */
export function renderPage(req: Request, res: Response, view: string, data: Record<string, unknown>, options: RenderOptions): void {
  const page = localsOf(res);
  const shared = { t: page.t, lang: page.lang, csrf: page.csrfToken, asset: assetUrl, account: page.account };
  const body = engine.render(`./${view}`, { ...shared, ...data });
  const title = typeof options.title === 'string' ? page.t(options.title) : page.t(options.title.key, options.title.vars);
  const html = engine.render('./layout', {
    ...shared,
    title,
    body,
    styles: data.styles,
    scripts: data.scripts,
    nav: page.nav ?? [],
    organisations: page.organisations ?? [],
    languages: languageLinks(req, page.lang, options.here),
  });
  res.status(options.status ?? 200).type('html').send(html);
}

/** Lets a form's post be followed by a redirect to another origin (browsers apply form-action to it): the sign-in decision. */
export function allowFormTarget(res: Response, url: string): void {
  const target = new URL(url);
  const source = target.origin.includes('[') || target.origin === 'null' ? target.protocol : target.origin;
  const csp = String(res.getHeader('Content-Security-Policy') ?? '');
  res.setHeader('Content-Security-Policy', csp.replace("form-action 'self'", `form-action 'self' ${source}`));
}

type ProblemPage = 'notFound' | 'csrf' | 'unavailable' | 'badRequest' | 'error';

/** One of the layer's error pages. */
export function renderProblem(req: Request, res: Response, kind: ProblemPage, status: number, vars: Vars = {}): void {
  const keys = {
    notFound: ['common.notFoundTitle', 'common.notFoundBody'],
    csrf: ['common.csrfTitle', 'common.csrfBody'],
    unavailable: ['common.unavailableTitle', 'common.unavailableBody'],
    badRequest: ['common.badRequestTitle', 'common.badRequestBody'],
    error: ['common.errorTitle', 'common.errorBody'],
  } as const satisfies Record<ProblemPage, readonly [MessageKey, MessageKey]>;
  const [title, body] = keys[kind];
  renderPage(req, res, 'message', { heading: title, body, vars }, { status, title });
}

function hashAssets(): Map<string, string> {
  const versions = new Map<string, string>();
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const full = join(dir, name);
      if (statSync(full).isDirectory()) walk(full);
      else versions.set(relative(STATIC, full).split('\\').join('/'), createHash('sha256').update(readFileSync(full)).digest('hex').slice(0, 12));
    }
  };
  walk(STATIC);
  return versions;
}

export async function createPageLayer(ctx: AppContext) {
  const { config, database } = ctx;
  const catalogue = loadCatalogue();
  const translators = { en: translator(catalogue, 'en'), nl: translator(catalogue, 'nl') };
  const secureCookie = (req: Request) => config.COOKIE_SECURE ?? req.secure;
  const csrf = await createPageCsrf(database.db, secureCookie);
  assetVersions = hashAssets();

  const headers = helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'none'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", 'data:'],
        fontSrc: ["'self'"],
        connectSrc: ["'self'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
        baseUri: ["'none'"],
        objectSrc: ["'none'"],
      },
    },
    frameguard: { action: 'deny' },
    // sign-in URLs carry one-time tokens: no page tells another site where it came from
    referrerPolicy: { policy: 'no-referrer' },
  });

  const locals: RequestHandler = (req, res, next) => {
    const query = typeof req.query.lang === 'string' ? req.query.lang : undefined;
    const fromForm = (req.body as Record<string, unknown> | undefined)?.lang;
    const cookies = req.cookies as Record<string, unknown>;
    const lang = chooseLanguage(query ?? fromForm, cookies[LANGUAGE_COOKIE], req.get('accept-language'));
    // the switch is sticky: an explicit ?lang= is remembered
    if (query === lang && cookies[LANGUAGE_COOKIE] !== lang) {
      res.cookie(LANGUAGE_COOKIE, lang, { maxAge: 365 * 24 * 3_600_000, sameSite: 'lax', path: '/', httpOnly: false, secure: secureCookie(req) });
    }
    let token: string | undefined;
    const page: PageLocals = { lang, t: translators[lang], csrfToken: () => (token ??= csrf.token(req, res)) };
    res.locals.page = page;
    res.set({ 'Cache-Control': 'no-store', 'Content-Language': lang });
    res.vary('Accept-Language').vary('Cookie');
    next();
  };

  const csrfCheck: RequestHandler = (req, res, next) => {
    if (csrf.accepts(req)) return next();
    renderProblem(req, res, 'csrf', 403);
  };

  const errors: ErrorRequestHandler = (error, req, res, _next) => {
    if (res.headersSent) return;
    if (!res.locals.page) locals(req, res, () => undefined);
    const status = toApiError(error)?.status;
    if (status !== undefined && status >= 400 && status < 500) return renderProblem(req, res, status === 404 ? 'notFound' : 'badRequest', status);
    if (isDatabaseUnavailable(error)) {
      res.set('Retry-After', String(DATABASE_RETRY_AFTER_SECONDS));
      return renderProblem(req, res, 'unavailable', 503);
    }
    const reference = String(res.getHeader('x-request-id') ?? '');
    ctx.logger.error({ err: error, requestId: reference }, 'page failed');
    renderProblem(req, res, 'error', 500, { reference });
  };

  return {
    catalogue,
    translators,
    /** A router with everything a page needs, in order; add routes, then call `finish`. */
    router(): Router {
      const router = Router();
      router.use(
        headers,
        cookieParser(),
        // the forms carry CSRF tokens too; the origin check refuses a foreign page before anything is read
        refuseCrossOriginWrites(config),
        express.urlencoded({ extended: false, limit: '16kb', parameterLimit: 50 }),
        refuseUnstorableInput,
        locals,
        csrfCheck,
      );
      return router;
    },
    /** The 404 page for paths the router does not know, and the error pages. */
    finish(router: Router): Router {
      router.use((req, res) => renderProblem(req, res, 'notFound', 404));
      router.use(errors);
      return router;
    },
    /** `/assets/…`: static files, cached for a year (URLs carry a content hash). */
    assets: express.static(STATIC, { index: false, maxAge: '365d', immutable: true, fallthrough: false }),
  };
}

export type PageLayer = Awaited<ReturnType<typeof createPageLayer>>;
