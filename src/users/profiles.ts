import { z } from 'zod';
import { GENDERS, SOCIAL_PLATFORMS, type Profile, readProfile } from './profile-store.ts';

export type { Profile } from './profile-store.ts';
/** The profile as the partner API reads it (src/users/profile-store.ts owns the rows). */
export const findProfile = readProfile;

/** XWMS types `sub` as a string ("12345"): a stable positive integer, written in digits. */
const subString = z.string().regex(/^[1-9]\d*$/);

/** `data` of sign-token-verify (XWMS: sub, name, given_name, family_name, email, email_verified, picture). */
export const signInClaimsSchema = z.object({
  sub: subString,
  name: z.string(),
  given_name: z.string().nullable(),
  family_name: z.string().nullable(),
  email: z.string(),
  email_verified: z.boolean(),
  picture: z.string().nullable(),
});

/** What sign-token-verify returns: the identity the user just approved sharing. */
export function signInClaims(profile: Profile): z.output<typeof signInClaimsSchema> {
  return {
    sub: String(profile.sub),
    name: profile.name,
    given_name: profile.givenName,
    family_name: profile.familyName,
    email: profile.email,
    email_verified: profile.emailVerified,
    picture: profile.picture,
  };
}

export const socialViewSchema = z.object({ platform: z.enum(SOCIAL_PLATFORMS), username: z.string(), url: z.string().nullable() });

/** `data.user` of get/user/info, as XWMS documents it. */
export const userInfoSchema = z.object({
  sub: subString,
  name: z.string(),
  given_name: z.string().nullable(),
  family_name: z.string().nullable(),
  email: z.string(),
  email_verified: z.boolean().nullable(),
  picture: z.string().nullable(),
  birth_date: z.string().nullable(),
  gender: z.enum(GENDERS).nullable(),
  second_email: z.string().nullable(),
  country: z.string().nullable(),
  /** only when asked for (`socials: true`); null without the `userinfo` scope */
  socials: z.array(socialViewSchema).nullable().optional(),
});

/**
 * What get/user/info returns: sub, name and email always; the other profile fields only with
 * the `userinfo` scope (null without it, as XWMS says they "may be"). `socials` is there only
 * when the partner asks for it.
 */
export function userInfo(profile: Profile, options: { userinfo: boolean; socials: boolean }): z.output<typeof userInfoSchema> {
  const extra = <T>(value: T): T | null => (options.userinfo ? value : null);
  return {
    sub: String(profile.sub),
    name: profile.name,
    given_name: extra(profile.givenName),
    family_name: extra(profile.familyName),
    email: profile.email,
    email_verified: extra(profile.emailVerified),
    picture: extra(profile.picture),
    birth_date: extra(profile.birthDate),
    gender: extra(profile.gender),
    second_email: extra(profile.secondEmail),
    country: extra(profile.country),
    ...(options.socials ? { socials: options.userinfo ? profile.socials.map((s) => ({ ...s })) : null } : {}),
  };
}
