import { parsePosition } from '../../src/eventstore/port.ts';
import type { TestApp } from './app.ts';
import { Caller, PASSWORD, uniqueEmail } from './http.ts';

/**
 * Waits until the node's projector has reached a fresh write (a sentinel registration). A cold
 * projector thread can take longer than WRITE_WAIT_MS to start on a busy machine; a test's first
 * sign-up would then log in before its membership is projected (401).
 */
export async function projectorLive(node: TestApp): Promise<void> {
  const sentinel = await new Caller(node.url).post('/manage/v1/account/register', { email: uniqueEmail('sentinel'), password: PASSWORD, name: 'Sentinel' });
  const position = parsePosition(String(sentinel.body?.position));
  if (!position || !(await node.app.ctx.watcher.waitFor(position, 60_000))) {
    throw new Error(`the projector did not reach a fresh write: ${sentinel.status} ${sentinel.text}`);
  }
}
