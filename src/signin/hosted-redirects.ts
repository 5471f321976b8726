import { Router, type Request } from 'express';
import { SIGN_IN_PAGE_PATH } from './partner-routes.ts';

/**
 * The hosted-page addresses the XWMS packages send people to (their `RedirectController` and
 * `accountUrl` default: `/login`, `/sign`, `/oauth/login`, `/signup`, `/account/general`), so a
 * partner who points them at Keyledger lands on our pages. Each is a 302 to a path of ours, with
 * only `token` and `lang` carried over (nothing else of the query reaches the target).
 *
 * Targets: the hosted sign-in (`/signin?token=…`) when a sign-in token comes along, else the
 * account pages — `/account` and `/account/register` are built by the account pages' work
 * (issue #10 part 1) and answer 404 until then.
 */
export const HOSTED_REDIRECTS = {
  '/login': 'signin',
  '/sign': 'signin',
  '/oauth/login': 'signin',
  '/signup': '/account/register',
  '/account/general': '/account',
} as const;

export const ACCOUNT_PAGE_PATH = '/account';

function carried(req: Request): string {
  const query = new URLSearchParams();
  for (const key of ['token', 'lang']) {
    const value = req.query[key];
    if (typeof value === 'string' && value.length > 0 && value.length <= 200) query.set(key, value);
  }
  const text = query.toString();
  return text ? `?${text}` : '';
}

export function hostedRedirects(): Router {
  const router = Router();
  for (const [from, to] of Object.entries(HOSTED_REDIRECTS)) {
    router.get(from, (req, res) => {
      const query = carried(req);
      if (to !== 'signin') return res.redirect(302, `${to}${query}`);
      // A sign-in needs its token: without one, the account pages (which ask to log in).
      return res.redirect(302, typeof req.query.token === 'string' ? `${SIGN_IN_PAGE_PATH}${query}` : `${ACCOUNT_PAGE_PATH}${query}`);
    });
  }
  return router;
}
