import { afterAll } from 'vitest';
import { recordedViolations } from './response-contract.ts';

/**
 * A vitest setup file: after each test file, fail it if any response it produced broke the
 * OpenAPI document (test/support/response-contract.ts), naming route, status and where.
 */
afterAll(() => {
  const violations = recordedViolations();
  if (violations.length === 0) return;
  const lines = violations.slice(0, 30).map((v) => `${v.route} → ${v.status}: ${v.problems.join('; ')}`);
  const more = violations.length > 30 ? `\n… and ${violations.length - 30} more` : '';
  throw new Error(`responses that do not match /openapi.json:\n${lines.join('\n')}${more}`);
});
