import { describe, expect, it } from 'vitest';
import { weakPasswordReason } from './password-policy.ts';

describe('weakPasswordReason', () => {
  it('accepts a long passphrase', () => {
    expect(weakPasswordReason('correct horse battery staple')).toBeUndefined();
    expect(weakPasswordReason('blue-harbour-kettle-9')).toBeUndefined();
  });
  it('refuses short, common, guessable and personal passwords with a reason', () => {
    expect(weakPasswordReason('short')).toBe('too_short');
    expect(weakPasswordReason('x'.repeat(257))).toBe('too_long');
    expect(weakPasswordReason('password123456')).toBe('common');
    expect(weakPasswordReason('qwertyuiop12')).not.toBeUndefined();
    expect(weakPasswordReason('GraceHopper1', ['grace.hopper@example.com', 'Grace Hopper'])).toBe('personal');
  });
});
