/**
 * npm run screenshots — the README's dashboard screenshots, taken with Debian's Chromium.
 *
 * Starts the app on a throw-away embedded Postgres, fills a demo organisation through
 * /manage/v1 (a client with domains, secrets, redirect URIs, a refused request), logs the
 * browser in with that session, and writes docs/screenshots/{clients,secrets,explain}.png.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startEmbeddedPostgres } from '../src/db/embedded.ts';
import { createApp } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { createLogger } from '../src/logger.ts';
import { generateSecret } from '../src/clients/secret-format.ts';
import { signUp } from '../test/support/http.ts';
import { hasChromium, launchBrowser } from '../test/browser/browser.ts';

const OUT = fileURLToPath(new URL('../docs/screenshots/', import.meta.url));

async function main(): Promise<void> {
  if (!hasChromium) throw new Error('/usr/bin/chromium is missing: apt-get install -y chromium');
  const dir = await mkdtemp(join(tmpdir(), 'keyledger-screenshots-'));
  const pg = await startEmbeddedPostgres(dir, { database: 'screenshots' });
  const app = await createApp({ config: loadConfig({ LOG_LEVEL: 'silent' }), databaseUrl: pg.connectionString, logger: createLogger({ level: 'silent' }) });
  const browser = await launchBrowser();
  try {
    const { port } = await app.listen(0, '127.0.0.1');
    const base = `http://127.0.0.1:${port}`;
    while (!app.projector.isLeader()) await new Promise((r) => setTimeout(r, 20));
    const ada = await signUp(base, { name: 'Ada Lovelace', email: 'ada@example.com', plan: 'pro' });
    const ok = async (reply: Promise<{ status: number; text: string; body: any }>) => {
      const r = await reply;
      if (r.status >= 300) throw new Error(`${r.status} ${r.text}`);
      return r.body;
    };
    const { clientId } = await ok(ada.caller.post('/manage/v1/clients', { name: 'Bakkerij Jansen' }));
    await ok(ada.caller.post('/manage/v1/clients', { name: 'Webshop staging' }));
    const shop = await ok(ada.caller.post(`/manage/v1/clients/${clientId}/domains`, { domain: 'shop.bakkerij-jansen.nl', primary: true, serverIps: ['203.0.113.0/24'] }));
    await ok(ada.caller.post(`/manage/v1/clients/${clientId}/domains`, { domain: 'test.bakkerij-jansen.nl', testMode: true }));
    const production = await ok(ada.caller.post(`/manage/v1/clients/${clientId}/secrets`, { label: 'Production server', domains: [shop.domainId] }));
    await ok(ada.caller.post(`/manage/v1/clients/${clientId}/secrets/${production.secretId}/rotate`, { graceSeconds: 3_600 }));
    await ok(ada.caller.post(`/manage/v1/clients/${clientId}/secrets`, { label: 'Staging', expiresAt: new Date(Date.now() + 90 * 86_400_000).toISOString() }));
    await ok(ada.caller.post(`/manage/v1/clients/${clientId}/redirect-uris`, { uri: 'https://shop.bakkerij-jansen.nl/auth/callback' }));
    const failed = await fetch(`${base}/api/whoami`, { headers: { 'x-client-id': clientId, 'x-client-secret': generateSecret().secret, 'x-client-domain': 'shop.bakkerij-jansen.nl' } });
    const denialId = failed.headers.get('x-request-id')!;
    await app.access.log.flush();

    const context = await browser!.newContext({ viewport: { width: 1280, height: 820 }, locale: 'en-GB', extraHTTPHeaders: { 'accept-language': 'en' } });
    await context.addCookies([...ada.caller.cookies].map(([name, value]) => ({ name, value, url: base })));
    const page = await context.newPage();
    await mkdir(OUT, { recursive: true });
    const shots: [string, string][] = [
      ['clients', '/dashboard'],
      ['secrets', `/dashboard/clients/${clientId}/secrets`],
      ['explain', `/dashboard/clients/${clientId}/auth-failures/${denialId}`],
    ];
    for (const [name, path] of shots) {
      await page.goto(base + path);
      await page.screenshot({ path: join(OUT, `${name}.png`), fullPage: true });
      console.log(`docs/screenshots/${name}.png`);
    }
  } finally {
    await browser?.close();
    await app.close();
    await pg.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
