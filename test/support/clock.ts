import { vi } from 'vitest';

/**
 * The app's clock in a test (`startTestApp({ now: clock.now })`): real time plus an offset the
 * test moves forward, or stopped at an instant. A test moves it instead of sleeping until a
 * secret expires or a bucket refills, so what it proves does not depend on how busy the machine is.
 */
export interface TestClock {
  readonly now: () => Date;
  /** milliseconds since the epoch, as the app sees them */
  ms(): number;
  /** moves the clock forward by `ms`, stopped or not */
  advance(ms: number): void;
  /** stops the clock where it stands, until `release`; returns that instant */
  freeze(): number;
  /** runs on from where it stands (it never goes back) */
  release(): void;
}

export function testClock(): TestClock {
  let offset = 0;
  let frozenAt: number | undefined;
  const ms = () => frozenAt ?? Date.now() + offset;
  return {
    now: () => new Date(ms()),
    ms,
    advance(by) {
      if (by < 0) throw new Error('the test clock only moves forward');
      if (frozenAt !== undefined) frozenAt += by;
      else offset += by;
    },
    freeze() {
      frozenAt = ms();
      return frozenAt;
    },
    release() {
      if (frozenAt === undefined) return;
      offset = frozenAt - Date.now();
      frozenAt = undefined;
    },
  };
}

/**
 * Runs `body` with `Date` stopped, in the whole process (the app under test runs in it). For
 * limits that libraries count in windows of wall-clock time and take no clock for
 * (rate-limiter-flexible): a burst the test sends falls in one window however slow the machine.
 */
export async function withDateStopped<T>(body: () => Promise<T>): Promise<T> {
  vi.useFakeTimers({ toFake: ['Date'] });
  try {
    return await body();
  } finally {
    vi.useRealTimers();
  }
}
