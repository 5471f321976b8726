import { parse as parseCookies } from 'cookie';
import type { Logger } from 'pino';
import type { AppContext } from '../context.ts';
import { isDatabaseUnavailable } from '../db/errors.ts';
import { SESSION_COOKIE, findAccount } from '../accounts/sessions.ts';
import { type LocalState, type SupportLimits, type SupportSocket, refusal } from './channel.ts';
import { STRINGS } from './i18n.ts';
import { SUPPORT_AGENT } from './staff.ts';
import { crossOriginRefused } from '../http/origin.ts';


const single = (value: string | string[] | undefined) => (Array.isArray(value) ? value.join(', ') : value);

export const loginRequired = () => refusal('login_required', { message: { en: STRINGS.en.loginRequired, nl: STRINGS.nl.loginRequired } });

/**
 * The namespace middleware: the same session cookie as the management API, or `login_required`.
 * The socket leaves with `data` (sub, agent) and its node-local state; it disconnects itself
 * when the session expires.
 */
export function authenticate(ctx: AppContext, local: WeakMap<SupportSocket, LocalState>, limits: SupportLimits, logger: Logger) {
  const { database, now } = ctx;
  return async (socket: SupportSocket, next: (error?: Error) => void): Promise<void> => {
    try {
      const headers = socket.handshake.headers;
      // A cross-site page must not open a socket with the visitor's cookie (cross-site WebSocket
      // hijacking): the same origin policy as every cookie-authenticated write.
      const site = { origin: single(headers.origin), secFetchSite: single(headers['sec-fetch-site']), host: single(headers.host) };
      if (crossOriginRefused(ctx.config, site)) {
        next(refusal('origin_not_allowed'));
        return;
      }
      const token = parseCookies(headers.cookie ?? '')[SESSION_COOKIE];
      // The handshake travels to other nodes with fetchSockets: the session cookie must not.
      delete headers.cookie;
      const account = token && token.length < 200 ? await findAccount(database.db, database.rm, token, now()) : undefined;
      const session = account
        ? await database.db.selectFrom('sessions').select('expires_at').where('id_hash', '=', account.sessionHash).executeTakeFirst()
        : undefined;
      if (!account || !session) {
        next(loginRequired());
        return;
      }
      socket.data = { sub: account.sub, agent: account.staffRole === SUPPORT_AGENT };
      const state: LocalState = {
        sessionHash: account.sessionHash,
        organisationId: account.organisationId,
        joined: new Map(),
        typingAt: new Map(),
        inFlight: 0,
        tokens: limits.eventBurst,
        refilledAt: now().getTime(),
      };
      // The gateway's sweep disconnects it with login_required once the session expires (app clock).
      state.expiresAt = session.expires_at.getTime();
      local.set(socket, state);
      next();
    } catch (error) {
      if (isDatabaseUnavailable(error)) return next(refusal('database_unavailable'));
      logger.error({ err: error }, 'support handshake failed');
      next(refusal('internal_error'));
    }
  };
}
