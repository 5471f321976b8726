import type { Request, Response, Router } from 'express';
import { z } from 'zod';
import type { AppContext } from '../context.ts';
import { createPasswordCheck } from '../accounts/login.ts';
import { type SessionUser, clearSessionCookie, createSession, deleteSession, findSessionUser, sessionToken, setSessionCookie } from '../accounts/sessions.ts';
import { emailSchema, registerBody } from '../accounts/account-service.ts';
import { isTokenShaped, findSignInToken } from '../signin/tokens.ts';
import { SIGN_IN_PAGE_PATH } from '../signin/partner-routes.ts';
import { type FormState, type MessageKey, type PageLayer, emptyForm, fieldErrors, pageLocals, renderPage, resubmittedForm } from '../web/layer.ts';
import { profileUpdateSchema, readProfile, SOCIAL_PLATFORMS, GENDERS, MAX_SOCIALS } from '../users/profile-store.ts';
import { listCountries } from '../users/countries.ts';
import { settle } from '../http/request.ts';
import type { LinkCheck } from './links.ts';
import { checkLink } from './links.ts';
import { createAccountLimits } from './limits.ts';
import { WEAK_PASSWORD_MESSAGES } from './password-policy.ts';
import { WeakPasswordError, linkBase, registerUser, sendVerification } from './registration.ts';
import { type PictureRefusal, PictureError, reencodePicture, storePicture } from './pictures.ts';
import {
  AccountError,
  changePassword,
  checkResetLink,
  deleteAccount,
  listPartners,
  listSessions,
  requestPasswordReset,
  resetPassword,
  revokePartner,
  signOutSession,
  updateProfile,
  verifyEmail,
} from './service.ts';

const text = (value: unknown, max: number): string => (typeof value === 'string' ? value.slice(0, max) : '');

const LINK_PAGES = {
  invalid: { status: 404, heading: 'account.linkInvalidTitle', body: 'account.linkInvalidBody' },
  expired: { status: 410, heading: 'account.linkExpiredTitle', body: 'account.linkExpiredBody' },
  used: { status: 410, heading: 'account.linkUsedTitle', body: 'account.linkUsedBody' },
} as const satisfies Record<Exclude<LinkCheck['kind'], 'valid'>, { status: number; heading: MessageKey; body: MessageKey }>;

const PICTURE_MESSAGES: Record<PictureRefusal | 'picture_missing', MessageKey> = {
  picture_too_large: 'account.pictureTooLarge',
  picture_type: 'account.pictureType',
  picture_unreadable: 'account.pictureUnreadable',
  picture_missing: 'account.pictureMissing',
};

/** Profile form fields → the message shown next to each when it is refused. */
const PROFILE_ERRORS: Record<string, MessageKey> = {
  name: 'account.errorName',
  given_name: 'account.errorText',
  family_name: 'account.errorText',
  picture: 'account.errorUrl',
  birth_date: 'account.errorDate',
  gender: 'account.errorChoice',
  second_email: 'account.errorEmail',
  country: 'account.errorCountry',
  preferred_language: 'account.errorChoice',
};
const PROFILE_FIELDS = ['name', 'given_name', 'family_name', 'picture', 'birth_date', 'gender', 'second_email', 'country', 'preferred_language'] as const;

/** What a picture upload left on the request (multer runs before this router: see `pictureUpload`). */
export interface UploadedPicture {
  readonly buffer?: Buffer;
  readonly refusal?: PictureRefusal;
}
export const uploadedPictureOf = (req: Request): UploadedPicture | undefined => (req as Request & { picture?: UploadedPicture }).picture;

/**
 * The end-user account pages (issue #10), on the page layer: register (also from the hosted
 * sign-in page, keeping its token), confirm the email address, forgot/reset password, log in, and
 * /account — profile, picture, password, sessions, partners, deletion. Works without JavaScript;
 * every form carries the layer's CSRF token. Sign-up and reset never tell whether an address has
 * an account.
 */
export function accountPages(ctx: AppContext, pages: PageLayer): Router {
  const { database, config } = ctx;
  const { db } = database;
  const checkPassword = createPasswordCheck(database);
  const consumeLimit = createAccountLimits(database, config);
  const secureCookie = (req: Request) => config.COOKIE_SECURE ?? req.secure;
  const router = pages.router();

  async function currentUser(req: Request): Promise<SessionUser | undefined> {
    const token = sessionToken(req);
    return token ? await findSessionUser(db, token, ctx.now()) : undefined;
  }

  const notice = (req: Request, res: Response, heading: MessageKey, body: MessageKey, options: { status?: number; vars?: Record<string, string | number>; link?: { href: string; label: MessageKey } } = {}) =>
    renderPage(req, res, 'account/notice', { heading, body, vars: options.vars ?? {}, link: options.link }, { status: options.status ?? 200, title: heading });

  const linkProblem = (req: Request, res: Response, kind: Exclude<LinkCheck['kind'], 'valid'>) => {
    const page = LINK_PAGES[kind];
    notice(req, res, page.heading, page.body, { status: page.status, link: { href: `/account/login?lang=${pageLocals(res).lang}`, label: 'account.loginLink' } });
  };

  const tooMany = (req: Request, res: Response, seconds: number) => {
    res.set('Retry-After', String(seconds));
    notice(req, res, 'account.tooManyRequestsTitle', 'account.tooManyRequestsBody', { status: 429, vars: { minutes: Math.max(1, Math.ceil(seconds / 60)) } });
  };

  async function startSession(req: Request, res: Response, sub: number) {
    const session = await createSession(db, sub, config.SESSION_TTL_HOURS, ctx.now(), { ip: req.ip ?? null, userAgent: req.get('user-agent')?.slice(0, 512) ?? null });
    setSessionCookie(res, session.token, session.expiresAt, secureCookie(req));
  }

  /** The client a sign-in under way belongs to, for "you continue to …" (nothing for a token that cannot continue). */
  async function signInClient(token: unknown): Promise<{ token: string; client: string } | undefined> {
    if (!isTokenShaped(token)) return undefined;
    const row = await findSignInToken(db, token);
    if (!row || row.status !== 'pending') return undefined;
    const client = await database.rm.selectFrom('clients').select('name').where('client_id', '=', row.clientId).executeTakeFirst();
    return client ? { token, client: client.name } : undefined;
  }

  // ---- register ------------------------------------------------------------------------------

  async function showRegister(req: Request, res: Response, form: FormState, signInToken: unknown, status = 200) {
    const signIn = await signInClient(signInToken);
    const lang = pageLocals(res).lang;
    const loginHref = signIn ? `${SIGN_IN_PAGE_PATH}?${new URLSearchParams({ token: signIn.token, lang })}` : `/account/login?lang=${lang}`;
    renderPage(req, res, 'account/register', { form, client: signIn?.client, signinToken: signIn?.token, loginHref }, {
      status,
      title: 'account.registerTitle',
      here: `/account/register${signIn ? `?token=${signIn.token}` : ''}`,
    });
  }

  // `token` is the sign-in token (the XWMS packages' /signup?token=… lands here); `signin` as well.
  router.get('/register', async (req, res) => {
    await showRegister(req, res, emptyForm(), req.query.signin ?? req.query.token);
  });

  router.post('/register', async (req, res) => {
    const { t, lang } = pageLocals(res);
    const body = (req.body ?? {}) as Record<string, unknown>;
    const fields = ['name', 'email', 'password'] as const;
    const parsed = registerBody.safeParse(Object.fromEntries(fields.map((f) => [f, text(body[f], 1_000)])));
    if (!parsed.success) {
      const errors = fieldErrors(parsed.error, t, { name: 'account.errorName', email: 'account.errorEmail', password: 'account.passwordHint' });
      return await showRegister(req, res, resubmittedForm(req, fields, errors, t('account.formHasErrors')), body.signin, 400);
    }
    const limit = await consumeLimit('signup', req.ip, parsed.data.email);
    if (!limit.ok) return tooMany(req, res, limit.retryAfterSeconds);
    const signIn = await signInClient(body.signin);
    try {
      await registerUser(
        ctx,
        req,
        { ...parsed.data, language: lang, via: signIn ? 'signin' : 'account', organisation: false, signInToken: signIn?.token },
        { mailExisting: true },
      );
    } catch (error) {
      if (!(error instanceof WeakPasswordError)) throw error;
      const errors = { password: WEAK_PASSWORD_MESSAGES[lang][error.reason] };
      return await showRegister(req, res, resubmittedForm(req, fields, errors, t('account.formHasErrors')), body.signin, 400);
    }
    // The same page whether the address was new or not: the mail tells its owner which.
    notice(req, res, 'account.checkMailTitle', 'account.checkMailBody', { vars: { email: parsed.data.email } });
  });

  // ---- email verification ---------------------------------------------------------------------

  router.get('/verify', async (req, res) => {
    const check = await checkLink(db, req.query.token, 'verify_email', ctx.now());
    if (check.kind !== 'valid') return linkProblem(req, res, check.kind);
    const signin = isTokenShaped(req.query.signin) ? req.query.signin : undefined;
    renderPage(req, res, 'account/verify', { token: req.query.token, signinToken: signin }, { title: 'account.verifyTitle', here: '/account/verify' });
  });

  router.post('/verify', async (req, res) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const verified = await verifyEmail(ctx, req, body.token);
    if (verified.kind !== 'valid') return linkProblem(req, res, verified.kind);
    await settle(ctx, verified.position);
    // The link proves the mailbox: the browser that opens it is logged in to the account it
    // confirmed (as a reset link would let it choose a password), and a sign-in under way goes on.
    const current = await currentUser(req);
    if (current?.sub !== verified.sub) await startSession(req, res, verified.sub);
    const lang = pageLocals(res).lang;
    if (isTokenShaped(body.signin)) return res.redirect(303, `${SIGN_IN_PAGE_PATH}?${new URLSearchParams({ token: body.signin, lang })}`);
    res.redirect(303, `/account?notice=verified&lang=${lang}`);
  });

  router.post('/verify/resend', async (req, res) => {
    const user = await currentUser(req);
    if (!user) return res.redirect(303, '/account/login');
    const limit = await consumeLimit('signup', req.ip, user.email);
    if (!limit.ok) return tooMany(req, res, limit.retryAfterSeconds);
    await sendVerification(ctx, req, { sub: user.sub, email: user.email, name: user.name, language: pageLocals(res).lang });
    res.redirect(303, `/account?notice=verificationSent&lang=${pageLocals(res).lang}`);
  });

  // ---- forgot / reset password ----------------------------------------------------------------

  const showForgot = (req: Request, res: Response, form: FormState, status = 200) =>
    renderPage(req, res, 'account/forgot', { form }, { status, title: 'account.forgotTitle', here: '/account/forgot' });

  router.get('/forgot', (req, res) => showForgot(req, res, emptyForm()));

  router.post('/forgot', async (req, res) => {
    const { t, lang } = pageLocals(res);
    const parsed = z.object({ email: emailSchema }).safeParse({ email: text((req.body as Record<string, unknown>)?.email, 1_000) });
    if (!parsed.success) return showForgot(req, res, resubmittedForm(req, ['email'], { email: t('account.errorEmail') }, t('account.formHasErrors')), 400);
    const limit = await consumeLimit('reset', req.ip, parsed.data.email);
    if (!limit.ok) return tooMany(req, res, limit.retryAfterSeconds);
    await requestPasswordReset(ctx, req, parsed.data.email, lang);
    notice(req, res, 'account.forgotSentTitle', 'account.forgotSentBody', { vars: { email: parsed.data.email } });
  });

  const showReset = (req: Request, res: Response, token: string, form: FormState, status = 200) =>
    renderPage(req, res, 'account/reset', { form, token }, { status, title: 'account.resetTitle', here: '/account/reset' });

  router.get('/reset', async (req, res) => {
    const check = await checkResetLink(ctx, req.query.token);
    if (check.kind !== 'valid') return linkProblem(req, res, check.kind);
    showReset(req, res, req.query.token as string, emptyForm());
  });

  router.post('/reset', async (req, res) => {
    const { t, lang } = pageLocals(res);
    const body = (req.body ?? {}) as Record<string, unknown>;
    try {
      const outcome = await resetPassword(ctx, req, body.token, text(body.password, 1_000));
      if (outcome.kind !== 'valid') return linkProblem(req, res, outcome.kind);
    } catch (error) {
      if (!(error instanceof AccountError) || error.code !== 'weak_password' || !error.reason) throw error;
      return showReset(req, res, text(body.token, 100), resubmittedForm(req, [], { password: WEAK_PASSWORD_MESSAGES[lang][error.reason] }, t('account.formHasErrors')), 400);
    }
    clearSessionCookie(res, secureCookie(req));
    notice(req, res, 'account.resetDoneTitle', 'account.resetDoneBody', { link: { href: `/account/login?lang=${lang}`, label: 'account.loginLink' } });
  });

  // ---- log in / out ---------------------------------------------------------------------------

  const showLogin = (req: Request, res: Response, form: FormState, status = 200, notice?: MessageKey) =>
    renderPage(req, res, 'account/login', { form, notice }, { status, title: 'account.loginTitle', here: '/account/login' });

  router.get('/login', (req, res) => showLogin(req, res, emptyForm(), 200, req.query.notice === 'loggedOut' ? 'account.loggedOut' : undefined));

  router.post('/login', async (req, res) => {
    const { t } = pageLocals(res);
    const body = (req.body ?? {}) as Record<string, unknown>;
    const outcome = await checkPassword({ email: text(body.email, 254), password: text(body.password, 256), ip: req.ip });
    if (!outcome.ok) {
      if (outcome.reason === 'too_many_attempts') {
        res.set('Retry-After', String(outcome.retryAfterSeconds));
        return showLogin(req, res, resubmittedForm(req, ['email'], {}, t('account.tooManyAttempts', { seconds: outcome.retryAfterSeconds })), 429);
      }
      return showLogin(req, res, resubmittedForm(req, ['email'], {}, t('account.invalidCredentials')), 401);
    }
    await startSession(req, res, outcome.user.sub);
    res.redirect(303, `/account?lang=${pageLocals(res).lang}`);
  });

  router.post('/logout', async (req, res) => {
    const user = await currentUser(req);
    if (user) {
      await deleteSession(db, user.sessionHash);
      ctx.sessionEnded?.(user.sessionHash);
    }
    clearSessionCookie(res, secureCookie(req));
    res.redirect(303, `/account/login?notice=loggedOut&lang=${pageLocals(res).lang}`);
  });

  // ---- /account ---------------------------------------------------------------------------------

  const NOTICES: Record<string, MessageKey> = {
    verified: 'account.verifiedNotice',
    verificationSent: 'account.verificationSent',
    profileSaved: 'account.profileSaved',
    pictureSaved: 'account.pictureSaved',
    passwordChanged: 'account.passwordChanged',
    sessionSignedOut: 'account.sessionSignedOut',
  };

  interface HomeState {
    form?: FormState;
    passwordForm?: FormState;
    deleteForm?: FormState;
    pictureError?: string;
    notice?: string;
    status?: number;
  }

  async function showHome(req: Request, res: Response, user: SessionUser, state: HomeState = {}) {
    const { t, lang } = pageLocals(res);
    const profile = await readProfile(db, user.sub);
    if (!profile) return res.redirect(303, '/account/login');
    const values: Record<string, string> = {
      name: profile.name,
      given_name: profile.givenName ?? '',
      family_name: profile.familyName ?? '',
      picture: profile.picture ?? '',
      birth_date: profile.birthDate ?? '',
      gender: profile.gender ?? '',
      second_email: profile.secondEmail ?? '',
      country: profile.country ?? '',
      preferred_language: profile.preferredLanguage ?? '',
    };
    profile.socials.forEach((s, i) => {
      values[`social_platform_${i}`] = s.platform;
      values[`social_username_${i}`] = s.username;
      values[`social_url_${i}`] = s.url ?? '';
    });
    const form = state.form ?? { values, errors: {} };
    const rows = Math.min(MAX_SOCIALS, Math.max(profile.socials.length, socialRowsIn(form.values)) + 2);
    const when = (date: Date) => date.toLocaleString(lang === 'nl' ? 'nl-NL' : 'en-GB', { dateStyle: 'medium', timeStyle: 'short', timeZone: 'UTC' }) + ' UTC';
    const [sessions, partners] = await Promise.all([listSessions(ctx, user), listPartners(ctx, user.sub)]);
    const noticeKey = typeof req.query.notice === 'string' ? NOTICES[req.query.notice] : undefined;
    renderPage(
      req,
      res,
      'account/home',
      {
        profile: { email: profile.email, emailVerified: profile.emailVerified, picture: profile.picture },
        form,
        passwordForm: state.passwordForm ?? emptyForm(),
        deleteForm: state.deleteForm ?? emptyForm(),
        pictureError: state.pictureError,
        notice: state.notice ?? (noticeKey ? t.strong(noticeKey) : undefined),
        socialRows: Array.from({ length: rows }),
        genders: [{ value: '', label: t('account.genderNone') }, ...GENDERS.map((g) => ({ value: g, label: t(`account.gender${g[0]!.toUpperCase()}${g.slice(1)}` as MessageKey) }))],
        countries: [{ value: '', label: t('account.countryNone') }, ...listCountries(lang).map((c) => ({ value: c.short_name, label: c.name }))],
        languages: [{ value: '', label: t('account.languageNone') }, { value: 'en', label: 'English' }, { value: 'nl', label: 'Nederlands' }],
        platforms: [{ value: '', label: '—' }, ...SOCIAL_PLATFORMS.map((p) => ({ value: p, label: p }))],
        sessions: sessions.map((s) => ({ ...s, createdAt: when(s.createdAt) })),
        partners: partners.map((p) => ({ ...p, lastSignedInAt: when(p.lastSignedInAt) })),
      },
      { status: state.status ?? 200, title: 'account.accountTitle', here: '/account' },
    );
  }

  /** Requires a session: without one, the login page. */
  async function withUser(req: Request, res: Response, then: (user: SessionUser) => Promise<void>) {
    const user = await currentUser(req);
    if (!user) return res.redirect(303, `/account/login?lang=${pageLocals(res).lang}`);
    await then(user);
  }

  router.get('/', (req, res) => withUser(req, res, (user) => showHome(req, res, user)));

  router.post('/profile', (req, res) =>
    withUser(req, res, async (user) => {
      const { t } = pageLocals(res);
      const body = (req.body ?? {}) as Record<string, unknown>;
      const fields = [...PROFILE_FIELDS, ...Array.from({ length: MAX_SOCIALS }, (_, i) => [`social_platform_${i}`, `social_username_${i}`, `social_url_${i}`]).flat()];
      const submitted = Object.fromEntries(fields.map((f) => [f, text(body[f], 4_000).trim()]));
      const socials: { platform: string; username: string; url: string | null }[] = [];
      const socialErrors: Record<string, string> = {};
      for (let i = 0; i < MAX_SOCIALS; i++) {
        const [platform, username, url] = [submitted[`social_platform_${i}`] ?? '', submitted[`social_username_${i}`] ?? '', submitted[`social_url_${i}`] ?? ''];
        if (!platform && !username && !url) continue;
        if (!platform || !username) socialErrors[`social_username_${i}`] = t('account.errorSocial');
        socials.push({ platform, username, url: url || null });
      }
      const change = Object.fromEntries(PROFILE_FIELDS.map((f) => [f, submitted[f] === '' && f !== 'name' ? null : submitted[f]]));
      const parsed = profileUpdateSchema.safeParse({ ...change, socials });
      const errors: Record<string, string> = { ...socialErrors };
      if (!parsed.success) {
        Object.assign(errors, fieldErrors(parsed.error, t, PROFILE_ERRORS));
        // a refused social row: its index is the issue's second path element
        for (const issue of parsed.error.issues) {
          if (issue.path[0] === 'socials' && typeof issue.path[1] === 'number') errors[`social_username_${issue.path[1]}`] = t('account.errorSocial');
        }
        delete errors.socials;
      }
      if (!parsed.success || Object.keys(socialErrors).length > 0) {
        return await showHome(req, res, user, { form: { values: submitted, errors, message: t('account.formHasErrors') }, status: 400 });
      }
      const position = await updateProfile(ctx, req, user, parsed.data);
      await settle(ctx, position);
      res.redirect(303, `/account?notice=profileSaved&lang=${pageLocals(res).lang}`);
    }),
  );

  router.post('/picture', (req, res) =>
    withUser(req, res, async (user) => {
      const { t } = pageLocals(res);
      const upload = uploadedPictureOf(req);
      const refuse = (code: PictureRefusal | 'picture_missing') => showHome(req, res, user, { pictureError: t(PICTURE_MESSAGES[code]), status: code === 'picture_too_large' ? 413 : 400 });
      if (upload?.refusal) return await refuse(upload.refusal);
      if (!upload?.buffer || upload.buffer.length === 0) return await refuse('picture_missing');
      let webp: Buffer;
      try {
        webp = await reencodePicture(upload.buffer);
      } catch (error) {
        if (error instanceof PictureError) return await refuse(error.code);
        throw error;
      }
      const pictureId = await storePicture(db, user.sub, webp, ctx.now());
      const position = await updateProfile(ctx, req, user, profileUpdateSchema.parse({ picture: `${linkBase(ctx, req)}/account/pictures/${pictureId}` }));
      await settle(ctx, position);
      res.redirect(303, `/account?notice=pictureSaved&lang=${pageLocals(res).lang}`);
    }),
  );

  router.post('/password', (req, res) =>
    withUser(req, res, async (user) => {
      const { t, lang } = pageLocals(res);
      const body = (req.body ?? {}) as Record<string, unknown>;
      try {
        await settle(ctx, await changePassword(ctx, req, user, text(body.current_password, 256), text(body.new_password, 1_000)));
      } catch (error) {
        if (!(error instanceof AccountError)) throw error;
        const errors: Record<string, string> =
          error.code === 'weak_password' && error.reason ? { new_password: WEAK_PASSWORD_MESSAGES[lang][error.reason] } : { current_password: t('account.wrongPassword') };
        return await showHome(req, res, user, { passwordForm: { values: {}, errors }, status: 400 });
      }
      res.redirect(303, `/account?notice=passwordChanged&lang=${lang}`);
    }),
  );

  router.post('/sessions/sign-out', (req, res) =>
    withUser(req, res, async (user) => {
      const signedOut = await signOutSession(ctx, req, user, text((req.body as Record<string, unknown>)?.session, 100));
      res.redirect(303, `/account?${signedOut ? 'notice=sessionSignedOut&' : ''}lang=${pageLocals(res).lang}`);
    }),
  );

  router.post('/partners/revoke', (req, res) =>
    withUser(req, res, async (user) => {
      const { t } = pageLocals(res);
      const clientId = text((req.body as Record<string, unknown>)?.client, 100);
      const partner = (await listPartners(ctx, user.sub)).find((p) => p.clientId === clientId);
      if (!partner || !(await revokePartner(ctx, req, user.sub, clientId))) return await showHome(req, res, user, { status: 404 });
      await showHome(req, res, user, { notice: t.strong('account.accessRevoked', { client: partner.name }) });
    }),
  );

  router.post('/delete', (req, res) =>
    withUser(req, res, async (user) => {
      const { t } = pageLocals(res);
      try {
        await settle(ctx, await deleteAccount(ctx, req, user, text((req.body as Record<string, unknown>)?.delete_password, 256)));
      } catch (error) {
        if (!(error instanceof AccountError)) throw error;
        const message = error.code === 'member_of_organisation' ? t('account.memberOfOrganisation') : t('account.wrongPassword');
        return await showHome(req, res, user, { deleteForm: { values: {}, errors: { delete_password: message } }, status: error.code === 'member_of_organisation' ? 409 : 400 });
      }
      clearSessionCookie(res, secureCookie(req));
      notice(req, res, 'account.deletedTitle', 'account.deletedBody');
    }),
  );

  return pages.finish(router);
}

function socialRowsIn(values: Readonly<Record<string, string>>): number {
  let rows = 0;
  for (let i = 0; i < MAX_SOCIALS; i++) if (values[`social_platform_${i}`] || values[`social_username_${i}`] || values[`social_url_${i}`]) rows = i + 1;
  return rows;
}
