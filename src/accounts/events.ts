import type { PlanName } from './plans.ts';

/** Member roles of an organisation (DESIGN §4). `support_agent` is a staff role held on the user. */
export const ROLES = ['owner', 'admin', 'developer', 'viewer'] as const;
export type Role = (typeof ROLES)[number];

/** Events of an organisation (stream `organisation-<organisationId>`). */
export type OrganisationEvent =
  | { type: 'OrganisationCreated'; data: { organisationId: string; name: string } }
  | { type: 'MemberAdded'; data: { sub: number; role: Role } }
  | { type: 'MemberRoleChanged'; data: { sub: number; role: Role; previousRole: Role } }
  | { type: 'MemberRemoved'; data: { sub: number } }
  | { type: 'PlanActivated'; data: { plan: PlanName; previousPlan: PlanName | null } }
  | { type: 'PlanCancelled'; data: { plan: PlanName } }
  /** a client of this organisation holds one of the plan's client slots (before its own stream is written) */
  | { type: 'ClientSlotReserved'; data: { clientId: string; reservedAt: string } }
  | { type: 'ClientSlotReleased'; data: { clientId: string; reason: ClientSlotReleaseReason } };

/** Why a slot was given back: the client was deleted, its creation failed, or it was abandoned half-way. */
export type ClientSlotReleaseReason = 'deleted' | 'failed' | 'abandoned';

export type OrganisationEventType = OrganisationEvent['type'];

export const organisationStream = (organisationId: string): string => `organisation-${organisationId}`;
