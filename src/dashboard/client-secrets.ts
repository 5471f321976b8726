import type { Request, Response } from 'express';
import { z } from 'zod';
import { issueSecretBody } from '../clients/routes.ts';
import { type FormState, emptyForm, fieldErrors, pageLocals, resubmittedForm } from '../web/layer.ts';
import { type DashboardDeps, formCall, manageSecret, readClient, renderTab, submit, tabUrl } from './context.ts';
import { showSecret } from './client-list.ts';

const ISSUE_FIELDS = ['label', 'expiresOn'] as const;
/** The grace period as people think of it (minutes); the command takes seconds, up to 30 days. */
const rotateForm = z.strictObject({ graceMinutes: z.coerce.number().int().min(0).max(30 * 24 * 60) });
const DATE = /^\d{4}-\d{2}-\d{2}$/;

/** Secrets: issue with label and expiry, rotate with a grace period, revoke, link to domains, last used (DESIGN §8). */
export function clientSecretPages(deps: DashboardDeps): void {
  const { router, run, ctx } = deps;
  const clientId = (req: Request) => String(req.params.clientId);
  const secretId = (req: Request) => String(req.params.secretId);
  const name = async (req: Request) =>
    (await ctx.database.rm.selectFrom('clients').select('name').where('client_id', '=', clientId(req)).executeTakeFirst())?.name ?? '';

  const showList = (req: Request, res: Response, form: FormState, status = 200, changes?: readonly string[]) =>
    renderTab(deps, req, res, 'secrets', 'clients/secrets', { form, frameExtra: { changes } }, status);
  const showSecretPage = (view: 'secret-detail' | 'rotate' | 'revoke') => (req: Request, res: Response, form: FormState, status = 200, changes?: readonly string[]) =>
    renderTab(deps, req, res, 'secrets', `clients/${view}`, { form, secretId: secretId(req), now: ctx.now().getTime(), frameExtra: { changes } }, status);

  router.get('/clients/:clientId/secrets', deps.guard(readClient), async (req, res) => await showList(req, res, emptyForm({ idempotent: true })));

  router.post('/clients/:clientId/secrets', deps.guard(manageSecret), async (req, res) => {
    const { t } = pageLocals(res);
    const body = (req.body ?? {}) as Record<string, unknown>;
    const label = typeof body.label === 'string' && body.label.trim() !== '' ? body.label : undefined;
    const expiresOn = typeof body.expiresOn === 'string' ? body.expiresOn.trim() : '';
    const domains = ([] as unknown[]).concat(body.domains ?? []).filter((d): d is string => typeof d === 'string');
    const errors: Record<string, string> = {};
    if (expiresOn !== '' && !DATE.test(expiresOn)) errors.expiresOn = t('clients.errorDate');
    const parsed = issueSecretBody.safeParse({
      ...(label !== undefined ? { label } : {}),
      ...(expiresOn !== '' && DATE.test(expiresOn) ? { expiresAt: `${expiresOn}T23:59:59Z` } : {}),
      ...(domains.length > 0 ? { domains } : {}),
    });
    if (!parsed.success) Object.assign(errors, fieldErrors(parsed.error, t, { label: 'clients.errorLabel', expiresAt: 'clients.errorDate' }));
    if (errors.expiresAt) errors.expiresOn = errors.expiresAt;
    if (!parsed.success || Object.keys(errors).length > 0) return await showList(req, res, resubmittedForm(req, ISSUE_FIELDS, errors, t('dashboard.formHasErrors')), 400);
    await submit(deps, req, res, () => run.issueSecret(formCall(req), clientId(req), parsed.data), {
      fields: ISSUE_FIELDS,
      done: async (issued) =>
        showSecret(req, res, { clientId: clientId(req), clientName: await name(req), ...issued, next: tabUrl(clientId(req), 'secrets'), heading: 'clients.issuedHeading' }),
      again: (form, status, changes) => showList(req, res, form, status, changes),
      duplicate: () => res.redirect(303, tabUrl(clientId(req), 'secrets', 'already')),
    });
  });

  router.get('/clients/:clientId/secrets/:secretId', deps.guard(readClient), async (req, res) => await showSecretPage('secret-detail')(req, res, emptyForm({ idempotent: true })));

  router.post('/clients/:clientId/secrets/:secretId/links', deps.guard(manageSecret), async (req, res) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const domainId = typeof body.domainId === 'string' ? body.domainId.slice(0, 100) : '';
    const linked = body.link === '1';
    await submit(deps, req, res, () => run.linkSecret(formCall(req), clientId(req), domainId, secretId(req), linked), {
      fields: [],
      done: () => res.redirect(303, `${tabUrl(clientId(req), 'secrets')}/${encodeURIComponent(secretId(req))}?done=${linked ? 'linked' : 'unlinked'}`),
      again: (form, status, changes) => showSecretPage('secret-detail')(req, res, form, status, changes),
      duplicate: () => res.redirect(303, `${tabUrl(clientId(req), 'secrets')}/${encodeURIComponent(secretId(req))}?done=already`),
    });
  });

  router.get('/clients/:clientId/secrets/:secretId/rotate', deps.guard(manageSecret), async (req, res) =>
    await showSecretPage('rotate')(req, res, { ...emptyForm({ idempotent: true }), values: { graceMinutes: '0' } }),
  );

  router.post('/clients/:clientId/secrets/:secretId/rotate', deps.guard(manageSecret), async (req, res) => {
    const { t } = pageLocals(res);
    const parsed = rotateForm.safeParse({ graceMinutes: typeof req.body?.graceMinutes === 'string' && req.body.graceMinutes.trim() !== '' ? req.body.graceMinutes : '0' });
    if (!parsed.success) {
      return await showSecretPage('rotate')(req, res, resubmittedForm(req, ['graceMinutes'], fieldErrors(parsed.error, t, { graceMinutes: 'clients.errorGrace' }), t('dashboard.formHasErrors')), 400);
    }
    await submit(deps, req, res, () => run.rotateSecret(formCall(req), clientId(req), secretId(req), parsed.data.graceMinutes * 60), {
      fields: ['graceMinutes'],
      done: async (rotated) =>
        showSecret(req, res, {
          clientId: clientId(req),
          clientName: await name(req),
          secretId: rotated.secretId,
          secret: rotated.secret,
          hint: rotated.hint,
          label: rotated.label ?? '',
          next: tabUrl(clientId(req), 'secrets'),
          heading: 'clients.rotatedHeading',
        }),
      again: (form, status, changes) => showSecretPage('rotate')(req, res, form, status, changes),
      duplicate: () => res.redirect(303, tabUrl(clientId(req), 'secrets', 'already')),
    });
  });

  router.get('/clients/:clientId/secrets/:secretId/revoke', deps.guard(manageSecret), async (req, res) => await showSecretPage('revoke')(req, res, emptyForm({ idempotent: true })));

  router.post('/clients/:clientId/secrets/:secretId/revoke', deps.guard(manageSecret), async (req, res) => {
    await submit(deps, req, res, () => run.revokeSecret(formCall(req), clientId(req), secretId(req)), {
      fields: [],
      done: () => res.redirect(303, tabUrl(clientId(req), 'secrets', 'revoked')),
      again: (form, status, changes) => showSecretPage('revoke')(req, res, form, status, changes),
      duplicate: () => res.redirect(303, tabUrl(clientId(req), 'secrets', 'already')),
    });
  });
}
