import { z } from 'zod';
import type { AppContext } from '../context.ts';
import { accessOf } from '../access/pipeline.ts';
import type { Handlers } from '../http/route-table.ts';
import type { PARTNER_TABLE } from '../api/contract.ts';
import { XwmsError, success } from '../api/envelope.ts';
import { parseBody } from '../users/input.ts';
import { findProfile, signInClaims } from '../users/profiles.ts';
import { publicBase } from '../http/origin.ts';
import { checkRedirectUrl } from './redirect-rules.ts';
import { issueSignInToken, pruneSignInTokens, recordClientUser, redeemSignInToken } from './tokens.ts';

export const SIGN_IN_PAGE_PATH = '/signin';

export const signTokenBody = z.object({
  redirect_url: z.string({ error: (i) => (i.input === undefined ? 'is required' : 'must be a string') }).min(1, 'must not be empty').max(2048, 'must be at most 2048 characters'),
});
export const verifyBody = z.object({
  token: z.string({ error: (i) => (i.input === undefined ? 'is required' : 'must be a string') }).min(1, 'must not be empty').max(512, 'is too long'),
});

const invalidToken = () =>
  new XwmsError(400, 'invalid_token', 'The token is unknown, expired, already used, not approved, or was not issued to this client.', 'token');

/** sign-token and sign-token-verify (DESIGN §7): the partner's half of the hosted sign-in. */
export function signInPartnerHandlers(ctx: AppContext): Handlers<(typeof PARTNER_TABLE)['signIn']> {
  const { db } = ctx.database;
  return {
    auth_signin: async (req, res) => {
      const grant = accessOf(req);
      const { redirect_url } = parseBody(signTokenBody, req.body);
      const registered = await ctx.database.rm.selectFrom('redirect_uris').select('uri').where('client_id', '=', grant.clientId).execute();
      const check = checkRedirectUrl(
        redirect_url,
        registered.map((r) => r.uri),
        { domain: grant.domain, testMode: grant.testMode },
      );
      if (!check.ok) throw new XwmsError(400, 'redirect_uri_mismatch', check.message, 'redirect_url');
      // Never a link on a host the caller named: PUBLIC_URL, or an allowed Host (the edge already refused others).
      const base = publicBase(ctx.config, req);
      if (base === undefined) throw new XwmsError(400, 'host_not_allowed', 'The Host header names a host this server does not answer to.');
      const { token, expiresAt } = await issueSignInToken(db, { clientId: grant.clientId, domainId: grant.domainId, redirectUrl: redirect_url }, ctx.now());
      // Every issue clears a few long-expired tokens, so the table stays small without a timer.
      await pruneSignInTokens(db, ctx.now());
      success(
        res,
        {
          client_id: grant.clientId,
          token,
          expires_at: expiresAt.toISOString(),
          url: `${base}${SIGN_IN_PAGE_PATH}?${new URLSearchParams({ token })}`,
        },
        'Sign-in token created; send the user to url.',
      );
    },

    auth_verify: async (req, res) => {
      const grant = accessOf(req);
      const { token } = parseBody(verifyBody, req.body);
      const now = ctx.now();
      const userSub = await db.transaction().execute(async (trx) => {
        const redeemed = await redeemSignInToken(trx, token, { clientId: grant.clientId, domainId: grant.domainId }, now);
        if (!redeemed) return undefined;
        // A test user removed between approval and verify no longer gets through (the token stays used).
        if (grant.testMode && !grant.testUsers.has(redeemed.userSub)) return undefined;
        await recordClientUser(trx, grant.clientId, redeemed.userSub, now);
        return redeemed.userSub;
      });
      if (userSub === undefined) throw invalidToken();
      const profile = await findProfile(db, userSub);
      if (!profile) throw invalidToken();
      success(res, signInClaims(profile), 'Token verified.');
    },
  };
}
