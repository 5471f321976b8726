import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  SECRET_LENGTH,
  SECRET_PREFIX,
  SECRET_RANDOM_LENGTH,
  generateSecret,
  hasValidSecretFormat,
  hashSecret,
  secretsEqual,
} from './secret-format.ts';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

describe('generateSecret', () => {
  it('is klsk_ + 43 random + 6 checksum base62 characters', () => {
    const { secret } = generateSecret();
    expect(SECRET_LENGTH).toBe(54);
    expect(secret).toHaveLength(54);
    expect(secret).toMatch(/^klsk_[0-9A-Za-z]{49}$/);
    expect(secret.startsWith(SECRET_PREFIX)).toBe(true);
  });

  it('carries at least 256 bits of entropy', () => {
    expect(SECRET_RANDOM_LENGTH * Math.log2(62)).toBeGreaterThanOrEqual(256);
  });

  it('never repeats and uses the whole alphabet', () => {
    const secrets = Array.from({ length: 200 }, () => generateSecret().secret);
    expect(new Set(secrets).size).toBe(200);
    const seen = new Set(secrets.flatMap((s) => [...s.slice(SECRET_PREFIX.length, SECRET_PREFIX.length + SECRET_RANDOM_LENGTH)]));
    expect(seen.size).toBe(62);
  });

  it('hashes the whole secret with SHA-256 and hints with the last 4 characters only', () => {
    const { secret, secretHash, hint } = generateSecret();
    expect(secretHash).toBe(createHash('sha256').update(secret).digest('hex'));
    expect(secretHash).toBe(hashSecret(secret));
    expect(hint).toBe(`klsk_…${secret.slice(-4)}`);
    expect(hint).not.toContain(secret.slice(5, 15));
  });
});

describe('hasValidSecretFormat', () => {
  it('accepts generated secrets', () => {
    for (let i = 0; i < 50; i++) expect(hasValidSecretFormat(generateSecret().secret)).toBe(true);
  });

  it('detects any single changed character through the checksum', () => {
    const { secret } = generateSecret();
    for (let position = SECRET_PREFIX.length; position < secret.length; position++) {
      const current = secret[position]!;
      const replacement = BASE62[(BASE62.indexOf(current) + 1 + position) % 62]!;
      const changed = secret.slice(0, position) + replacement + secret.slice(position + 1);
      expect(hasValidSecretFormat(changed), `position ${position}`).toBe(false);
    }
  });

  it('detects any two swapped adjacent characters', () => {
    const { secret } = generateSecret();
    for (let at = SECRET_PREFIX.length; at < secret.length - 1; at++) {
      if (secret[at] === secret[at + 1]) continue;
      const swapped = secret.slice(0, at) + secret[at + 1] + secret[at] + secret.slice(at + 2);
      expect(hasValidSecretFormat(swapped), `position ${at}`).toBe(false);
    }
  });

  it('refuses a wrong prefix, length, alphabet or type', () => {
    const { secret } = generateSecret();
    expect(hasValidSecretFormat(`klpk_${secret.slice(5)}`)).toBe(false);
    expect(hasValidSecretFormat(secret.slice(0, -1))).toBe(false);
    expect(hasValidSecretFormat(`${secret}0`)).toBe(false);
    expect(hasValidSecretFormat(`${secret.slice(0, 10)}-${secret.slice(11)}`)).toBe(false);
    expect(hasValidSecretFormat('')).toBe(false);
    expect(hasValidSecretFormat(undefined)).toBe(false);
    expect(hasValidSecretFormat(42)).toBe(false);
  });
});

describe('secretsEqual', () => {
  it('compares SHA-256 digests in constant time, case-insensitively', () => {
    const a = hashSecret('one');
    expect(secretsEqual(a, hashSecret('one'))).toBe(true);
    expect(secretsEqual(a, a.toUpperCase())).toBe(true);
    expect(secretsEqual(a, hashSecret('two'))).toBe(false);
  });

  it('is false, never throwing, for anything that is not a digest', () => {
    const a = hashSecret('one');
    expect(secretsEqual(a, a.slice(0, 62))).toBe(false);
    expect(secretsEqual(a, `${a}00`)).toBe(false);
    expect(secretsEqual('', '')).toBe(false);
    expect(secretsEqual(`${a.slice(0, 63)}z`, `${a.slice(0, 63)}z`)).toBe(false);
  });
});
