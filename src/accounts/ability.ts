import { AbilityBuilder, createMongoAbility, subject as asSubject, type ForcedSubject, type MongoAbility } from '@casl/ability';
import type { Role } from './events.ts';

/**
 * What a member may do in the management API and the dashboard, by role (DESIGN §4), as one CASL
 * ability per role — the same mechanism as the partner API's access policy. The route guard
 * (src/accounts/guard.ts) asks it for every management route; nothing else decides a role.
 *
 * - viewer: reads everything (secret material is readable by nobody), changes nothing;
 * - developer: also manages clients — their domains, secrets, redirect URIs, scopes, test users;
 * - admin: also members, invitations and the plan;
 * - owner: also hands ownership over and deletes the organisation.
 * Every member may leave (delete their own membership); the last owner's stay is the
 * organisation stream's rule (last_owner), not a permission.
 */
export type ManagementAction = 'read' | 'manage' | 'delete' | 'billing' | 'transfer';
export type ManagementSubject = 'Client' | 'Secret' | 'Organisation' | 'Member' | 'Invitation' | 'all';
/** a membership, for the one conditional rule: a member's own can be deleted by them (leaving) */
export type MemberSubject = ForcedSubject<'Member'> & { readonly sub: number };
export type ManagementAbility = MongoAbility<[ManagementAction, ManagementSubject | MemberSubject]>;

/** A member's subject with its fields, for rules with conditions. */
export const memberSubject = (sub: number): MemberSubject => asSubject('Member', { sub });

export function managementAbility(role: Role, sub?: number): ManagementAbility {
  const { can, build } = new AbilityBuilder<ManagementAbility>(createMongoAbility);
  const read = () => can('read', ['Client', 'Secret', 'Organisation', 'Member', 'Invitation']);
  const develop = () => can(['manage', 'delete'], ['Client', 'Secret']);
  const administer = () => {
    can(['manage', 'delete'], ['Member', 'Invitation']);
    can('billing', 'Organisation');
  };
  switch (role) {
    case 'owner':
      read();
      develop();
      administer();
      can(['transfer', 'delete'], 'Organisation');
      break;
    case 'admin':
      read();
      develop();
      administer();
      break;
    case 'developer':
      read();
      develop();
      break;
    case 'viewer':
      read();
      break;
    default: {
      const _exhaustive: never = role;
      return _exhaustive;
    }
  }
  if (sub !== undefined) can('delete', 'Member', { sub });
  return build();
}
