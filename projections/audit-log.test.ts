import { describe, expect, it } from 'vitest';
import { auditData } from './audit-log.ts';

describe('what the audit log keeps of an event', () => {
  it('drops secret hashes and keeps what identifies a secret for people (id, label, hint)', () => {
    expect(auditData({ secretId: 'sec_1', label: 'Standard Key', hint: 'klsk_…a1B2', secretHash: 'ab'.repeat(32), expiresAt: null })).toEqual({
      secretId: 'sec_1',
      label: 'Standard Key',
      hint: 'klsk_…a1B2',
      expiresAt: null,
    });
    const rotated = auditData({ secretId: 'sec_1', newSecretId: 'sec_2', label: 'L', hint: 'klsk_…x9Y8', secretHash: 'cd'.repeat(32), graceSeconds: 0, graceUntil: null, domainIds: ['dom_1'] });
    expect(rotated).not.toHaveProperty('secretHash');
    expect(rotated).toMatchObject({ secretId: 'sec_1', newSecretId: 'sec_2', domainIds: ['dom_1'] });
  });

  it('drops any later …Hash, …Token, …Secret or …Password field, at any depth', () => {
    expect(
      auditData({ email: 'a@example.com', tokenHash: 'x', token: 'y', invitation: { inviteToken: 'z', role: 'viewer' }, list: [{ clientSecret: 's', id: 1 }], passwordHash: 'p' }),
    ).toEqual({ email: 'a@example.com', invitation: { role: 'viewer' }, list: [{ id: 1 }] });
  });

  it('keeps an event without data as an empty object', () => {
    expect(auditData({})).toEqual({});
    expect(auditData(null)).toEqual({});
  });
});
