/**
 * Client secret format.
 *
 *   klsk_ <43 random base62 characters> <6 base62 checksum characters>      (54 characters in all)
 *
 * - Alphabet: base62 `0-9A-Za-z`; each random character is drawn with `crypto.randomInt(62)`, so
 *   43 characters carry 43 × log2(62) ≈ 256.03 bits of entropy.
 * - Checksum: CRC32 (`zlib.crc32`) of the 43-character random part, written in base62 and
 *   left-padded with '0' to 6 characters (62^6 > 2^32). It lets the request path refuse a mistyped
 *   or truncated secret without a database lookup; it is not a security measure.
 * - Storage: only `secretHash` = SHA-256 (hex) of the whole secret string is kept. The secret is
 *   random with 256 bits of entropy, so a fast unsalted hash is sufficient and allows lookup by hash.
 * - Display: `hint` = `klsk_…` + the last 4 characters, safe to show in lists and events.
 *
 * The plaintext exists only in the return value of `generateSecret`; it is shown to the user once.
 */
import { createHash, randomInt, timingSafeEqual } from 'node:crypto';
import { crc32 } from 'node:zlib';

export const SECRET_PREFIX = 'klsk_';
export const SECRET_RANDOM_LENGTH = 43;
export const SECRET_CHECKSUM_LENGTH = 6;
export const SECRET_LENGTH = SECRET_PREFIX.length + SECRET_RANDOM_LENGTH + SECRET_CHECKSUM_LENGTH;

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const BASE62_BODY = new RegExp(`^[0-9A-Za-z]{${SECRET_RANDOM_LENGTH + SECRET_CHECKSUM_LENGTH}}$`);
const SHA256_HEX = /^[0-9a-f]{64}$/i;

export interface GeneratedSecret {
  /** the plaintext: return it to the user once, never log or store it */
  readonly secret: string;
  readonly secretHash: string;
  readonly hint: string;
}

function toBase62(value: number, width: number): string {
  let out = '';
  let rest = value;
  do {
    out = BASE62[rest % 62]! + out;
    rest = Math.floor(rest / 62);
  } while (rest > 0);
  return out.padStart(width, '0');
}

function checksum(randomPart: string): string {
  return toBase62(crc32(randomPart), SECRET_CHECKSUM_LENGTH);
}

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

export function secretHint(secret: string): string {
  return `${SECRET_PREFIX}…${secret.slice(-4)}`;
}

export function generateSecret(): GeneratedSecret {
  let randomPart = '';
  for (let i = 0; i < SECRET_RANDOM_LENGTH; i++) randomPart += BASE62[randomInt(62)]!;
  const secret = `${SECRET_PREFIX}${randomPart}${checksum(randomPart)}`;
  return { secret, secretHash: hashSecret(secret), hint: secretHint(secret) };
}

/** Prefix, length, alphabet and checksum: a cheap check before any lookup. */
export function hasValidSecretFormat(candidate: unknown): candidate is string {
  if (typeof candidate !== 'string' || candidate.length !== SECRET_LENGTH) return false;
  if (!candidate.startsWith(SECRET_PREFIX)) return false;
  const body = candidate.slice(SECRET_PREFIX.length);
  if (!BASE62_BODY.test(body)) return false;
  const randomPart = body.slice(0, SECRET_RANDOM_LENGTH);
  return body.slice(SECRET_RANDOM_LENGTH) === checksum(randomPart);
}

/** Constant-time comparison of two SHA-256 hex digests; false for anything that is not one. */
export function secretsEqual(hashHexA: string, hashHexB: string): boolean {
  if (!SHA256_HEX.test(hashHexA) || !SHA256_HEX.test(hashHexB)) return false;
  return timingSafeEqual(Buffer.from(hashHexA, 'hex'), Buffer.from(hashHexB, 'hex'));
}
