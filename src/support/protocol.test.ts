import { describe, expect, it } from 'vitest';
import { MAX_MESSAGE_CHARS, SupportError, checkMessageText, checkTicketId } from './protocol.ts';
import { decideStaff, evolveStaff, staffAggregate } from './staff.ts';
import { ticketIdFor } from './service.ts';

const codeOf = (work: () => void): string | undefined => {
  try {
    work();
    return undefined;
  } catch (error) {
    return error instanceof SupportError ? error.code : 'not a SupportError';
  }
};

describe('message text', () => {
  it.each([
    ['', 'message_empty'],
    [' \n\t\u00a0', 'message_empty'],
    ['a'.repeat(MAX_MESSAGE_CHARS + 1), 'message_too_long'],
    ['🙂'.repeat(MAX_MESSAGE_CHARS + 1), 'message_too_long'],
    ['nul\u0000', 'invalid_payload'],
    ['\uDC00 lone', 'invalid_payload'],
  ])('when the text is %j…, then it is refused as %s', (text, code) => {
    expect(codeOf(() => checkMessageText(text))).toBe(code);
  });

  it.each([['a'.repeat(MAX_MESSAGE_CHARS)], ['🙂'.repeat(MAX_MESSAGE_CHARS)], ['<script>alert(1)</script>'], ['regel 1\nregel 2']])(
    'when the text is %j…, then it is accepted as typed',
    (text) => {
      expect(codeOf(() => checkMessageText(text))).toBeUndefined();
    },
  );

  it('when a ticket id is not of our form, then it is ticket_not_found', () => {
    expect(codeOf(() => checkTicketId('tk_AAAAAAAAAAAAAAAAAAAAAA'))).toBeUndefined();
    for (const id of ['', 'tk_', 'tk_short', 'TK_AAAAAAAAAAAAAAAAAAAAAA', 'tk_AAAAAAAAAAAAAAAAAAAAA/']) {
      expect(codeOf(() => checkTicketId(id))).toBe('ticket_not_found');
    }
  });

  it('when the same user opens with the same clientMessageId, then the ticket id is the same; otherwise not', () => {
    expect(ticketIdFor(7, 'abc')).toBe(ticketIdFor(7, 'abc'));
    expect(ticketIdFor(7, 'abc')).not.toBe(ticketIdFor(8, 'abc'));
    expect(ticketIdFor(7, undefined)).not.toBe(ticketIdFor(7, undefined));
    expect(codeOf(() => checkTicketId(ticketIdFor(7, 'abc')))).toBeUndefined();
    expect(codeOf(() => checkTicketId(ticketIdFor(7, undefined)))).toBeUndefined();
  });
});

describe('staff role (given events, when command, then events)', () => {
  const fold = (events: Parameters<typeof evolveStaff>[1][]) => events.reduce(evolveStaff, staffAggregate.initial);
  const granted = { type: 'StaffRoleGranted' as const, data: { sub: 5, role: 'support_agent' as const } };

  it('when a user without the role is granted it, then StaffRoleGranted', () => {
    expect(decideStaff({ type: 'GrantStaffRole', sub: 5, role: 'support_agent' }, fold([]))).toEqual([granted]);
  });
  it('when an agent is granted it again, then nothing happens', () => {
    expect(decideStaff({ type: 'GrantStaffRole', sub: 5, role: 'support_agent' }, fold([granted]))).toEqual([]);
  });
  it('when an agent is revoked, then StaffRoleRevoked; revoking again changes nothing', () => {
    const revoked = { type: 'StaffRoleRevoked' as const, data: { sub: 5, role: 'support_agent' as const } };
    expect(decideStaff({ type: 'RevokeStaffRole', sub: 5 }, fold([granted]))).toEqual([revoked]);
    expect(decideStaff({ type: 'RevokeStaffRole', sub: 5 }, fold([granted, revoked]))).toEqual([]);
  });
});
