import { describe, expect, it } from 'vitest';
import { callerNetwork, FailedAuthThrottle } from './throttle.ts';

describe('callerNetwork', () => {
  it('is the IPv4 address, the IPv4 of a mapped address, or the /64 of an IPv6 address', () => {
    expect(callerNetwork('203.0.113.7')).toBe('203.0.113.7');
    expect(callerNetwork('::ffff:203.0.113.7')).toBe('203.0.113.7');
    expect(callerNetwork('::FFFF:203.0.113.7')).toBe('203.0.113.7');
    expect(callerNetwork('2001:db8:1:2:3:4:5:6')).toBe('2001:db8:1:2::/64');
    expect(callerNetwork('2001:db8:1:2::ffff')).toBe('2001:db8:1:2::/64');
    expect(callerNetwork('::1')).toBe('::/64');
    expect(callerNetwork('999.1.1.1')).toBe('invalid');
    expect(callerNetwork(undefined)).toBe('unknown');
  });
});

describe('FailedAuthThrottle', () => {
  const settle = () => new Promise((resolve) => setImmediate(resolve));

  it('refuses a network once its failures reach the budget, and no other network', async () => {
    const throttle = new FailedAuthThrottle({ failures: 3, windowSeconds: 60 });
    throttle.fail('a');
    throttle.fail('a');
    await settle();
    expect(throttle.refusedFor('a')).toBe(0);
    throttle.fail('a');
    await settle();
    expect(throttle.refusedFor('a')).toBeGreaterThan(0);
    expect(throttle.refusedFor('b')).toBe(0);
  });

  it('a reserved lookup that finds its client gives its point back, so good traffic never adds up', async () => {
    const throttle = new FailedAuthThrottle({ failures: 2, windowSeconds: 60 });
    for (let i = 0; i < 10; i++) {
      expect(await throttle.reserve('partner')).toBe(0);
      throttle.release('partner');
      await settle();
    }
    expect(throttle.refusedFor('partner')).toBe(0);
  });

  it('reservations beyond the budget are refused at once, however many run at the same time', async () => {
    const throttle = new FailedAuthThrottle({ failures: 5, windowSeconds: 60 });
    const waits = await Promise.all(Array.from({ length: 20 }, () => throttle.reserve('flood')));
    expect(waits.filter((w) => w === 0)).toHaveLength(5);
    expect(waits.filter((w) => w > 0)).toHaveLength(15);
    expect(throttle.refusedFor('flood')).toBeGreaterThan(0);
  });
});
