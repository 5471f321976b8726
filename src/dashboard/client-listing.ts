import type { Request, Response } from 'express';
import { PROJECT_CATEGORIES } from '../clients/events.ts';
import { MAX_LISTING_CATEGORIES, listingBody, toListing } from '../clients/listing.ts';
import { type FormState, emptyForm, fieldErrors, pageLocals, resubmittedForm } from '../web/layer.ts';
import { type DashboardDeps, formCall, manageClient, readClient, renderTab, submit } from './context.ts';

const text = (req: Request, name: string) => (typeof req.body?.[name] === 'string' ? (req.body[name] as string).slice(0, 4_000) : '');

/**
 * The client's entry in the public directory (`GET /api/global/projects`), from its Overview:
 * list or change it, or take it out — the same command as `PUT/DELETE /manage/v1/clients/:id/listing`.
 */
export function clientListingPages(deps: DashboardDeps): void {
  const { router, run, ctx } = deps;
  const clientId = (req: Request) => String(req.params.clientId);
  const here = (req: Request, done?: 'saved' | 'removed') => `/dashboard/clients/${encodeURIComponent(clientId(req))}/listing${done ? `?done=${done}` : ''}`;

  async function show(req: Request, res: Response, form: FormState, status = 200, changes?: readonly string[]) {
    const { lang } = pageLocals(res);
    const listing = await ctx.database.rm.selectFrom('client_listings').selectAll().where('client_id', '=', clientId(req)).executeTakeFirst();
    const current = listing?.listed ? listing : undefined;
    await renderTab(
      deps,
      req,
      res,
      'overview',
      'clients/listing',
      {
        form,
        listed: current !== undefined,
        // what the form shows first: the listing as it is, unless the user typed something
        saved: current ? { title: current.title, description: current.description, image: current.image ?? '' } : {},
        chosen: form.values.categories !== undefined ? String(form.values.categories).split(',') : ((current?.categories as string[] | undefined) ?? []),
        direct: form.values.directRedirect !== undefined ? form.values.directRedirect === 'on' : (current?.direct_redirect ?? false),
        categories: PROJECT_CATEGORIES.map((c) => ({ key: c.key, name: c[lang] })),
        maxCategories: MAX_LISTING_CATEGORIES,
        frameExtra: { changes },
      },
      status,
    );
  }

  router.get('/clients/:clientId/listing', deps.guard(readClient), async (req, res) => await show(req, res, emptyForm({ idempotent: true })));

  router.post('/clients/:clientId/listing', deps.guard(manageClient), async (req, res) => {
    const { t } = pageLocals(res);
    const categories = ([] as unknown[]).concat(req.body?.categories ?? []).filter((c): c is string => typeof c === 'string').slice(0, 20);
    const image = text(req, 'image').trim();
    const parsed = listingBody.safeParse({
      title: text(req, 'title'),
      description: text(req, 'description'),
      categories,
      ...(image ? { image } : {}),
      directRedirect: text(req, 'directRedirect') === 'on',
    });
    const typed = () => {
      const form = resubmittedForm(req, ['title', 'description', 'image', 'directRedirect'], {}, '');
      return { ...form, values: { ...form.values, categories: categories.join(','), directRedirect: text(req, 'directRedirect') === 'on' ? 'on' : 'off' } };
    };
    if (!parsed.success) {
      const errors = fieldErrors(parsed.error, t, {
        title: 'clients.errorListingTitle',
        description: 'clients.errorListingDescription',
        image: 'clients.errorListingImage',
        categories: 'clients.errorListingCategories',
      });
      return await show(req, res, { ...typed(), errors, message: t('dashboard.formHasErrors') }, 400);
    }
    await submit(deps, req, res, () => run.changeListing(formCall(req), clientId(req), toListing(parsed.data)), {
      fields: ['title', 'description', 'image'],
      done: () => res.redirect(303, here(req, 'saved')),
      again: (form, status, changes) => show(req, res, form, status, changes),
      duplicate: () => res.redirect(303, here(req, 'saved')),
    });
  });

  router.post('/clients/:clientId/listing/remove', deps.guard(manageClient), async (req, res) => {
    await submit(deps, req, res, () => run.changeListing(formCall(req), clientId(req), null), {
      fields: [],
      done: () => res.redirect(303, here(req, 'removed')),
      again: (form, status, changes) => show(req, res, form, status, changes),
      duplicate: () => res.redirect(303, here(req, 'removed')),
    });
  });
}
