import { type Kysely, sql } from 'kysely';
import type { CoreDatabase } from '../db/schema.ts';

/** A user's profile as stored (Postgres rows: erasable, never in events). */
export interface Profile {
  readonly sub: number;
  readonly name: string;
  readonly email: string;
  readonly givenName: string | null;
  readonly familyName: string | null;
  readonly picture: string | null;
  readonly emailVerified: boolean;
  /** YYYY-MM-DD */
  readonly birthDate: string | null;
  /** ISO 3166-1 alpha-2 */
  readonly country: string | null;
}

export async function findProfile(db: Kysely<CoreDatabase>, sub: number): Promise<Profile | undefined> {
  const row = await db
    .selectFrom('users')
    .select([
      'sub',
      'name',
      'email',
      'given_name',
      'family_name',
      'picture',
      'email_verified',
      'country',
      sql<string | null>`to_char(birth_date, 'YYYY-MM-DD')`.as('birth_date'),
    ])
    .where('sub', '=', sub)
    .executeTakeFirst();
  if (!row) return undefined;
  return {
    sub: row.sub,
    name: row.name,
    email: row.email,
    givenName: row.given_name,
    familyName: row.family_name,
    picture: row.picture,
    emailVerified: row.email_verified,
    birthDate: row.birth_date,
    country: row.country,
  };
}

/** What sign-token-verify returns (DESIGN §7): the identity the user just approved sharing. */
export function signInClaims(profile: Profile) {
  return {
    sub: profile.sub,
    name: profile.name,
    given_name: profile.givenName,
    family_name: profile.familyName,
    email: profile.email,
    email_verified: profile.emailVerified,
    picture: profile.picture,
  };
}

/**
 * What get/user/info returns: sub, name and email always; the other profile fields only with
 * the `userinfo` scope (null without it). Keyledger keeps no social profiles: `socials` is an
 * empty list when asked for with the scope.
 */
export function userInfo(profile: Profile, options: { userinfo: boolean; socials: boolean }) {
  const extra = <T>(value: T): T | null => (options.userinfo ? value : null);
  return {
    sub: profile.sub,
    name: profile.name,
    email: profile.email,
    given_name: extra(profile.givenName),
    family_name: extra(profile.familyName),
    email_verified: extra(profile.emailVerified),
    picture: extra(profile.picture),
    birth_date: extra(profile.birthDate),
    country: extra(profile.country),
    ...(options.socials ? { socials: options.userinfo ? [] : null } : {}),
  };
}
