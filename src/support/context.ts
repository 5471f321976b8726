import type { AppContext } from '../context.ts';
import { clientDetails } from '../clients/queries.ts';
import { explainRequest } from '../audit/denials.ts';
import type { Explanation } from '../audit/explain.ts';
import type { ExplainLanguage } from '../audit/i18n.ts';
import { type SupportActor, supportAbility, ticketSubject } from './ability.ts';
import { SupportError } from './protocol.ts';

export const CONTEXT_DENIALS = 20;

export interface DenialLine {
  readonly requestId: string;
  readonly at: string;
  readonly reason: string;
  readonly status: number;
  readonly endpoint: string;
  readonly domain: string | null;
  readonly ip: string | null;
}

export interface TicketContext {
  /** the client as `GET /manage/v1/clients/:clientId` shows it (no secret material); null when the ticket names none */
  readonly client: Awaited<ReturnType<typeof clientDetails>> | null;
  readonly denials: readonly DenialLine[];
}

/**
 * The failing client at hand (DESIGN §9 `ticket:context`). Who may see a client's panel: an agent,
 * through a ticket that names the client — never by the client id alone — and the members of the
 * organisation that owns the client (the opener among them). Anyone else: `ticket_not_found`.
 */
export class TicketContextReader {
  constructor(private readonly ctx: AppContext) {}

  /** The ticket's client id and owning organisation, once the actor may see its panel. */
  private async authorise(actor: SupportActor, organisationId: string | null, ticketId: string): Promise<{ clientId: string | null; clientOrganisation: string | null }> {
    const { rm } = this.ctx.database;
    const ticket = await rm.selectFrom('tickets').select(['opened_by', 'client_id']).where('ticket_id', '=', ticketId).executeTakeFirst();
    if (!ticket) throw new SupportError('ticket_not_found', 'there is no such ticket');
    const client = ticket.client_id
      ? await rm.selectFrom('clients').select('organisation_id').where('client_id', '=', ticket.client_id).executeTakeFirst()
      : undefined;
    const clientOrganisation = client?.organisation_id ?? null;
    const mayRead = supportAbility(actor).can('read', ticketSubject(ticket.opened_by));
    const member = clientOrganisation !== null && clientOrganisation === organisationId;
    if (!mayRead && !member) throw new SupportError('ticket_not_found', 'there is no such ticket');
    // The opener moved to another organisation since: the client is no longer theirs to see.
    if (!actor.agent && !member) return { clientId: null, clientOrganisation: null };
    return { clientId: ticket.client_id, clientOrganisation };
  }

  async context(actor: SupportActor, organisationId: string | null, ticketId: string): Promise<TicketContext> {
    const { clientId, clientOrganisation } = await this.authorise(actor, organisationId, ticketId);
    if (clientId === null || clientOrganisation === null) return { client: null, denials: [] };
    const { database } = this.ctx;
    const [client, denials] = await Promise.all([
      clientDetails(database.rm, clientId, database.db),
      database.db
        .selectFrom('auth_denials')
        .select(['request_id', 'at', 'reason', 'status', 'endpoint', 'domain', 'ip'])
        .where('client_id', '=', clientId)
        .orderBy('at', 'desc')
        .orderBy('request_id', 'desc')
        .limit(CONTEXT_DENIALS)
        .execute(),
    ]);
    return {
      client,
      denials: denials.map((d) => ({
        requestId: d.request_id,
        at: d.at.toISOString(),
        reason: d.reason,
        status: d.status,
        endpoint: d.endpoint,
        domain: d.domain,
        ip: d.ip,
      })),
    };
  }

  /** One of the ticket's client's denials explained (src/audit/explain.ts, as the management API does). */
  async explain(actor: SupportActor, organisationId: string | null, ticketId: string, requestId: string, language: ExplainLanguage): Promise<Explanation> {
    const { clientId, clientOrganisation } = await this.authorise(actor, organisationId, ticketId);
    const missing = () => new SupportError('denial_not_found', `${requestId.slice(0, 100)} is not a denial of this ticket's client`);
    if (clientId === null || clientOrganisation === null) throw missing();
    const outcome = await explainRequest({ database: this.ctx.database, store: this.ctx.store }, requestId, {
      organisationId: clientOrganisation,
      language,
      now: this.ctx.now(),
    });
    if (outcome.kind !== 'explained' || outcome.explanation.presented.clientId !== clientId) throw missing();
    return outcome.explanation;
  }
}
