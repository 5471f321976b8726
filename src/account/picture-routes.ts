import { Router, type Request } from 'express';
import multer from 'multer';
import type { AppContext } from '../context.ts';
import { refuseCrossOriginWrites } from '../http/origin.ts';
import { MAX_PICTURE_BYTES, loadPicture } from './pictures.ts';
import type { UploadedPicture } from './pages.ts';

/**
 * The picture upload's multipart body is read here, before the page layer's router (whose CSRF
 * check needs the form's fields): the origin check first, then multer into memory with a size
 * limit. Whatever multer refuses becomes a refusal the page shows, never an error page.
 */
export function pictureUpload(ctx: AppContext): Router {
  const router = Router();
  const parse = multer({ storage: multer.memoryStorage(), limits: { fileSize: MAX_PICTURE_BYTES, files: 1, fields: 10, fieldSize: 1_000 } }).single('picture');
  router.post('/picture', refuseCrossOriginWrites(ctx.config), (req, res, next) => {
    if (!req.is('multipart/form-data')) return next();
    parse(req, res, (error: unknown) => {
      const holder = req as Request & { picture?: UploadedPicture };
      if (error) {
        const code = (error as { code?: string }).code;
        holder.picture = { refusal: code === 'LIMIT_FILE_SIZE' ? 'picture_too_large' : 'picture_unreadable' };
        // the fields after the file were not read: the CSRF token must be sent before the file
      } else if (req.file) {
        holder.picture = { buffer: req.file.buffer };
      }
      next();
    });
  });
  return router;
}

/**
 * Uploaded pictures, public by their unguessable id (partners show them on their own sites:
 * `get/user/info` returns the URL). Re-encoded WebP only; never sniffed as anything else.
 */
export function pictureFiles(ctx: AppContext): Router {
  const router = Router();
  router.get('/pictures/:pictureId', async (req, res) => {
    const picture = await loadPicture(ctx.database.db, req.params.pictureId);
    if (!picture) return res.status(404).type('text/plain').send('not found');
    res.set({
      'Content-Type': picture.content_type,
      'X-Content-Type-Options': 'nosniff',
      'Cross-Origin-Resource-Policy': 'cross-origin',
      'Content-Security-Policy': "default-src 'none'; sandbox",
      'Cache-Control': 'public, max-age=86400',
    });
    res.send(picture.data);
  });
  return router;
}
