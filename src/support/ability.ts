import { LRUCache } from 'lru-cache';
import { AbilityBuilder, createMongoAbility, subject, type MongoAbility } from '@casl/ability';

/** Who acts on tickets: a logged-in user, who may hold the staff role `support_agent`. */
export interface SupportActor {
  readonly sub: number;
  readonly agent: boolean;
}

export type SupportAction = 'open' | 'read' | 'write' | 'rate' | 'assign' | 'changeStatus' | 'viewQueue' | 'note';

interface TicketFacts {
  openedBy: number;
}
type TicketSubject = 'Ticket' | ReturnType<typeof subject<'Ticket', TicketFacts & object>>;
export type SupportAbility = MongoAbility<[SupportAction, TicketSubject]>;

/**
 * The support rules as a CASL ability, the mechanism the rest of the product uses: a user
 * reads, writes and rates only the tickets they opened; an agent reads and writes every ticket,
 * assigns them, changes their status and sees the queue.
 */
export function supportAbility(actor: SupportActor): SupportAbility {
  // Every message asks: an ability depends only on (sub, agent) and never changes once built.
  const key = `${actor.sub}:${actor.agent ? 1 : 0}`;
  let ability = abilities.get(key);
  if (!ability) {
    ability = buildSupportAbility(actor);
    abilities.set(key, ability);
  }
  return ability;
}
const abilities = new LRUCache<string, SupportAbility>({ max: 10_000 });

function buildSupportAbility(actor: SupportActor): SupportAbility {
  const { can, build } = new AbilityBuilder<SupportAbility>(createMongoAbility);
  can('open', 'Ticket');
  can(['read', 'write', 'rate'], 'Ticket', { openedBy: actor.sub });
  if (actor.agent) can(['read', 'write', 'assign', 'changeStatus', 'viewQueue', 'note'], 'Ticket');
  return build();
}

/** A ticket as the ability sees it. */
export const ticketSubject = (openedBy: number) => subject('Ticket', { openedBy });
