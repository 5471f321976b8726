import type { Request } from 'express';
import type { AppContext } from '../context.ts';
import type { EventMetadata } from '../eventstore/port.ts';
import { ApiError } from '../http/problem.ts';
import { handleRequestCommand } from '../http/commands.ts';
import { metadataFor } from '../http/request.ts';
import { organisationStream, type ClientSlotReleaseReason } from '../accounts/events.ts';
import { OrganisationDomainError, decideOrganisation, organisationAggregate, slotsReservedBefore } from '../accounts/organisation.ts';
import { clientStream } from './events.ts';
import { decide } from './decide.ts';
import { clientAggregate } from './state.ts';

/**
 * The organisation-wide client limit (the reservation pattern). A create takes a slot in the
 * organisation's stream first — appended under its expected revision, so no interleaving of
 * creates on any node, with either event store, takes more slots than the plan has — and only
 * then writes the client's stream. Deleting a client gives its slot back.
 *
 * A slot whose creation died half-way (the node crashed between the two appends, or the second
 * failed) is given back by `abandon`: it first fences the client id in the client's own stream
 * (ClientRegistrationAbandoned, expected `no_stream`), so a registration still under way can
 * never land after its slot was given back; then it releases the slot. A failed create does this
 * at once; a crashed one is reclaimed by the next create that finds the plan full, once the
 * reservation is older than any creation can take.
 */
export const ABANDONED_AFTER_MS = 2 * 60_000;

type Ctx = Pick<AppContext, 'commands' | 'database' | 'logger' | 'now'>;

/** Takes a slot for `clientId`; true when this call took it, false when the same creation already held it. */
export async function reserveClientSlot(ctx: Ctx, req: Request, actor: string, organisationId: string, clientId: string): Promise<boolean> {
  const attempt = async () =>
    await handleRequestCommand(
      ctx.commands,
      req,
      { stream: organisationStream(organisationId), aggregate: organisationAggregate },
      // one reservation per client id (the id derives from the request's key)
      { type: 'ReserveClientSlot', key: clientId, actor, at: ctx.now() },
      (state) => decideOrganisation({ type: 'ReserveClientSlot', clientId, now: ctx.now().toISOString() }, state),
    );
  try {
    return (await attempt()).events.length > 0;
  } catch (error) {
    if (!(error instanceof OrganisationDomainError)) throw error;
    // Full: first give back what dead creations hold, then try once more.
    if (error.code !== 'plan_limit_clients' || (await reclaimAbandonedSlots(ctx, organisationId, metadataFor(req, actor, ctx.now()))) === 0) {
      throw refusal(error);
    }
  }
  try {
    return (await attempt()).events.length > 0;
  } catch (error) {
    throw error instanceof OrganisationDomainError ? refusal(error) : error;
  }
}

function refusal(error: OrganisationDomainError): ApiError {
  switch (error.code) {
    case 'plan_limit_clients':
      return new ApiError(403, error.code, 'Plan limit reached', error.message);
    case 'plan_inactive':
      return new ApiError(403, error.code, 'No active plan', error.message);
    default:
      return new ApiError(409, error.code, 'Conflict', error.message);
  }
}

/** Gives a deleted client's slot back. */
export async function releaseClientSlot(ctx: Ctx, metadata: EventMetadata, organisationId: string, clientId: string, reason: ClientSlotReleaseReason) {
  await ctx.commands.handle(
    organisationStream(organisationId),
    organisationAggregate,
    // one release per client id: a reused request key can never swallow another client's release
    { type: 'ReleaseClientSlot', key: clientId, metadata },
    (state) => decideOrganisation({ type: 'ReleaseClientSlot', clientId, reason }, state),
  );
}

/**
 * Fences a client id whose creation did not register it, then gives its slot back; a client that
 * did register (and is not deleted) keeps its slot. Returns whether the slot was given back.
 */
export async function abandonClientSlot(
  ctx: Ctx,
  metadata: EventMetadata,
  organisationId: string,
  clientId: string,
  reason: 'failed' | 'abandoned',
): Promise<boolean> {
  const fenced = await ctx.commands.handle(
    clientStream(clientId),
    clientAggregate,
    { type: 'AbandonRegistration', key: clientId, metadata },
    (state) => decide({ type: 'AbandonRegistration', clientId, organisationId, now: metadata.at }, state),
  );
  if (fenced.state?.status !== 'deleted') return false;
  // fenced now, or by an earlier run of this (its fence is the stream's first event); else deleted
  const neverRegistered = fenced.events.length > 0 || fenced.duplicate;
  await releaseClientSlot(ctx, metadata, organisationId, clientId, neverRegistered ? reason : 'deleted');
  return true;
}

/**
 * At the plan's limit: gives back the slots of creations that died (older than ABANDONED_AFTER_MS,
 * their client never registered) and of deletions whose release was lost. The read model only
 * narrows the search (a live row proves a registration); the client's stream decides.
 */
export async function reclaimAbandonedSlots(ctx: Ctx, organisationId: string, metadata: EventMetadata): Promise<number> {
  const state = await ctx.commands.read(organisationStream(organisationId), organisationAggregate);
  const old = slotsReservedBefore(state, new Date(ctx.now().getTime() - ABANDONED_AFTER_MS).toISOString());
  if (old.length === 0) return 0;
  const live = await ctx.database.rm
    .selectFrom('clients')
    .select('client_id')
    .where('client_id', 'in', old)
    .where('status', '!=', 'deleted')
    .execute();
  const liveIds = new Set(live.map((row) => row.client_id));
  let reclaimed = 0;
  for (const clientId of old.filter((id) => !liveIds.has(id))) {
    if (await abandonClientSlot(ctx, metadata, organisationId, clientId, 'abandoned')) {
      reclaimed += 1;
      ctx.logger.warn({ organisationId, clientId }, 'client slot of an abandoned creation or a lost release given back');
    }
  }
  return reclaimed;
}
