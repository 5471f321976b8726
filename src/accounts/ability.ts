import { AbilityBuilder, createMongoAbility, type MongoAbility } from '@casl/ability';
import type { Role } from './events.ts';

/**
 * What a member may do in the management API, by role (DESIGN §4), as a CASL ability — the
 * same mechanism as the partner API's access policy.
 */
export type ManagementAction = 'read' | 'manage' | 'delete' | 'billing';
export type ManagementSubject = 'Client' | 'Secret' | 'Organisation' | 'all';
export type ManagementAbility = MongoAbility<[ManagementAction, ManagementSubject]>;

export function managementAbility(role: Role): ManagementAbility {
  const { can, cannot, build } = new AbilityBuilder<ManagementAbility>(createMongoAbility);
  switch (role) {
    case 'owner':
      can(['read', 'manage', 'delete', 'billing'], 'all');
      break;
    case 'admin':
      can(['read', 'manage', 'delete', 'billing'], 'all');
      cannot('delete', 'Organisation').because('only the owner can delete the organisation');
      break;
    case 'developer':
      can(['read', 'manage', 'delete'], ['Client', 'Secret']);
      can('read', 'Organisation');
      break;
    case 'viewer':
      can('read', ['Client', 'Organisation']);
      break;
  }
  return build();
}
