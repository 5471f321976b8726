import type { Request, Response } from 'express';
import { accountOf } from '../accounts/sessions.ts';
import { listClients } from '../clients/queries.ts';
import { clientIdFor } from '../clients/commands.ts';
import { nameBody } from '../clients/routes.ts';
import { type FormState, assetUrl, emptyForm, fieldErrors, pageLocals, renderPage, resubmittedForm } from '../web/layer.ts';
import { type DashboardDeps, canOf, dashboardStyles, formCall, manageClient, readClient, submit, tabUrl } from './context.ts';

/** The secret, shown once: in the answer to the form that made it, never stored, logged or shown again. */
export interface ShownSecret {
  readonly clientId: string;
  readonly clientName: string;
  readonly secretId: string;
  readonly secret: string;
  readonly hint: string;
  readonly label: string;
  /** where "I have stored it" leads */
  readonly next: string;
  readonly heading: 'clients.createdHeading' | 'clients.issuedHeading' | 'clients.rotatedHeading';
}

export function showSecret(req: Request, res: Response, shown: ShownSecret): void {
  renderPage(req, res, 'clients/secret', { shown, scripts: [assetUrl('dashboard/copy.js')], styles: dashboardStyles() }, { status: 201, title: shown.heading, here: shown.next });
}

/** Clients: the list and the create form (DESIGN §8 GET/POST /clients). */
export function clientListPages(deps: DashboardDeps): void {
  const { router, run, ctx } = deps;

  async function showList(req: Request, res: Response, form: FormState, status = 200) {
    const account = accountOf(req);
    const clients = await listClients(ctx.database.rm, account.organisationId);
    renderPage(req, res, 'clients/list', { clients, form, can: canOf(account), styles: dashboardStyles() }, { status, title: 'dashboard.clientsHeading', here: '/dashboard' });
  }

  // a visitor without a session saw the login page here (pages.ts)
  router.get('/', deps.guard(readClient), async (req, res) => await showList(req, res, emptyForm({ idempotent: true })));

  router.get('/clients', deps.guard(readClient), (_req, res) => res.redirect(303, '/dashboard'));

  router.post('/clients', deps.guard(manageClient), async (req, res) => {
    const { t } = pageLocals(res);
    const fields = ['name'];
    const parsed = nameBody.safeParse({ name: typeof req.body?.name === 'string' ? req.body.name : '' });
    if (!parsed.success) return await showList(req, res, resubmittedForm(req, fields, fieldErrors(parsed.error, t, { name: 'clients.errorName' }), t('dashboard.formHasErrors')), 400);
    const call = formCall(req);
    await submit(deps, req, res, () => run.createClient(call, parsed.data.name), {
      fields,
      done: (created) =>
        showSecret(req, res, {
          clientId: created.clientId,
          clientName: created.name,
          ...created.secret,
          next: tabUrl(created.clientId, 'overview'),
          heading: 'clients.createdHeading',
        }),
      again: (form, status) => showList(req, res, form, status),
      // the first submit created it (and showed its secret): go to it
      duplicate: () => res.redirect(303, tabUrl(clientIdFor(call.account.organisationId, call.key ?? ''), 'overview', 'already')),
    });
  });
}
