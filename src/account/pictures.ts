import { randomBytes } from 'node:crypto';
import sharp from 'sharp';
import type { Kysely } from 'kysely';
import type { CoreDatabase } from '../db/schema.ts';

/** An upload may be at most 5 MB; it is stored re-encoded, at most 512×512, as WebP. */
export const MAX_PICTURE_BYTES = 5 * 1024 * 1024;
const MAX_SIDE = 512;
const ACCEPTED_FORMATS = new Set(['jpeg', 'png', 'webp']);

export type PictureRefusal = 'picture_too_large' | 'picture_type' | 'picture_unreadable';

export class PictureError extends Error {
  constructor(readonly code: PictureRefusal) {
    super(code);
  }
}

/**
 * Decodes an upload with sharp (libvips) and encodes it afresh: only the pixels survive — no
 * metadata (location, camera), no trailing bytes, nothing a browser could take for a script. The
 * format is read from the bytes themselves, never from the file name or the declared type.
 */
export async function reencodePicture(input: Buffer): Promise<Buffer> {
  if (input.length > MAX_PICTURE_BYTES) throw new PictureError('picture_too_large');
  let format: string | undefined;
  try {
    format = (await sharp(input, { limitInputPixels: 40_000_000 }).metadata()).format;
  } catch {
    throw new PictureError('picture_unreadable');
  }
  if (!format || !ACCEPTED_FORMATS.has(format)) throw new PictureError('picture_type');
  try {
    return await sharp(input, { limitInputPixels: 40_000_000 })
      .rotate() // apply the EXIF orientation before it is dropped
      .resize(MAX_SIDE, MAX_SIDE, { fit: 'cover', withoutEnlargement: true })
      .webp({ quality: 85 })
      .toBuffer();
  } catch {
    throw new PictureError('picture_unreadable');
  }
}

/** Stores the user's one picture (replacing any earlier one) under a new unguessable id; returns the id. */
export async function storePicture(db: Kysely<CoreDatabase>, sub: number, webp: Buffer, now: Date): Promise<string> {
  const pictureId = randomBytes(16).toString('base64url');
  await db.transaction().execute(async (tx) => {
    await tx.deleteFrom('user_pictures').where('user_sub', '=', sub).execute();
    await tx.insertInto('user_pictures').values({ picture_id: pictureId, user_sub: sub, content_type: 'image/webp', data: webp, created_at: now }).execute();
  });
  return pictureId;
}

export async function loadPicture(db: Kysely<CoreDatabase>, pictureId: string) {
  if (!/^[A-Za-z0-9_-]{22}$/.test(pictureId)) return undefined;
  return await db.selectFrom('user_pictures').select(['content_type', 'data']).where('picture_id', '=', pictureId).executeTakeFirst();
}
