import type { Request, Response } from 'express';
import { addDomainBody, updateDomainBody } from '../clients/routes.ts';
import { type FormState, type MessageKey, emptyForm, fieldErrors, pageLocals, resubmittedForm } from '../web/layer.ts';
import { type DashboardDeps, formCall, manageClient, readClient, renderTab, submit, tabUrl } from './context.ts';

export const DOMAIN_TOGGLES = ['active', 'allowLogin', 'allowApi', 'testMode', 'primary'] as const;
const DOMAIN_FIELDS = ['domain', 'serverIps', 'internalName', 'logo', 'fallbackUri', ...DOMAIN_TOGGLES] as const;
const ERRORS: Record<string, MessageKey> = {
  domain: 'clients.errorDomain',
  serverIps: 'clients.errorServerIps',
  internalName: 'clients.errorInternalName',
  logo: 'clients.errorUrl',
  fallbackUri: 'clients.errorUrl',
};

const text = (body: Record<string, unknown>, field: string) => (typeof body[field] === 'string' ? (body[field] as string).slice(0, 4_000) : '');

/** A domain form as the API's body: one IP or range a line (or comma), unchecked boxes are false, blank URLs clear. */
function domainInput(req: Request) {
  const body = (req.body ?? {}) as Record<string, unknown>;
  const ips = text(body, 'serverIps').split(/[\s,]+/).filter((ip) => ip !== '');
  const blankIsNull = (field: string) => (text(body, field).trim() === '' ? null : text(body, field).trim());
  return {
    domain: text(body, 'domain'),
    serverIps: ips,
    internalName: blankIsNull('internalName'),
    logo: blankIsNull('logo'),
    fallbackUri: blankIsNull('fallbackUri'),
    ...Object.fromEntries(DOMAIN_TOGGLES.map((toggle) => [toggle, body[toggle] === 'on'])),
  };
}

/** Domains: add, the toggles, server IPs, internal name, logo, fallback URI, remove (DESIGN §8). */
export function clientDomainPages(deps: DashboardDeps): void {
  const { router, run } = deps;
  const clientId = (req: Request) => String(req.params.clientId);
  const domainId = (req: Request) => String(req.params.domainId);

  const showList = (req: Request, res: Response, form: FormState, status = 200, changes?: readonly string[]) =>
    renderTab(deps, req, res, 'domains', 'clients/domains', { form, frameExtra: { changes } }, status);
  const showDomain = (req: Request, res: Response, form: FormState, status = 200, changes?: readonly string[]) =>
    renderTab(deps, req, res, 'domains', 'clients/domain', { form, domainId: domainId(req), frameExtra: { changes } }, status);
  const showRemove = (req: Request, res: Response, form: FormState, status = 200, changes?: readonly string[]) =>
    renderTab(deps, req, res, 'domains', 'clients/domain-remove', { form, domainId: domainId(req), frameExtra: { changes } }, status);

  router.get('/clients/:clientId/domains', deps.guard(readClient), async (req, res) => await showList(req, res, emptyForm({ idempotent: true })));

  router.post('/clients/:clientId/domains', deps.guard(manageClient), async (req, res) => {
    const { t } = pageLocals(res);
    const input = domainInput(req);
    const parsed = addDomainBody.safeParse({
      ...input,
      internalName: input.internalName ?? undefined,
      logo: input.logo ?? undefined,
      fallbackUri: input.fallbackUri ?? undefined,
    });
    if (!parsed.success) return await showList(req, res, resubmittedForm(req, DOMAIN_FIELDS, fieldErrors(parsed.error, t, ERRORS), t('dashboard.formHasErrors')), 400);
    await submit(deps, req, res, () => run.addDomain(formCall(req), clientId(req), parsed.data), {
      fields: DOMAIN_FIELDS,
      done: () => res.redirect(303, tabUrl(clientId(req), 'domains', 'added')),
      again: (form, status, changes) => showList(req, res, form, status, changes),
      duplicate: () => res.redirect(303, tabUrl(clientId(req), 'domains', 'already')),
    });
  });

  router.get('/clients/:clientId/domains/:domainId', deps.guard(readClient), async (req, res) => await showDomain(req, res, emptyForm({ idempotent: true })));

  router.post('/clients/:clientId/domains/:domainId', deps.guard(manageClient), async (req, res) => {
    const { t } = pageLocals(res);
    const parsed = updateDomainBody.safeParse(domainInput(req));
    if (!parsed.success) return await showDomain(req, res, resubmittedForm(req, DOMAIN_FIELDS, fieldErrors(parsed.error, t, ERRORS), t('dashboard.formHasErrors')), 400);
    await submit(deps, req, res, () => run.updateDomain(formCall(req), clientId(req), domainId(req), parsed.data), {
      fields: DOMAIN_FIELDS,
      done: () => res.redirect(303, tabUrl(clientId(req), 'domains', 'saved')),
      again: (form, status, changes) => showDomain(req, res, form, status, changes),
      duplicate: () => res.redirect(303, tabUrl(clientId(req), 'domains', 'already')),
    });
  });

  router.get('/clients/:clientId/domains/:domainId/remove', deps.guard(manageClient), async (req, res) => await showRemove(req, res, emptyForm({ idempotent: true })));

  router.post('/clients/:clientId/domains/:domainId/remove', deps.guard(manageClient), async (req, res) => {
    await submit(deps, req, res, () => run.removeDomain(formCall(req), clientId(req), domainId(req)), {
      fields: [],
      done: () => res.redirect(303, tabUrl(clientId(req), 'domains', 'removed')),
      again: (form, status, changes) => showRemove(req, res, form, status, changes),
      duplicate: () => res.redirect(303, tabUrl(clientId(req), 'domains', 'already')),
    });
  });
}
