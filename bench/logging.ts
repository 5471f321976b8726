import { pino } from 'pino';
import { createLogger } from '../src/logger.ts';

/**
 * The server's logger as production runs it (level info, one line per request, pino's
 * asynchronous destination), writing to /dev/null: a bench pays the logging cost, the
 * terminal does not fill up. `--silent-log` benches measure without it.
 */
export function benchLogger(level = process.argv.includes('--silent-log') ? 'silent' : 'info') {
  return createLogger({ level, destination: pino.destination({ dest: '/dev/null', sync: false }) });
}
