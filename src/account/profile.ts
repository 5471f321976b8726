import { type Kysely, sql } from 'kysely';
import { z } from 'zod';
import type { CoreDatabase } from '../db/schema.ts';
import { nameSchema, normaliseDisplayText, profileUrlSchema } from '../clients/validation.ts';
import { isCountryCode } from '../users/countries.ts';
import type { ProfileField } from './events.ts';

export const GENDERS = ['female', 'male', 'other'] as const;
export const PROFILE_LANGUAGES = ['en', 'nl'] as const;
export const MAX_SOCIALS = 10;

/** What /account shows and edits. Ordinary rows: erasable, never in events. */
export interface EditableProfile {
  readonly name: string;
  readonly email: string;
  readonly emailVerified: boolean;
  readonly given_name: string | null;
  readonly family_name: string | null;
  readonly picture: string | null;
  readonly birth_date: string | null;
  readonly gender: string | null;
  readonly second_email: string | null;
  readonly country: string | null;
  readonly preferred_language: string | null;
  readonly socials: readonly { platform: string; username: string; url: string | null }[];
}

/** Blank means "not given": null. */
const blank = (value: unknown) => (typeof value === 'string' && value.trim() === '' ? null : value);

const optionalText = (what: string) =>
  z.preprocess(
    blank,
    z
      .string()
      .nullable()
      .transform((raw, ctx) => {
        if (raw === null) return null;
        const result = normaliseDisplayText(raw, what);
        if (result.ok) return result.value;
        ctx.addIssue({ code: 'custom', message: result.message });
        return z.NEVER;
      }),
  );

const birthDate = z.preprocess(
  blank,
  z
    .string()
    .regex(/^\d{4}-\d{2}-\d{2}$/, 'birth date must be a date as YYYY-MM-DD')
    .refine((value) => {
      const date = new Date(`${value}T00:00:00Z`);
      return !Number.isNaN(date.getTime()) && date.toISOString().startsWith(value);
    }, 'birth date is not a real date')
    .refine((value) => value >= '1900-01-01', 'birth date must be in 1900 or later')
    .refine((value) => value <= new Date().toISOString().slice(0, 10), 'birth date must not be in the future')
    .nullable(),
);

const email = z.preprocess(
  blank,
  z.string().trim().max(254, 'second email must be at most 254 characters').pipe(z.email('second email must be an email address')).transform((e) => e.toLowerCase()).nullable(),
);

const social = z.object({
  platform: z.string().trim().min(1, 'platform must not be empty').max(50, 'platform must be at most 50 characters').regex(/^[\p{L}\p{N} ._-]+$/u, 'platform may hold letters, digits, spaces, dots, dashes and underscores'),
  username: z.string().trim().min(1, 'username must not be empty').max(100, 'username must be at most 100 characters').refine((v) => !/[\p{Cc}\p{Cf}]/u.test(v), 'username must not contain control characters'),
  url: z.preprocess(blank, profileUrlSchema('social profile URL').nullable()),
});

export const profileSchema = z.strictObject({
  name: nameSchema,
  given_name: optionalText('given name'),
  family_name: optionalText('family name'),
  picture: z.preprocess(blank, profileUrlSchema('picture URL').nullable()),
  birth_date: birthDate,
  gender: z.preprocess(blank, z.enum(GENDERS, { message: `gender must be one of ${GENDERS.join(', ')}` }).nullable()),
  second_email: email,
  country: z.preprocess(
    (v) => (typeof blank(v) === 'string' ? (v as string).trim().toUpperCase() : blank(v)),
    z.string().refine(isCountryCode, 'country must be an ISO 3166-1 alpha-2 code, e.g. NL').nullable(),
  ),
  preferred_language: z.preprocess(blank, z.enum(PROFILE_LANGUAGES, { message: 'preferred language must be en or nl' }).nullable()),
  socials: z.array(social).max(MAX_SOCIALS, `at most ${MAX_SOCIALS} social profiles`),
});

export type ProfileInput = z.output<typeof profileSchema>;

export async function readProfile(db: Kysely<CoreDatabase>, sub: number): Promise<EditableProfile | undefined> {
  const row = await db
    .selectFrom('users')
    .select([
      'name',
      'email',
      'email_verified',
      'given_name',
      'family_name',
      'picture',
      'gender',
      'second_email',
      'country',
      'preferred_language',
      sql<string | null>`to_char(birth_date, 'YYYY-MM-DD')`.as('birth_date'),
    ])
    .where('sub', '=', sub)
    .executeTakeFirst();
  if (!row) return undefined;
  const socials = await db.selectFrom('user_socials').select(['platform', 'username', 'url']).where('user_sub', '=', sub).orderBy('position').execute();
  const { email_verified, ...rest } = row;
  return { ...rest, emailVerified: email_verified, socials };
}

/** Which fields a change touches (by name only: what an event may say). */
export function changedFields(before: EditableProfile, after: ProfileInput): ProfileField[] {
  const fields: ProfileField[] = [];
  for (const field of ['name', 'given_name', 'family_name', 'picture', 'birth_date', 'gender', 'second_email', 'country', 'preferred_language'] as const) {
    if ((before[field] ?? null) !== (after[field] ?? null)) fields.push(field);
  }
  if (JSON.stringify(before.socials) !== JSON.stringify(after.socials.map((s) => ({ platform: s.platform, username: s.username, url: s.url ?? null })))) fields.push('socials');
  return fields;
}

/** Writes the whole profile in one transaction (the row and its social profiles). */
export async function writeProfile(db: Kysely<CoreDatabase>, sub: number, profile: ProfileInput): Promise<void> {
  await db.transaction().execute(async (tx) => {
    await tx
      .updateTable('users')
      .set({
        name: profile.name,
        given_name: profile.given_name,
        family_name: profile.family_name,
        picture: profile.picture,
        birth_date: profile.birth_date,
        gender: profile.gender,
        second_email: profile.second_email,
        country: profile.country,
        preferred_language: profile.preferred_language,
      })
      .where('sub', '=', sub)
      .execute();
    await tx.deleteFrom('user_socials').where('user_sub', '=', sub).execute();
    if (profile.socials.length > 0) {
      await tx
        .insertInto('user_socials')
        .values(profile.socials.map((s, position) => ({ user_sub: sub, position, platform: s.platform, username: s.username, url: s.url ?? null })))
        .execute();
    }
  });
}
