import http from 'node:http';
import { type Caller, signUp } from './http.ts';

export interface PartnerSetup {
  caller: Caller;
  clientId: string;
  secret: string;
  secretId: string;
  domainId: string;
  domain: string;
}

/** An organisation with a plan, a client, one domain linked to its first secret. */
export async function partnerSetup(
  baseUrl: string,
  options: { plan?: 'starter' | 'pro' | 'business'; domain?: string; domainSettings?: Record<string, unknown>; scopes?: string[] } = {},
): Promise<PartnerSetup> {
  const { caller } = await signUp(baseUrl, { plan: options.plan ?? 'pro' });
  const created = await caller.post('/manage/v1/clients', { name: 'Partner app' });
  if (created.status !== 201) throw new Error(`client: ${created.text}`);
  const domain = options.domain ?? 'api.example.com';
  const added = await caller.post(`/manage/v1/clients/${created.body.clientId}/domains`, { domain, ...options.domainSettings });
  if (added.status !== 201) throw new Error(`domain: ${added.text}`);
  if (options.scopes) await caller.put(`/manage/v1/clients/${created.body.clientId}/scopes`, { scopes: options.scopes });
  return {
    caller,
    clientId: created.body.clientId,
    secret: created.body.secret.secret,
    secretId: created.body.secret.secretId,
    domainId: added.body.domainId,
    domain,
  };
}

/** What a partner server sends: the XWMS SDK's three headers and JSON. */
export function partnerHeaders(p: { clientId: string; secret: string; domain: string }, extra: Record<string, string> = {}): Record<string, string> {
  return {
    'X-Client-Id': p.clientId,
    'X-Client-Secret': p.secret,
    'X-Client-Domain': p.domain,
    Accept: 'application/json',
    ...extra,
  };
}

export async function callApi(baseUrl: string, path: string, headers: Record<string, string>, body?: unknown) {
  const res = await fetch(baseUrl + path, {
    method: body === undefined ? 'GET' : 'POST',
    headers: body === undefined ? headers : { ...headers, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = (await res.json()) as { status: string; message: string; code?: string; data: any; request_id?: string };
  return { status: res.status, body: json, headers: res.headers };
}

/**
 * The same call, sent from another local address (any 127.x.y.z reaches a server on 127.0.0.1
 * on Linux): a second machine, as far as the server can tell, without trusting a proxy header.
 */
export function callApiFrom(localAddress: string, baseUrl: string, path: string, headers: Record<string, string>) {
  return new Promise<{ status: number; body: { status: string; message: string; code?: string; data: any; request_id?: string }; headers: Headers }>(
    (resolve, reject) => {
      const request = http.request(baseUrl + path, { method: 'GET', headers, localAddress, agent: false }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => {
          const responseHeaders = new Headers();
          for (const [name, value] of Object.entries(res.headers)) if (typeof value === 'string') responseHeaders.set(name, value);
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(text), headers: responseHeaders });
        });
        res.on('error', reject);
      });
      request.on('error', reject);
      request.end();
    },
  );
}
