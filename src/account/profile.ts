import type { Profile, ProfileUpdate } from '../users/profile-store.ts';
import type { ProfileField } from './events.ts';

/**
 * The profile is the partner API's shape (src/users/profile-store.ts validates and writes it);
 * what this module adds is which fields a change touches, by name only: what an event may say.
 */
const SCALARS = [
  ['name', 'name'],
  ['given_name', 'givenName'],
  ['family_name', 'familyName'],
  ['picture', 'picture'],
  ['birth_date', 'birthDate'],
  ['gender', 'gender'],
  ['second_email', 'secondEmail'],
  ['country', 'country'],
  ['preferred_language', 'preferredLanguage'],
] as const satisfies readonly (readonly [ProfileField & keyof ProfileUpdate, keyof Profile])[];

export function changedFields(before: Profile, change: ProfileUpdate): ProfileField[] {
  const fields: ProfileField[] = [];
  for (const [field, key] of SCALARS) {
    const next = change[field];
    if (next !== undefined && (before[key] ?? null) !== (next ?? null)) fields.push(field);
  }
  if (change.socials !== undefined) {
    const normalise = (list: readonly { platform: string; username: string; url: string | null }[]) =>
      JSON.stringify(list.map((s) => [s.platform, s.username, s.url ?? null]));
    if (normalise(before.socials) !== normalise(change.socials)) fields.push('socials');
  }
  return fields;
}
