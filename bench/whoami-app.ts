import type { Request } from 'express';
import { type App, createApp } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { whoami } from '../src/api/routes.ts';
import type { AccessGrant } from '../src/access/pipeline.ts';
import type { PartnerSetup } from '../test/support/partner.ts';
import { benchLogger } from './logging.ts';

/** GET /api/whoami's handler without the access pipeline: a fixed grant stands in for it. */
export const WITHOUT_PIPELINE = '/api/bench/whoami-without-pipeline';

/**
 * The app as bench:access and bench:profile load it: logging as production does (a line per
 * request, asynchronously, to /dev/null here), metrics kept, and beside GET /api/whoami the same
 * handler without the pipeline (`grantFor` sets the partner it answers for).
 */
export async function whoamiApp(databaseUrl: string): Promise<{ app: App; grantFor(p: PartnerSetup): void }> {
  let fixedGrant: AccessGrant | undefined;
  const app = await createApp({
    config: loadConfig({ LOG_LEVEL: 'info', METRICS_PORT: '0' }),
    databaseUrl,
    logger: benchLogger(),
    partnerApiExtensions: [
      (router) => {
        router.get(WITHOUT_PIPELINE.replace(/^\/api/, ''), (req, _res, next) => {
          (req as Request & { access?: AccessGrant }).access = fixedGrant;
          next();
        }, whoami);
      },
    ],
  });
  return {
    app,
    grantFor(p) {
      fixedGrant = { clientId: p.clientId, organisationId: 'org', domainId: p.domainId, domain: p.domain, testMode: false, scopes: [], secretId: p.secretId, testUsers: new Set(), position: '0/0' };
    },
  };
}
