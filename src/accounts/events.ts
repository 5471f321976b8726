import type { PlanName } from './plans.ts';

/** Member roles of an organisation (DESIGN §4). `support_agent` is a staff role held on the user. */
export const ROLES = ['owner', 'admin', 'developer', 'viewer'] as const;
export type Role = (typeof ROLES)[number];
/** Ownership is handed over (OwnershipTransferred), never given by an invitation. */
export const INVITABLE_ROLES = ['admin', 'developer', 'viewer'] as const satisfies readonly Role[];
export type InvitableRole = (typeof INVITABLE_ROLES)[number];

/** Events of an organisation (stream `organisation-<organisationId>`). */
export type OrganisationEvent =
  | { type: 'OrganisationCreated'; data: { organisationId: string; name: string } }
  /**
   * an email invited with a role. Only the SHA-256 of the link's token is kept (the audit trail drops
   * `…Hash` fields); the token itself is in the link alone.
   */
  | { type: 'MemberInvited'; data: { invitationId: string; email: string; role: InvitableRole; tokenHash: string; expiresAt: string; invitedBy: number } }
  | { type: 'InvitationRevoked'; data: { invitationId: string; email: string } }
  /** the founder (no invitation), or an invitee who accepted (with the invitation's id) */
  | { type: 'MemberAdded'; data: { sub: number; role: Role; invitationId?: string } }
  | { type: 'MemberRoleChanged'; data: { sub: number; role: Role; previousRole: Role } }
  /** removed by another member, or left (the actor is the member); `previousRole` is absent on events written before it was recorded */
  | { type: 'MemberRemoved'; data: { sub: number; previousRole?: Role } }
  /** `to` becomes an owner, `from` (the owner who handed over) an admin */
  | { type: 'OwnershipTransferred'; data: { from: number; to: number } }
  | { type: 'PlanActivated'; data: { plan: PlanName; previousPlan: PlanName | null } }
  | { type: 'PlanCancelled'; data: { plan: PlanName } }
  /** a client of this organisation holds one of the plan's client slots (before its own stream is written) */
  | { type: 'ClientSlotReserved'; data: { clientId: string; reservedAt: string } }
  | { type: 'ClientSlotReleased'; data: { clientId: string; reason: ClientSlotReleaseReason } }
  /**
   * the owner deleted the organisation; written after its members were removed and its open
   * invitations revoked (each its own event, before this one), with no client left
   */
  | { type: 'OrganisationDeleted'; data: { organisationId: string; name: string } };

/** Why a slot was given back: the client was deleted, its creation failed, or it was abandoned half-way. */
export type ClientSlotReleaseReason = 'deleted' | 'failed' | 'abandoned';

export type OrganisationEventType = OrganisationEvent['type'];

/** A closed set: a new organisation event type fails to compile here until it is listed. */
export const ORGANISATION_EVENT_TYPES = Object.keys({
  OrganisationCreated: true,
  MemberInvited: true,
  InvitationRevoked: true,
  MemberAdded: true,
  MemberRoleChanged: true,
  MemberRemoved: true,
  OwnershipTransferred: true,
  PlanActivated: true,
  PlanCancelled: true,
  ClientSlotReserved: true,
  ClientSlotReleased: true,
  OrganisationDeleted: true,
} satisfies Record<OrganisationEventType, true>) as OrganisationEventType[];

const ORGANISATION_TYPES: ReadonlySet<string> = new Set(ORGANISATION_EVENT_TYPES);
export const isOrganisationEventType = (type: string): type is OrganisationEventType => ORGANISATION_TYPES.has(type);

export const organisationStream = (organisationId: string): string => `organisation-${organisationId}`;
