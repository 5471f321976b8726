import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, trustProxySetting } from './config.ts';
import { tuneGarbageCollector } from './runtime.ts';

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

  it('when GC_HEAP_GROWING_PERCENT is unset, then the old generation may double before a full collection; 0 leaves it to V8; anything else is refused by name', () => {
    expect(loadConfig({}).GC_HEAP_GROWING_PERCENT).toBe(100);
    expect(loadConfig({ GC_HEAP_GROWING_PERCENT: '0' }).GC_HEAP_GROWING_PERCENT).toBe(0);
    for (const bad of ['-5', '2.5', 'lots', '5000']) expect(() => loadConfig({ GC_HEAP_GROWING_PERCENT: bad })).toThrow(/GC_HEAP_GROWING_PERCENT/);
    expect(() => tuneGarbageCollector(-1)).toThrow(/whole number/);
    // applying it is allowed at any time (V8 reads it at each collection)
    expect(() => tuneGarbageCollector(100)).not.toThrow();
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

  it('when NODE_ENV=production has neither PUBLIC_URL nor ALLOWED_HOSTS, then it refuses to start, naming both', () => {
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(ConfigError);
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(/PUBLIC_URL.*ALLOWED_HOSTS/);
    expect(() => loadConfig({ NODE_ENV: 'production', PUBLIC_URL: '', ALLOWED_HOSTS: ' , ' })).toThrow(/PUBLIC_URL/);
    expect(loadConfig({ NODE_ENV: 'production', PUBLIC_URL: 'https://id.example.com' }).PUBLIC_URL).toBe('https://id.example.com');
    expect(loadConfig({ NODE_ENV: 'production', ALLOWED_HOSTS: 'id.example.com' }).ALLOWED_HOSTS).toEqual([{ hostname: 'id.example.com', port: '' }]);
    // development and test may run without: only loopback hosts are then answered
    expect(loadConfig({ NODE_ENV: 'test' }).ALLOWED_HOSTS).toEqual([]);
  });

  it('parses ALLOWED_HOSTS and TRUSTED_ORIGINS as comma-separated lists, and names a bad entry', () => {
    const config = loadConfig({ ALLOWED_HOSTS: 'ID.Example.com, id.example.com:8443,[::1]', TRUSTED_ORIGINS: 'https://admin.example.com/, http://localhost:5173' });
    expect(config.ALLOWED_HOSTS).toEqual([
      { hostname: 'id.example.com', port: '' },
      { hostname: 'id.example.com', port: '8443' },
      { hostname: '[::1]', port: '' },
    ]);
    expect(config.TRUSTED_ORIGINS).toEqual(['https://admin.example.com', 'http://localhost:5173']);
    expect(() => loadConfig({ ALLOWED_HOSTS: 'https://id.example.com' })).toThrow(/ALLOWED_HOSTS: "https:\/\/id.example.com" is not valid/);
    expect(() => loadConfig({ ALLOWED_HOSTS: 'user@id.example.com' })).toThrow(/ALLOWED_HOSTS/);
    expect(() => loadConfig({ TRUSTED_ORIGINS: 'https://admin.example.com/app' })).toThrow(/TRUSTED_ORIGINS/);
    expect(() => loadConfig({ TRUSTED_ORIGINS: 'null' })).toThrow(/TRUSTED_ORIGINS/);
    expect(() => loadConfig({ PUBLIC_URL: 'ftp://id.example.com' })).toThrow(/PUBLIC_URL/);
  });
});
