import type { Request, Response } from 'express';
import { nameBody } from '../clients/routes.ts';
import { type FormState, emptyForm, fieldErrors, pageLocals, resubmittedForm } from '../web/layer.ts';
import { type DashboardDeps, deleteClient, formCall, manageClient, readClient, renderTab, submit, tabUrl } from './context.ts';

type Confirmable = 'disable' | 'enable' | 'delete';

/** A client's Overview (status, plan limits used), and renaming, disabling, enabling, deleting it, each after a step that says what will happen. */
export function clientOverviewPages(deps: DashboardDeps): void {
  const { router, run } = deps;
  const clientId = (req: Request) => String(req.params.clientId);

  router.get('/clients/:clientId', deps.guard(readClient), async (req, res) => await renderTab(deps, req, res, 'overview', 'clients/overview'));

  const showRename = (req: Request, res: Response, form: FormState, status = 200, changes?: readonly string[]) =>
    renderTab(deps, req, res, 'overview', 'clients/rename', { form, frameExtra: { changes } }, status);

  router.get('/clients/:clientId/rename', deps.guard(manageClient), async (req, res) => await showRename(req, res, emptyForm({ idempotent: true })));

  router.post('/clients/:clientId/rename', deps.guard(manageClient), async (req, res) => {
    const { t } = pageLocals(res);
    const parsed = nameBody.safeParse({ name: typeof req.body?.name === 'string' ? req.body.name : '' });
    if (!parsed.success) return await showRename(req, res, resubmittedForm(req, ['name'], fieldErrors(parsed.error, t, { name: 'clients.errorName' }), t('dashboard.formHasErrors')), 400);
    await submit(deps, req, res, () => run.renameClient(formCall(req), clientId(req), parsed.data.name), {
      fields: ['name'],
      done: () => res.redirect(303, tabUrl(clientId(req), 'overview', 'renamed')),
      again: (form, status, changes) => showRename(req, res, form, status, changes),
    });
  });

  const showConfirm = (req: Request, res: Response, action: Confirmable, form: FormState, status = 200, changes?: readonly string[]) =>
    renderTab(deps, req, res, 'overview', 'clients/confirm', { form, action, frameExtra: { changes } }, status);

  for (const action of ['disable', 'enable', 'delete'] as const) {
    const need = action === 'delete' ? deleteClient : manageClient;
    router.get(`/clients/:clientId/${action}`, deps.guard(need), async (req, res) => await showConfirm(req, res, action, emptyForm({ idempotent: true })));
    router.post(`/clients/:clientId/${action}`, deps.guard(need), async (req, res) => {
      const call = formCall(req);
      await submit(
        deps,
        req,
        res,
        () => (action === 'delete' ? run.deleteClient(call, clientId(req)) : run.setClientEnabled(call, clientId(req), action === 'enable')),
        {
          fields: [],
          done: () => res.redirect(303, action === 'delete' ? '/dashboard' : tabUrl(clientId(req), 'overview', action === 'enable' ? 'enabled' : 'disabled')),
          again: (form, status, changes) => showConfirm(req, res, action, form, status, changes),
          duplicate: () => res.redirect(303, action === 'delete' ? '/dashboard' : tabUrl(clientId(req), 'overview', 'already')),
        },
      );
    });
  }
}
