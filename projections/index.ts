import type { Projection } from './projection.ts';
import { organisationsProjection } from './organisations.ts';
import { clientsProjection } from './clients.ts';
import { secretsProjection } from './secrets.ts';
import { domainsProjection } from './domains.ts';
import { clientSettingsProjection } from './client-settings.ts';
import { auditLogProjection } from './audit-log.ts';
import { ticketsProjection } from './tickets.ts';

/** Order matters only for the audit log, which reads a client's organisation from `clients`. */
export const READ_MODEL_PROJECTIONS: readonly Projection[] = [
  organisationsProjection,
  clientsProjection,
  secretsProjection,
  domainsProjection,
  clientSettingsProjection,
  auditLogProjection,
  ticketsProjection,
];
