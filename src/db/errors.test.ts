import { describe, expect, it } from 'vitest';
import { isDatabaseUnavailable } from './errors.ts';

const withCode = (code: string, message = 'x') => Object.assign(new Error(message), { code });

describe('which errors mean "the database is unavailable" (503), not "the request is wrong"', () => {
  it.each([
    ['a server shutting down', withCode('57P01', 'terminating connection due to administrator command')],
    ['a statement timeout', withCode('57014', 'canceling statement due to statement timeout')],
    ['a connection exception', withCode('08006')],
    ['too many connections', withCode('53300')],
    ['a refused connection', withCode('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:5432')],
    ['a lost connection', new Error('Connection terminated unexpectedly')],
    ['no free pooled connection', new Error('timeout exceeded when trying to connect')],
    ['a frozen server', new Error('Query read timeout')],
    ['a wrapped cause', new Error('Connection terminated due to connection timeout', { cause: new Error('Connection terminated unexpectedly') })],
    ['one of several addresses refused', new AggregateError([withCode('ECONNREFUSED')], 'connect failed')],
    ['a stopped server\'s Unix socket gone', Object.assign(withCode('ENOENT', 'connect ENOENT /data/postgres/.s.PGSQL.5432'), { syscall: 'connect' })],
  ])('when %s, then it is unavailable', (_what, error) => {
    expect(isDatabaseUnavailable(error)).toBe(true);
  });

  it.each([
    ['a unique violation', withCode('23505', 'duplicate key value')],
    ['invalid input', withCode('22P02', 'invalid input syntax')],
    ['a programming error', new TypeError('x is undefined')],
    ['a missing file', Object.assign(withCode('ENOENT', "ENOENT: no such file or directory, open 'x.png'"), { syscall: 'open' })],
    ['not an error at all', 'Connection terminated'],
  ])('when %s, then it is not', (_what, error) => {
    expect(isDatabaseUnavailable(error)).toBe(false);
  });
});
