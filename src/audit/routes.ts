import type { Request } from 'express';
import type { AppContext } from '../context.ts';
import { accountOf } from '../accounts/sessions.ts';
import type { Handlers } from '../http/route-table.ts';
import type { readSideRoutes } from './contract.ts';
import { ApiError, notFound } from '../http/problem.ts';
import { explainRequest } from './denials.ts';
import { clientStateAt, parseStateQuery } from './state.ts';
import { previewChange } from './preview.ts';
import { HistoryCache } from './history.ts';
import { EXPLAIN_LANGUAGES, type ExplainLanguage, isExplainLanguage } from './i18n.ts';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** `?lang=en|nl` first, then Accept-Language, then English. */
export function explainLanguage(req: Request): ExplainLanguage {
  const explicit = req.query.lang;
  if (explicit !== undefined) {
    if (isExplainLanguage(explicit)) return explicit;
    throw new ApiError(400, 'validation_failed', 'Invalid request', `lang: must be one of ${EXPLAIN_LANGUAGES.join(', ')}`, [
      { field: 'lang', message: `must be one of ${EXPLAIN_LANGUAGES.join(', ')}` },
    ]);
  }
  const negotiated = req.acceptsLanguages([...EXPLAIN_LANGUAGES]);
  return isExplainLanguage(negotiated) ? negotiated : 'en';
}

const invalid = (field: string, message: string) => new ApiError(400, 'validation_failed', 'Invalid request', `${field}: ${message}`, [{ field, message }]);

/**
 * Explain, time travel and the impact preview (DESIGN §11). They replay events; none of them is
 * on the request path, and none writes anything.
 */
export function auditReplayHandlers(ctx: AppContext): Pick<Handlers<typeof readSideRoutes>, 'clientState' | 'explainDecision' | 'previewChange'> {
  const { database, store } = ctx;
  const histories = new HistoryCache(store);

  // The guard ran first (member, read Client): 404 for another organisation's client, 403 for a role that may not.
  const clientState: Handlers<typeof readSideRoutes>['clientState'] = async (req, res) => {
    const account = accountOf(req);
    const clientId = String(req.params.clientId);
    const query = parseStateQuery(req.query, ctx.now());
    if ('field' in query) throw invalid(query.field, query.message);
    // another organisation's client does not exist for the caller; a deleted one does
    const outcome = await clientStateAt({ database, store, histories }, clientId, query, account.organisationId);
    switch (outcome.kind) {
      case 'not_found':
        throw notFound(`client ${clientId}`);
      case 'state':
        res.json(outcome.state);
        return;
      case 'not_yet_created':
        throw new ApiError(404, 'not_yet_created', 'Not yet created', `client ${clientId} did not exist yet at that ${'at' in query ? 'time' : 'position'}`);
      case 'no_such_position':
        throw invalid('position', 'is not the position of an event of this client or its organisation, nor of one of its denials');
      default: {
        const _exhaustive: never = outcome;
        return _exhaustive;
      }
    }
  };

  const explainDecision: Handlers<typeof readSideRoutes>['explainDecision'] = async (req, res) => {
    const requestId = String(req.params.requestId);
    if (!REQUEST_ID.test(requestId)) throw invalid('requestId', 'must be a request id: 1–128 letters, digits, and . _ : -');
    const language = explainLanguage(req);
    const outcome = await explainRequest({ database, store, histories }, requestId, { organisationId: accountOf(req).organisationId, language, now: ctx.now() });
    switch (outcome.kind) {
      case 'explained':
        res.json(outcome.explanation);
        return;
      case 'not_found':
        throw new ApiError(404, 'not_found', 'Not found', `no denial ${requestId} is known to your organisation (denials are kept 30 days)`);
      case 'not_a_denial': {
        const hint = outcome.denials.length > 0 ? `; it was the caller's own X-Request-Id of denial(s) ${outcome.denials.join(', ')}` : '';
        throw new ApiError(
          404,
          'not_a_denial',
          'Not a denial',
          `${requestId} is not a denial id: only refused requests can be explained, and every denial's id starts with den_ (allowed requests are only counted)${hint}`,
        );
      }
      default: {
        const _exhaustive: never = outcome;
        return _exhaustive;
      }
    }
  };

  const preview: Handlers<typeof readSideRoutes>['previewChange'] = async (req, res) => {
    res.json(await previewChange(ctx, histories, accountOf(req), String(req.params.clientId), req.body, explainLanguage(req)));
  };

  return { clientState, explainDecision, previewChange: preview };
}
