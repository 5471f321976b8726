/** Plans and their limits (DESIGN §4). */
export const PLAN_NAMES = ['starter', 'pro', 'business'] as const;
export type PlanName = (typeof PLAN_NAMES)[number];

export interface PlanLimits {
  readonly clients: number;
  readonly domainsPerClient: number;
  readonly secretsPerClient: number;
  readonly requestsPerMinute: number;
}

export const PLAN_LIMITS: Readonly<Record<PlanName, PlanLimits>> = {
  starter: { clients: 1, domainsPerClient: 2, secretsPerClient: 5, requestsPerMinute: 600 },
  pro: { clients: 10, domainsPerClient: 20, secretsPerClient: 25, requestsPerMinute: 6_000 },
  business: { clients: 100, domainsPerClient: 200, secretsPerClient: 100, requestsPerMinute: 600_000 },
};
