import { type Kysely, sql } from 'kysely';
import { z } from 'zod';
import type { CoreDatabase } from '../db/schema.ts';
import { forbiddenCharacter } from '../clients/validation.ts';
import { toAlpha2 } from './countries.ts';

/**
 * The end user's profile: what `get/user/info` and `sign-token-verify` return. Ordinary rows
 * (the `users` row and `user_socials`), erasable, never in events (DESIGN §4).
 *
 * Read with `readProfile`; write with `updateProfile` (validated by `profileUpdateSchema`, one
 * transaction, socials replaced as a whole) and `setEmailVerified`. The /account pages write
 * through these two and nothing else, so the partner API and the pages never disagree on what a
 * field may hold.
 */

export const GENDERS = ['male', 'female', 'other'] as const;
export type Gender = (typeof GENDERS)[number];
export const PROFILE_LANGUAGES = ['en', 'nl'] as const;
export type ProfileLanguage = (typeof PROFILE_LANGUAGES)[number];
/** Platforms a social profile may name (XWMS documents `instagram`; the rest are the common ones). */
export const SOCIAL_PLATFORMS = ['instagram', 'facebook', 'x', 'tiktok', 'youtube', 'linkedin', 'github', 'mastodon', 'bluesky', 'website'] as const;
export type SocialPlatform = (typeof SOCIAL_PLATFORMS)[number];
export const MAX_SOCIALS = 10;

export interface Social {
  readonly platform: SocialPlatform;
  readonly username: string;
  readonly url: string | null;
}

export interface Profile {
  readonly sub: number;
  readonly name: string;
  readonly email: string;
  readonly emailVerified: boolean;
  readonly givenName: string | null;
  readonly familyName: string | null;
  /** an http(s) URL */
  readonly picture: string | null;
  /** YYYY-MM-DD */
  readonly birthDate: string | null;
  readonly gender: Gender | null;
  readonly secondEmail: string | null;
  /** ISO 3166-1 alpha-2 */
  readonly country: string | null;
  readonly preferredLanguage: ProfileLanguage | null;
  readonly socials: readonly Social[];
}

// ---- validation (shared by the pages and any API that edits a profile) ----------------------

const textField = (max: number) =>
  z
    .string({ error: 'must be a string or null' })
    .nullable()
    .optional()
    .transform((raw, ctx) => {
      if (raw === undefined || raw === null) return raw;
      const value = raw.trim().normalize('NFC');
      if (value === '') return null;
      if ([...value].length > max) ctx.addIssue({ code: 'custom', message: `must be at most ${max} characters` });
      else if (forbiddenCharacter(value)) ctx.addIssue({ code: 'custom', message: 'must not contain control or invisible formatting characters' });
      return value;
    });

const httpUrl = (max: number) =>
  z
    .string({ error: 'must be an http(s) URL' })
    .trim()
    .max(max, `must be at most ${max} characters`)
    .refine((v) => {
      try {
        const url = new URL(v);
        return (url.protocol === 'https:' || url.protocol === 'http:') && url.hostname !== '' && url.username === '' && url.password === '';
      } catch {
        return false;
      }
    }, 'must be an absolute http(s) URL');

const optionalUrl = (max: number) => httpUrl(max).nullable().optional().or(z.literal('').transform(() => null));

const email = z.string({ error: 'must be an email address' }).trim().max(254, 'must be at most 254 characters').pipe(z.email('must be an email address'));

const birthDate = z
  .string({ error: 'must be a date YYYY-MM-DD' })
  .regex(/^\d{4}-\d{2}-\d{2}$/, 'must be a date YYYY-MM-DD')
  .refine((v) => {
    const date = new Date(`${v}T00:00:00Z`);
    return !Number.isNaN(date.getTime()) && date.toISOString().startsWith(v) && v >= '1900-01-01';
  }, 'must be a real date from 1900 on');

export const socialSchema = z.strictObject({
  platform: z.enum(SOCIAL_PLATFORMS, { error: `must be one of ${SOCIAL_PLATFORMS.join(', ')}` }),
  username: z.string({ error: 'must be a string' }).trim().min(1, 'must not be empty').max(100, 'must be at most 100 characters').refine((v) => !forbiddenCharacter(v), 'must not contain control characters'),
  url: httpUrl(2048).nullable().optional().transform((v) => v ?? null),
});

/** A profile change: absent leaves a field as it is; null (or "") clears it. `socials` replaces the list. */
export const profileUpdateSchema = z.strictObject({
  name: z.string({ error: 'must be a string' }).trim().min(1, 'must not be empty').max(100, 'must be at most 100 characters').optional(),
  given_name: textField(100),
  family_name: textField(100),
  picture: optionalUrl(2048),
  birth_date: birthDate.nullable().optional().or(z.literal('').transform(() => null)),
  gender: z.enum(GENDERS, { error: `must be one of ${GENDERS.join(', ')}` }).nullable().optional(),
  second_email: email.nullable().optional().or(z.literal('').transform(() => null)),
  country: z
    .string({ error: 'must be an ISO 3166-1 code such as NL or NLD' })
    .nullable()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v === null || v.trim() === '') return v === undefined ? undefined : null;
      const alpha2 = toAlpha2(v);
      if (!alpha2) ctx.addIssue({ code: 'custom', message: 'must be an ISO 3166-1 code such as NL or NLD' });
      return alpha2 ?? null;
    }),
  preferred_language: z.enum(PROFILE_LANGUAGES, { error: 'must be en or nl' }).nullable().optional(),
  socials: z.array(socialSchema, { error: 'must be a list' }).max(MAX_SOCIALS, `may hold at most ${MAX_SOCIALS} profiles`).optional(),
});
export type ProfileUpdate = z.output<typeof profileUpdateSchema>;

// ---- queries --------------------------------------------------------------------------------

export async function readProfile(db: Kysely<CoreDatabase>, sub: number): Promise<Profile | undefined> {
  const row = await db
    .selectFrom('users')
    .select([
      'sub',
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
  return {
    sub: row.sub,
    name: row.name,
    email: row.email,
    emailVerified: row.email_verified,
    givenName: row.given_name,
    familyName: row.family_name,
    picture: row.picture,
    birthDate: row.birth_date,
    gender: row.gender,
    secondEmail: row.second_email,
    country: row.country,
    preferredLanguage: row.preferred_language,
    socials: socials.map((s) => ({ platform: s.platform as SocialPlatform, username: s.username, url: s.url })),
  };
}

/** Applies a validated change in one transaction; false when the user does not exist. */
export async function updateProfile(db: Kysely<CoreDatabase>, sub: number, change: ProfileUpdate, now: Date): Promise<boolean> {
  const { socials, ...fields } = change;
  return await db.transaction().execute(async (trx) => {
    const updated = await trx
      .updateTable('users')
      .set({ ...definedOnly(fields), profile_updated_at: now })
      .where('sub', '=', sub)
      .returning('sub')
      .executeTakeFirst();
    if (!updated) return false;
    if (socials !== undefined) {
      await trx.deleteFrom('user_socials').where('user_sub', '=', sub).execute();
      if (socials.length > 0) {
        await trx
          .insertInto('user_socials')
          .values(socials.map((s, position) => ({ user_sub: sub, position, platform: s.platform, username: s.username, url: s.url })))
          .execute();
      }
    }
    return true;
  });
}

/** Set by the email verification flow only (never from a profile form). */
export async function setEmailVerified(db: Kysely<CoreDatabase>, sub: number, verified: boolean): Promise<void> {
  await db.updateTable('users').set({ email_verified: verified }).where('sub', '=', sub).execute();
}

function definedOnly<T extends Record<string, unknown>>(object: T): Partial<T> {
  return Object.fromEntries(Object.entries(object).filter(([, v]) => v !== undefined)) as Partial<T>;
}
