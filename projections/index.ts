import type { BatchProjection, Projection } from './projection.ts';
import { organisationsProjection } from './organisations.ts';
import { clientsProjection } from './clients.ts';
import { secretsProjection } from './secrets.ts';
import { domainsProjection } from './domains.ts';
import { clientSettingsProjection } from './client-settings.ts';
import { auditLogProjection } from './audit-log.ts';
import { ticketsProjection } from './tickets.ts';
import { deskProjection } from './desk.ts';

/** Applied event by event, in order. */
export const READ_MODEL_PROJECTIONS: readonly Projection[] = [
  organisationsProjection,
  clientsProjection,
  secretsProjection,
  domainsProjection,
  clientSettingsProjection,
  ticketsProjection,
  deskProjection,
];

/** Applied once per batch, after the others (the audit log reads a client's organisation from `clients`). */
export const BATCH_PROJECTIONS: readonly BatchProjection[] = [auditLogProjection];
