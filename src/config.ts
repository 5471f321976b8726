import { z } from 'zod';
import { parseHost, parseOrigin } from './http/hosts.ts';
import type { DatabaseTimeouts } from './db/connections.ts';

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

/** A comma-separated list; each entry parsed by `parse`, or the issue names the entry. */
const list = <T>(parse: (entry: string) => T | undefined, example: string) =>
  z
    .string()
    .optional()
    .transform((value, ctx) => {
      const entries = (value ?? '').split(',').map((e) => e.trim()).filter((e) => e !== '');
      const parsed: T[] = [];
      for (const entry of entries) {
        const item = parse(entry);
        if (item === undefined) ctx.addIssue({ code: 'custom', message: `"${entry}" is not valid (e.g. ${example})` });
        else parsed.push(item);
      }
      return parsed;
    });

const schema = z.object({
  /** `production` refuses to start without PUBLIC_URL or ALLOWED_HOSTS */
  NODE_ENV: z.string().default('development'),
  PORT: z.coerce.number().int().min(0).max(65_535).default(3000),
  HOST: z.string().min(1).default('0.0.0.0'),
  /** Prometheus `GET /metrics` on its own listener; unset: no metrics are kept or served (never on PORT) */
  METRICS_PORT: z.coerce.number().int().min(0).max(65_535).optional(),
  /** the metrics listener's address (default: HOST); keep it off the public network */
  METRICS_HOST: z.string().min(1).optional(),
  DATA_DIR: z.string().min(1).default('./data'),
  DATABASE_URL: z.string().url().optional(),
  EVENTSTORE_URL: z
    .string()
    .regex(/^(esdb|esdb\+discover|kurrentdb):\/\//, 'must be an esdb:// connection string, e.g. esdb://localhost:2113?tls=false')
    .optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Express "trust proxy": false (default), true, a hop count or a list of addresses */
  TRUST_PROXY: z.string().default('false'),
  /** the public base URL, used in links and as the app's own origin */
  PUBLIC_URL: z.url({ protocol: /^https?$/, message: 'must be an http(s) URL, e.g. https://id.example.com' }).optional(),
  /** without PUBLIC_URL: the hosts (Host header) the app answers to and builds links on; development allows loopback */
  ALLOWED_HOSTS: list(parseHost, 'id.example.com or id.example.com:8443'),
  /** other origins whose pages may write with the session cookie (e.g. a separate admin front end) */
  TRUSTED_ORIGINS: list(parseOrigin, 'https://admin.example.com'),
  /** how far the old generation grows past what a full collection kept before the next, in percent (src/runtime.ts); 0: V8's own */
  GC_HEAP_GROWING_PERCENT: z.coerce.number().int().min(0).max(1_000).default(100),
  /** how long a write waits for the read models to reach it before answering */
  WRITE_WAIT_MS: z.coerce.number().int().min(0).max(60_000).default(5_000),
  SESSION_TTL_HOURS: z.coerce.number().int().min(1).max(24 * 90).default(24 * 14),
  /** failed partner-API authentications per caller IP (IPv6: /64) per window, per node, before 429 rate_limited */
  AUTH_FAILURES_PER_IP: z.coerce.number().int().min(1).max(1_000_000).default(100),
  AUTH_FAILURE_WINDOW_SECONDS: z.coerce.number().int().min(1).max(86_400).default(60),
  /** serve cookies as Secure even over plain http (behind a TLS-terminating proxy) */
  COOKIE_SECURE: bool.optional(),
  /** connecting to Postgres, and waiting for a free pooled connection */
  DB_CONNECT_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(3_000),
  /** Postgres cancels a statement running longer than this (statement_timeout) */
  DB_STATEMENT_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(5_000),
  /** a query the server does not answer in this time fails here (a frozen server cannot cancel it) */
  DB_QUERY_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(6_000),
  /** Postgres ends a session that sits idle inside a transaction this long */
  DB_IDLE_IN_TRANSACTION_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(10_000),
  /** outgoing mail server, e.g. smtp://user:pass@mail.example.com:587; unset: mail goes to DATA_DIR/outbox */
  SMTP_URL: z.string().regex(/^smtps?:\/\/[^\s]+$/, 'must be an smtp:// or smtps:// URL, e.g. smtp://mail.example.com:587').optional(),
  /** sign-up and password-reset requests per caller IP per hour (each sends a mail) */
  ACCOUNT_REQUESTS_PER_IP_PER_HOUR: z.coerce.number().int().min(1).max(1_000_000).default(20),
  /** sign-up and password-reset mails per email address per hour */
  ACCOUNT_MAILS_PER_EMAIL_PER_HOUR: z.coerce.number().int().min(1).max(1_000).default(3),
  /** the From of outgoing mail */
  MAIL_FROM: z.string().min(3).default('Keyledger <no-reply@localhost>'),
  /** an agent offline this long (no socket on any node) hands back the tickets they have not answered; 0 = at once */
  SUPPORT_HANDBACK_SECONDS: z.coerce.number().int().min(0).max(3_600).default(15),
}).superRefine((config, ctx) => {
  if (config.METRICS_PORT !== undefined && config.METRICS_PORT !== 0 && config.METRICS_PORT === config.PORT) {
    ctx.addIssue({ code: 'custom', path: ['METRICS_PORT'], message: 'must differ from PORT: metrics are never served on the public port' });
  }
  // A link built from the Host header points wherever the caller says: production must name its own.
  if (config.NODE_ENV === 'production' && !config.PUBLIC_URL && config.ALLOWED_HOSTS.length === 0) {
    ctx.addIssue({
      code: 'custom',
      path: ['PUBLIC_URL'],
      message: 'set PUBLIC_URL (or ALLOWED_HOSTS) when NODE_ENV=production: links must not be built from the Host header',
    });
  }
});

export type Config = z.infer<typeof schema>;

export class ConfigError extends Error {}

/** Parses the environment once at start-up; a bad value names the variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  // An empty variable (`DATABASE_URL=`) means "not set", as in most tools.
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const result = schema.safeParse(present);
  if (!result.success) {
    const problems = result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new ConfigError(`invalid configuration: ${problems}`);
  }
  return result.data;
}

/** The database timeouts of the running server (DB_* variables). */
export function databaseTimeouts(config: Config): DatabaseTimeouts {
  return {
    connectMs: config.DB_CONNECT_TIMEOUT_MS,
    statementMs: config.DB_STATEMENT_TIMEOUT_MS,
    queryMs: config.DB_QUERY_TIMEOUT_MS,
    idleInTransactionMs: config.DB_IDLE_IN_TRANSACTION_TIMEOUT_MS,
  };
}

/** Express's trust-proxy setting from TRUST_PROXY. */
export function trustProxySetting(value: string): boolean | number | string {
  if (value === 'true') return true;
  if (value === 'false' || value === '') return false;
  if (/^\d+$/.test(value)) return Number(value);
  return value;
}
