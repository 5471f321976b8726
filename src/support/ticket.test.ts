import { describe, expect, it } from 'vitest';
import type { TicketEvent } from './events.ts';
import {
  REMEMBERED_MESSAGE_IDS,
  rememberedMessageIds,
  TicketDomainError,
  decideTicket,
  foldTicket,
  seqOfMessage,
  type TicketCommand,
  type TicketErrorCode,
} from './ticket.ts';

// given events, when command, then events — no database, no sockets

function given(...history: TicketEvent[]) {
  const state = foldTicket(history);
  return {
    state,
    when(command: TicketCommand) {
      return {
        then(expected: TicketEvent[]): void {
          expect(decideTicket(command, state)).toEqual(expected);
        },
        thenThrows(code: TicketErrorCode): void {
          let caught: unknown;
          try {
            decideTicket(command, state);
          } catch (error) {
            caught = error;
          }
          expect(caught).toBeInstanceOf(TicketDomainError);
          expect((caught as TicketDomainError).code).toBe(code);
        },
      };
    },
  };
}

const user = { sub: 7, agent: false };
const otherUser = { sub: 8, agent: false };
const agent = { sub: 99, agent: true };

const opened: TicketEvent = {
  type: 'TicketOpened',
  data: { ticketId: 'tk_1', subject: 'Rotated secret', group: 'oauth-api', clientId: null, openedBy: 7 },
};
const posted = (seq: number, author: number, authorRole: 'user' | 'agent', clientMessageId = `m${seq}`): TicketEvent => ({
  type: 'TicketMessagePosted',
  data: { seq, author, authorRole, text: `message ${seq}`, clientMessageId },
});
const status = (to: 'open' | 'pending' | 'resolved', from: 'open' | 'pending' | 'resolved'): TicketEvent => ({
  type: 'TicketStatusChanged',
  data: { status: to, previousStatus: from },
});

describe('opening a ticket', () => {
  const open: TicketCommand = {
    type: 'OpenTicket',
    actor: user,
    ticketId: 'tk_1',
    subject: 'Rotated secret',
    group: 'oauth-api',
    language: 'en',
    offline: false,
    clientId: null,
    text: 'My old secret still works?',
    clientMessageId: 'c1',
  };

  it('when a user opens a ticket, then it is opened with their question as message 1', () => {
    given().when(open).then([
      { ...opened, data: { ...opened.data, language: 'en' } } as TicketEvent,
      { type: 'TicketMessagePosted', data: { seq: 1, author: 7, authorRole: 'user', text: 'My old secret still works?', clientMessageId: 'c1' } },
    ]);
  });

  it('when the same open is sent again by its opener, then nothing new happens', () => {
    given(opened, posted(1, 7, 'user', 'c1')).when(open).then([]);
  });

  it('when another user opens a ticket with an id that exists, then it is refused', () => {
    given(opened).when({ ...open, actor: otherUser }).thenThrows('ticket_exists');
  });
});

describe('posting messages', () => {
  it('when the user writes again, then the message gets the next seq', () => {
    given(opened, posted(1, 7, 'user'))
      .when({ type: 'PostMessage', actor: user, text: 'hello?', clientMessageId: 'x' })
      .then([{ type: 'TicketMessagePosted', data: { seq: 2, author: 7, authorRole: 'user', text: 'hello?', clientMessageId: 'x' } }]);
  });

  const answer = { seq: 2, author: 99, authorRole: 'agent', text: 'Hi!', clientMessageId: 'a' } as const;
  const taken: TicketEvent = { type: 'TicketAssigned', data: { assignee: 99, previousAssignee: null, reason: 'taken' } };

  it('when the first agent answers an unassigned ticket, then the answer is posted and the ticket stays in the queue (taking it needs capacity)', () => {
    given(opened, posted(1, 7, 'user'))
      .when({ type: 'PostMessage', actor: agent, text: 'Hi!', clientMessageId: 'a' })
      .then([{ type: 'TicketMessagePosted', data: answer }]);
  });

  it('when the first agent answer comes with take (the agent is within capacity), then the answer and the take are one decision', () => {
    given(opened, posted(1, 7, 'user'))
      .when({ type: 'PostMessage', actor: agent, text: 'Hi!', clientMessageId: 'a', take: true })
      .then([{ type: 'TicketMessagePosted', data: answer }, taken]);
  });

  it('when an answer comes with take but the ticket has an owner, or an answer already, or the author is its customer, then only the message is posted', () => {
    const assigned: TicketEvent = { type: 'TicketAssigned', data: { assignee: 98, previousAssignee: null, reason: 'taken' } };
    given(opened, posted(1, 7, 'user'), assigned)
      .when({ type: 'PostMessage', actor: agent, text: 'Hi!', clientMessageId: 'a', take: true })
      .then([{ type: 'TicketMessagePosted', data: answer }]);
    given(opened, posted(1, 7, 'user'), posted(2, 98, 'agent'))
      .when({ type: 'PostMessage', actor: agent, text: 'Hi!', clientMessageId: 'a', take: true })
      .then([{ type: 'TicketMessagePosted', data: { ...answer, seq: 3 } }]);
    given(opened, posted(1, 7, 'user'))
      .when({ type: 'PostMessage', actor: user, text: 'Hi!', clientMessageId: 'a', take: true })
      .then([{ type: 'TicketMessagePosted', data: { ...answer, author: 7, authorRole: 'user' } }]);
  });

  it('when a message is resent with the same clientMessageId, then no event is decided and the original seq is known', () => {
    const g = given(opened, posted(1, 7, 'user'), posted(2, 7, 'user', 'dup'));
    g.when({ type: 'PostMessage', actor: user, text: 'again', clientMessageId: 'dup' }).then([]);
    expect(seqOfMessage(g.state, 7, 'dup')).toBe(2);
  });

  it('when another author uses the same clientMessageId, then it is a new message', () => {
    given(opened, posted(1, 7, 'user', 'same'))
      .when({ type: 'PostMessage', actor: agent, text: 'reply', clientMessageId: 'same' })
      .then([{ type: 'TicketMessagePosted', data: { seq: 2, author: 99, authorRole: 'agent', text: 'reply', clientMessageId: 'same' } }]);
  });

  it('when the user writes on a resolved ticket, then the message is posted and the ticket reopens', () => {
    given(opened, posted(1, 7, 'user'), status('resolved', 'open'))
      .when({ type: 'PostMessage', actor: user, text: 'not fixed', clientMessageId: 'r' })
      .then([
        { type: 'TicketMessagePosted', data: { seq: 2, author: 7, authorRole: 'user', text: 'not fixed', clientMessageId: 'r' } },
        status('open', 'resolved'),
      ]);
  });

  it('when the user answers a pending ticket, then it is open again', () => {
    given(opened, posted(1, 7, 'user'), status('pending', 'open'))
      .when({ type: 'PostMessage', actor: user, text: 'here it is', clientMessageId: 'p' })
      .then([
        { type: 'TicketMessagePosted', data: { seq: 2, author: 7, authorRole: 'user', text: 'here it is', clientMessageId: 'p' } },
        status('open', 'pending'),
      ]);
  });

  it('when an agent writes on a resolved ticket, then it stays resolved', () => {
    given(opened, posted(1, 7, 'user'), { type: 'TicketAssigned', data: { assignee: 99, previousAssignee: null } }, status('resolved', 'open'))
      .when({ type: 'PostMessage', actor: agent, text: 'PS', clientMessageId: 'ps' })
      .then([{ type: 'TicketMessagePosted', data: { seq: 2, author: 99, authorRole: 'agent', text: 'PS', clientMessageId: 'ps' } }]);
  });

  it("when another user writes in someone's ticket, then it is not found", () => {
    given(opened, posted(1, 7, 'user')).when({ type: 'PostMessage', actor: otherUser, text: 'hi', clientMessageId: 'z' }).thenThrows('ticket_not_found');
  });

  it('when the ticket does not exist, then it is not found', () => {
    given().when({ type: 'PostMessage', actor: agent, text: 'hi', clientMessageId: 'z' }).thenThrows('ticket_not_found');
  });

  it('when more messages than remembered follow, then only the oldest ids are forgotten', () => {
    const history: TicketEvent[] = [opened];
    for (let seq = 1; seq <= REMEMBERED_MESSAGE_IDS + 5; seq++) history.push(posted(seq, 7, 'user'));
    const state = foldTicket(history);
    expect(rememberedMessageIds(state)).toBe(REMEMBERED_MESSAGE_IDS);
    expect(seqOfMessage(state, 7, 'm1')).toBeUndefined();
    expect(seqOfMessage(state, 7, `m${REMEMBERED_MESSAGE_IDS + 5}`)).toBe(REMEMBERED_MESSAGE_IDS + 5);
    expect(state.lastSeq).toBe(REMEMBERED_MESSAGE_IDS + 5);
  });

  it('when the remembered ids are linked anew (at twice the limit), then exactly the newest are still recognised, before and after', () => {
    const history: TicketEvent[] = [opened];
    const total = 2 * REMEMBERED_MESSAGE_IDS + 3;
    for (let seq = 1; seq <= total; seq++) history.push(posted(seq, 7, 'user'));
    const state = foldTicket(history);
    expect(rememberedMessageIds(state)).toBe(REMEMBERED_MESSAGE_IDS);
    const oldestKept = total - REMEMBERED_MESSAGE_IDS + 1;
    expect(seqOfMessage(state, 7, `m${oldestKept}`)).toBe(oldestKept);
    expect(seqOfMessage(state, 7, `m${oldestKept - 1}`)).toBeUndefined();
    expect(seqOfMessage(state, 7, `m${total}`)).toBe(total);
    // every version in between recognised the same window
    for (const n of [REMEMBERED_MESSAGE_IDS, 2 * REMEMBERED_MESSAGE_IDS - 1, 2 * REMEMBERED_MESSAGE_IDS, 2 * REMEMBERED_MESSAGE_IDS + 1]) {
      const at = foldTicket(history.slice(0, n + 1));
      expect(seqOfMessage(at, 7, `m${n - REMEMBERED_MESSAGE_IDS + 1}`)).toBe(n - REMEMBERED_MESSAGE_IDS + 1);
      expect(seqOfMessage(at, 7, `m${n - REMEMBERED_MESSAGE_IDS}`)).toBeUndefined();
    }
  });
});

describe('agents: assignment and status', () => {
  const permissions: [string, TicketCommand, TicketErrorCode | TicketEvent[]][] = [
    ['agent assigns to self', { type: 'AssignTicket', actor: agent, assignee: 99, mode: 'transfer' }, [{ type: 'TicketAssigned', data: { assignee: 99, previousAssignee: null } }]],
    ['agent resolves', { type: 'ChangeStatus', actor: agent, status: 'resolved' }, [status('resolved', 'open')]],
    ['agent sets pending', { type: 'ChangeStatus', actor: agent, status: 'pending' }, [status('pending', 'open')]],
    ['agent sets the status it has', { type: 'ChangeStatus', actor: agent, status: 'open' }, []],
    ['opener assigns', { type: 'AssignTicket', actor: user, assignee: 7, mode: 'transfer' }, 'forbidden'],
    ['opener changes status', { type: 'ChangeStatus', actor: user, status: 'resolved' }, 'forbidden'],
    ['other user assigns', { type: 'AssignTicket', actor: otherUser, assignee: 8, mode: 'transfer' }, 'forbidden'],
    ['opener rates an open ticket', { type: 'RateTicket', actor: user, rating: 5, comment: null }, 'ticket_not_resolved'],
    ['agent rates', { type: 'RateTicket', actor: agent, rating: 5, comment: null }, 'forbidden'],
    ['other user rates', { type: 'RateTicket', actor: otherUser, rating: 5, comment: null }, 'ticket_not_found'],
  ];
  it.each(permissions)('when the %s, then the decision is as in the table', (_name, command, expected) => {
    const g = given(opened, posted(1, 7, 'user')).when(command);
    if (typeof expected === 'string') g.thenThrows(expected);
    else g.then(expected);
  });

  it('when an agent acts on a ticket that does not exist, then it is not found', () => {
    given().when({ type: 'ChangeStatus', actor: agent, status: 'resolved' }).thenThrows('ticket_not_found');
  });

  it('when an agent unassigns, then the previous assignee is recorded', () => {
    given(opened, { type: 'TicketAssigned', data: { assignee: 99, previousAssignee: null } })
      .when({ type: 'AssignTicket', actor: agent, assignee: null, mode: 'transfer' })
      .then([{ type: 'TicketAssigned', data: { assignee: null, previousAssignee: 99 } }]);
  });

  it('when the opener rates a resolved ticket, then the rating is recorded', () => {
    given(opened, status('resolved', 'open'))
      .when({ type: 'RateTicket', actor: user, rating: 4, comment: null })
      .then([{ type: 'TicketRated', data: { rating: 4, by: 7 } }]);
  });
});

describe('the desk: notes, taking, handing back, tags, priority', () => {
  const other = { sub: 98, agent: true };
  const assignedTo = (sub: number): TicketEvent => ({ type: 'TicketAssigned', data: { assignee: sub, previousAssignee: null } });

  it('when an agent adds a note, then it takes the next seq; a user cannot', () => {
    given(opened, posted(1, 7, 'user'))
      .when({ type: 'AddNote', actor: agent, text: 'customer is on starter', clientMessageId: 'n1' })
      .then([{ type: 'TicketNoteAdded', data: { seq: 2, author: 99, text: 'customer is on starter', clientMessageId: 'n1' } }]);
    given(opened, posted(1, 7, 'user')).when({ type: 'AddNote', actor: user, text: 'x', clientMessageId: 'n1' }).thenThrows('forbidden');
  });

  it('when two agents take one ticket, then the second is told who has it', () => {
    given(opened, assignedTo(99)).when({ type: 'AssignTicket', actor: other, assignee: 98, mode: 'take' }).thenThrows('ticket_taken');
    given(opened).when({ type: 'AssignTicket', actor: other, assignee: 98, mode: 'take' }).then([
      { type: 'TicketAssigned', data: { assignee: 98, previousAssignee: null, reason: 'taken' } },
    ]);
  });

  it('when an offline agent hands back, then only an unanswered ticket they still have goes back', () => {
    given(opened, assignedTo(99)).when({ type: 'HandBackTicket', actor: agent, from: 99 }).then([
      { type: 'TicketAssigned', data: { assignee: null, previousAssignee: 99, reason: 'handed_back' } },
    ]);
    given(opened, assignedTo(99), posted(2, 99, 'agent')).when({ type: 'HandBackTicket', actor: agent, from: 99 }).then([]);
    given(opened, assignedTo(98)).when({ type: 'HandBackTicket', actor: agent, from: 99 }).then([]);
  });

  it('when tags or priority change, then an event records old and new; the same value is no event', () => {
    given(opened).when({ type: 'SetTags', actor: agent, tags: ['expired'] }).then([{ type: 'TicketTagsChanged', data: { tags: ['expired'], previousTags: [] } }]);
    given(opened).when({ type: 'SetPriority', actor: agent, priority: 'normal' }).then([]);
    given(opened).when({ type: 'SetPriority', actor: user, priority: 'high' }).thenThrows('forbidden');
  });

  it('when the opener rates with a comment, then the comment is kept', () => {
    given(opened, status('resolved', 'open'))
      .when({ type: 'RateTicket', actor: user, rating: 5, comment: 'Quick and clear' })
      .then([{ type: 'TicketRated', data: { rating: 5, by: 7, comment: 'Quick and clear' } }]);
  });
});
