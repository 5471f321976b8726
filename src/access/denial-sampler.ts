import { callerNetwork } from './throttle.ts';

/** What the sampler needs of a denial (a subset of the decision log's row). */
export interface SampledDenial {
  readonly at: Date;
  readonly clientId: string | null;
  readonly clientKnown?: boolean;
  readonly ip: string | null;
  readonly reason: string;
}

/** One row of `auth_denial_counts`, to be added to what is stored. */
export interface DenialCount {
  readonly clientId: string;
  readonly minute: Date;
  readonly reason: string;
  readonly ip: string;
  readonly count: number;
  readonly sampled: number;
}

export interface DenialSamplerOptions {
  /** denials kept in full per (client, minute, reason, caller network); the rest are only counted */
  readonly samplesPerGroup?: number;
  /** denials naming no known client kept in full per minute, over all groups (a many-address flood) */
  readonly unknownSamplesPerMinute?: number;
}

const MINUTE = 60_000;
const SEPARATOR = '\u0000';

/**
 * Decides which denials the decision log keeps in full, and counts them all. Denials are
 * grouped by (client, minute, reason, caller network); the client is the id as sent when it
 * names a known client, else one bucket ('') — so random ids fall into one group. The first
 * `samplesPerGroup` of a group are kept in full (with their request ids); every denial is
 * counted. Groups are per node: N nodes keep up to N × the samples.
 */
export class DenialSampler {
  private readonly samplesPerGroup: number;
  private readonly unknownSamplesPerMinute: number;
  /** minute → group → denials seen (only the current and previous minutes are kept) */
  private readonly seen = new Map<number, Map<string, number>>();
  private readonly unknownSampled = new Map<number, number>();
  private pending = new Map<string, { count: number; sampled: number }>();

  constructor(options: DenialSamplerOptions = {}) {
    this.samplesPerGroup = options.samplesPerGroup ?? 10;
    this.unknownSamplesPerMinute = options.unknownSamplesPerMinute ?? 1_000;
  }

  /**
   * Counts the denial and, when it is among the first of its group, offers it to `keep` (which
   * answers false when it could not keep it, e.g. a full queue: then it is only counted).
   */
  record(denial: SampledDenial, keep: () => boolean): void {
    const minute = Math.floor(denial.at.getTime() / MINUTE) * MINUTE;
    const client = denial.clientKnown && denial.clientId ? denial.clientId : '';
    const group = [client, denial.reason, callerNetwork(denial.ip)].join(SEPARATOR);
    const seen = this.minute(minute);
    const n = (seen.get(group) ?? 0) + 1;
    seen.set(group, n);
    let sample = n <= this.samplesPerGroup;
    if (sample && client === '') {
      const unknown = this.unknownSampled.get(minute) ?? 0;
      sample = unknown < this.unknownSamplesPerMinute;
      if (sample) this.unknownSampled.set(minute, unknown + 1);
    }
    const key = `${minute}${SEPARATOR}${group}`;
    const counted = this.pending.get(key) ?? { count: 0, sampled: 0 };
    counted.count += 1;
    if (sample && keep()) counted.sampled += 1;
    this.pending.set(key, counted);
  }

  /** Takes the counts gathered since the last call. */
  drain(): DenialCount[] {
    const pending = this.pending;
    this.pending = new Map();
    // sorted, so nodes upserting at once lock rows in the same order (no deadlock)
    return [...pending].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([key, { count, sampled }]) => {
      const [minute, clientId, reason, ip] = key.split(SEPARATOR) as [string, string, string, string];
      return { clientId, minute: new Date(Number(minute)), reason, ip, count, sampled };
    });
  }

  get hasPending(): boolean {
    return this.pending.size > 0;
  }

  private minute(minute: number): Map<string, number> {
    let seen = this.seen.get(minute);
    if (!seen) {
      seen = new Map();
      this.seen.set(minute, seen);
      // A late denial may still belong to the previous minute; older groups are done.
      for (const old of this.seen.keys()) if (old < minute - MINUTE) this.seen.delete(old);
      for (const old of this.unknownSampled.keys()) if (old < minute - MINUTE) this.unknownSampled.delete(old);
    }
    return seen;
  }
}
