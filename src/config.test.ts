import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, trustProxySetting } from './config.ts';

describe('configuration', () => {
  it('when nothing is set, then the defaults run everything embedded', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({ PORT: 3000, DATA_DIR: './data', LOG_LEVEL: 'info', TRUST_PROXY: 'false' });
    expect(config.DATABASE_URL).toBeUndefined();
    expect(config.EVENTSTORE_URL).toBeUndefined();
    // no request waits on Postgres for more than a few seconds
    expect(config).toMatchObject({ DB_CONNECT_TIMEOUT_MS: 3_000, DB_STATEMENT_TIMEOUT_MS: 5_000, DB_QUERY_TIMEOUT_MS: 6_000 });
  });

  it('when a value is bad, then the error names the variable', () => {
    expect(() => loadConfig({ PORT: 'eighty' })).toThrow(ConfigError);
    expect(() => loadConfig({ PORT: 'eighty' })).toThrow(/PORT/);
    expect(() => loadConfig({ EVENTSTORE_URL: 'http://x' })).toThrow(/EVENTSTORE_URL: must be an esdb:\/\//);
  });

  it('when a variable is empty, then it counts as unset', () => {
    expect(loadConfig({ DATABASE_URL: '', EVENTSTORE_URL: '' }).DATABASE_URL).toBeUndefined();
  });

  it('maps TRUST_PROXY to Express settings', () => {
    expect(trustProxySetting('false')).toBe(false);
    expect(trustProxySetting('true')).toBe(true);
    expect(trustProxySetting('2')).toBe(2);
    expect(trustProxySetting('loopback')).toBe('loopback');
  });
});
