import type { Request, Response } from 'express';
import { SCOPES } from '../clients/events.ts';
import { scopesBody, testUserBody, uriBody } from '../clients/routes.ts';
import { clientUsers } from '../signin/management.ts';
import { type FormState, emptyForm, fieldErrors, pageLocals, resubmittedForm } from '../web/layer.ts';
import { type DashboardDeps, type TabName, formCall, manageClient, readClient, renderTab, submit, tabUrl } from './context.ts';

const field = (req: Request, name: string) => (typeof req.body?.[name] === 'string' ? (req.body[name] as string).slice(0, 4_000) : '');

/** Redirect URIs, Scopes, Users (who signed in) and Test users (DESIGN §8). */
export function clientSettingPages(deps: DashboardDeps): void {
  const { router, run, ctx } = deps;
  const clientId = (req: Request) => String(req.params.clientId);
  const show = (tab: TabName, view: string) => (req: Request, res: Response, form: FormState, status = 200, changes?: readonly string[]) =>
    renderTab(deps, req, res, tab, view, { form, scopeNames: SCOPES, frameExtra: { changes } }, status);
  const showRedirects = show('redirects', 'clients/redirects');
  const showScopes = show('scopes', 'clients/scopes');
  const showTestUsers = async (req: Request, res: Response, form: FormState, status = 200, changes?: readonly string[]) => {
    const subs = (await ctx.database.db.selectFrom('users').select(['sub', 'email', 'name']).where('sub', 'in', (await testUserSubs(req)).concat([0])).execute());
    await renderTab(deps, req, res, 'testUsers', 'clients/test-users', { form, people: subs, frameExtra: { changes } }, status);
  };
  const testUserSubs = async (req: Request) =>
    (await ctx.database.rm.selectFrom('test_users').select('user_sub').where('client_id', '=', clientId(req)).execute()).map((r) => r.user_sub);

  // ---- redirect URIs ----
  router.get('/clients/:clientId/redirect-uris', deps.guard(readClient), async (req, res) => await showRedirects(req, res, emptyForm({ idempotent: true })));

  router.post('/clients/:clientId/redirect-uris', deps.guard(manageClient), async (req, res) => {
    const { t } = pageLocals(res);
    const parsed = uriBody.safeParse({ uri: field(req, 'uri').trim() });
    if (!parsed.success) return await showRedirects(req, res, resubmittedForm(req, ['uri'], fieldErrors(parsed.error, t, { uri: 'clients.errorUri' }), t('dashboard.formHasErrors')), 400);
    await submit(deps, req, res, () => run.addRedirectUri(formCall(req), clientId(req), parsed.data.uri), {
      fields: ['uri'],
      done: () => res.redirect(303, tabUrl(clientId(req), 'redirects', 'added')),
      again: (form, status, changes) => showRedirects(req, res, form, status, changes),
      duplicate: () => res.redirect(303, tabUrl(clientId(req), 'redirects', 'already')),
    });
  });

  router.post('/clients/:clientId/redirect-uris/remove', deps.guard(manageClient), async (req, res) => {
    const { t } = pageLocals(res);
    const parsed = uriBody.safeParse({ uri: field(req, 'uri') });
    if (!parsed.success) return await showRedirects(req, res, resubmittedForm(req, [], {}, t('clients.error_redirect_uri_not_found')), 400);
    await submit(deps, req, res, () => run.removeRedirectUri(formCall(req), clientId(req), parsed.data.uri), {
      fields: [],
      done: () => res.redirect(303, tabUrl(clientId(req), 'redirects', 'removed')),
      again: (form, status, changes) => showRedirects(req, res, form, status, changes),
      duplicate: () => res.redirect(303, tabUrl(clientId(req), 'redirects', 'already')),
    });
  });

  // ---- scopes ----
  router.get('/clients/:clientId/scopes', deps.guard(readClient), async (req, res) => await showScopes(req, res, emptyForm({ idempotent: true })));

  router.post('/clients/:clientId/scopes', deps.guard(manageClient), async (req, res) => {
    const { t } = pageLocals(res);
    const chosen = ([] as unknown[]).concat(req.body?.scopes ?? []).filter((s): s is string => typeof s === 'string');
    const parsed = scopesBody.safeParse({ scopes: chosen });
    if (!parsed.success) return await showScopes(req, res, resubmittedForm(req, [], {}, t('clients.errorScopes')), 400);
    await submit(deps, req, res, () => run.changeScopes(formCall(req), clientId(req), parsed.data.scopes), {
      fields: [],
      done: () => res.redirect(303, tabUrl(clientId(req), 'scopes', 'saved')),
      again: (form, status, changes) => showScopes(req, res, form, status, changes),
    });
  });

  // ---- users who signed in ----
  router.get('/clients/:clientId/users', deps.guard(readClient), async (req, res) =>
    await renderTab(deps, req, res, 'users', 'clients/users', { people: await clientUsers(ctx.database.db, clientId(req), 200) }),
  );

  // ---- test users ----
  router.get('/clients/:clientId/test-users', deps.guard(readClient), async (req, res) => await showTestUsers(req, res, emptyForm({ idempotent: true })));

  router.post('/clients/:clientId/test-users', deps.guard(manageClient), async (req, res) => {
    const { t } = pageLocals(res);
    const parsed = testUserBody.safeParse({ email: field(req, 'email') });
    if (!parsed.success) return await showTestUsers(req, res, resubmittedForm(req, ['email'], fieldErrors(parsed.error, t, { email: 'dashboard.errorEmail' }), t('dashboard.formHasErrors')), 400);
    await submit(deps, req, res, () => run.addTestUser(formCall(req), clientId(req), parsed.data.email), {
      fields: ['email'],
      done: () => res.redirect(303, tabUrl(clientId(req), 'testUsers', 'added')),
      again: (form, status, changes) => showTestUsers(req, res, form, status, changes),
      duplicate: () => res.redirect(303, tabUrl(clientId(req), 'testUsers', 'already')),
    });
  });

  router.post('/clients/:clientId/test-users/:sub/remove', deps.guard(manageClient), async (req, res) => {
    const sub = Number(req.params.sub);
    if (!Number.isSafeInteger(sub) || sub <= 0) return res.redirect(303, tabUrl(clientId(req), 'testUsers'));
    await submit(deps, req, res, () => run.removeTestUser(formCall(req), clientId(req), sub), {
      fields: [],
      done: () => res.redirect(303, tabUrl(clientId(req), 'testUsers', 'removed')),
      again: (form, status, changes) => showTestUsers(req, res, form, status, changes),
      duplicate: () => res.redirect(303, tabUrl(clientId(req), 'testUsers', 'already')),
    });
  });
}
