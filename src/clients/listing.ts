import { z } from 'zod';
import type { Kysely } from 'kysely';
import type { ReadModelDatabase } from '../db/schema.ts';
import { PROJECT_CATEGORIES, type ClientListing, type ProjectCategory } from './events.ts';
import { forbiddenCharacter, logoSchema, nameSchema } from './validation.ts';

/**
 * The public directory: clients whose owners list them (`PUT /manage/v1/clients/:clientId/listing`),
 * shown by `GET /api/global/projects` in XWMS's documented shape.
 */

export const MAX_LISTING_CATEGORIES = 3;
const CATEGORY_KEYS = PROJECT_CATEGORIES.map((c) => c.key) as [ProjectCategory, ...ProjectCategory[]];

/** Body of `PUT /manage/v1/clients/:clientId/listing`. */
export const listingBody = z.strictObject({
  title: nameSchema,
  description: z
    .string({ error: 'description must be a string' })
    .transform((v) => v.trim().normalize('NFC'))
    .refine((v) => v.length > 0 && [...v].length <= 500, 'description must be 1 to 500 characters')
    .refine((v) => !forbiddenCharacter(v.replace(/\n/g, ' ')), 'description must not contain control or invisible formatting characters'),
  categories: z
    .array(z.enum(CATEGORY_KEYS, { error: `category must be one of: ${CATEGORY_KEYS.join(', ')}` }), { error: 'categories must be a list' })
    .max(MAX_LISTING_CATEGORIES, `at most ${MAX_LISTING_CATEGORIES} categories`)
    .optional()
    .transform((v) => [...new Set(v ?? [])]),
  image: logoSchema.optional().transform((v) => v ?? null),
  directRedirect: z.boolean({ error: 'directRedirect must be true or false' }).optional().transform((v) => v ?? false),
});
export const listingView = z.object({
  title: z.string(),
  description: z.string(),
  categories: z.array(z.enum(CATEGORY_KEYS)),
  image: z.string().nullable(),
  directRedirect: z.boolean(),
});
/** Answer of PUT / DELETE …/listing. */
export const listingAnswer = z.object({ listing: listingView.nullable(), position: z.string().nullable() });

export const toListing = (body: z.output<typeof listingBody>): ClientListing => body;

// ---- the directory --------------------------------------------------------------------------

export const PROJECT_LANGUAGES = ['en', 'nl'] as const;
/** How long a newly published entry counts as `is_new`. */
export const NEW_FOR_DAYS = 30;

/** One entry of `GET /api/global/projects`, as XWMS documents it. */
export const projectSchema = z.object({
  id: z.number().int(),
  title: z.string(),
  description: z.string(),
  image: z.string().nullable(),
  link: z.string(),
  is_new: z.boolean(),
  direct_redirect: z.boolean(),
  published_at: z.string(),
  categories: z.array(z.object({ id: z.number().int(), name: z.string() })),
});
export const projectsData = z.object({ projects: z.array(projectSchema) });
export type Project = z.output<typeof projectSchema>;

/**
 * Listed clients that a visitor can actually reach: the client active, its organisation's plan
 * active, and its primary domain active and live (not test mode). Newest first.
 */
export async function listProjects(rm: Kysely<ReadModelDatabase>, now: Date, lang: (typeof PROJECT_LANGUAGES)[number]): Promise<Project[]> {
  const rows = await rm
    .selectFrom('client_listings as l')
    .innerJoin('clients as c', 'c.client_id', 'l.client_id')
    .innerJoin('organisations as o', 'o.organisation_id', 'c.organisation_id')
    .innerJoin('client_domains as d', (join) => join.onRef('d.client_id', '=', 'l.client_id').on('d.primary', '=', true))
    .select(['l.project_id', 'l.title', 'l.description', 'l.image', 'l.direct_redirect', 'l.published_at', 'l.categories', 'd.domain', 'd.logo'])
    .where('l.listed', '=', true)
    .where('c.status', '=', 'active')
    .where('o.plan_status', '=', 'active')
    .where('d.active', '=', true)
    .where('d.test_mode', '=', false)
    .orderBy('l.published_at', 'desc')
    .orderBy('l.project_id', 'desc')
    .limit(500)
    .execute();
  const newSince = now.getTime() - NEW_FOR_DAYS * 86_400_000;
  return rows.map((row) => ({
    id: Number(row.project_id),
    title: row.title,
    description: row.description,
    image: row.image ?? row.logo,
    link: `https://${row.domain}/`,
    is_new: row.published_at.getTime() >= newSince,
    direct_redirect: row.direct_redirect,
    published_at: row.published_at.toISOString(),
    categories: row.categories.flatMap((key) => {
      const category = PROJECT_CATEGORIES.find((c) => c.key === key);
      return category ? [{ id: category.id, name: category[lang] }] : [];
    }),
  }));
}
