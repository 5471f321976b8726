import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { Config } from '../src/config.ts';
import { EventEmitter } from 'node:events';
import type { BatchReport, Projector, ProjectionChange } from './runner.ts';
import type { ProjectionBatchStats } from '../src/metrics/metrics.ts';

export type ProjectorThreadMessage =
  | { type: 'batch'; change: ProjectionChange; report: BatchReport }
  | { type: 'leader'; leading: boolean }
  | { type: 'stopped' };

export interface ProjectorThread extends Projector {
  /** an append happened on this node: wake the projector's reader now */
  appended(): void;
  /**
   * Every batch committed by this node's projector thread, per lane: `batches.on('batch',
   * (report) => …)` gives the lane, its batch size, the batch's duration and the newest event's
   * time (for projection-lag and batch-size metrics).
   */
  readonly batches: EventEmitter<{ batch: [BatchReport] }>;
}

/**
 * Runs the projector in a worker thread of this process (leader election and all), so that
 * projecting never queues behind HTTP work on the main event loop. Each committed batch is
 * posted back and handed to `onBatch` (the watcher), as an in-thread projector would. A thread
 * that dies is started again.
 */
export function createProjectorThread(options: {
  databaseUrl: string;
  config: Config;
  logger: Logger;
  onBatch: (change: ProjectionChange) => void;
  /** each batch's figures, posted by the thread when metrics are on */
  onStats?: (stats: ProjectionBatchStats) => void;
  /** the node's name on the event log's wake-up channel: the thread is poked for the node's appends */
  wakeTag?: string;
}): ProjectorThread {
  let worker: Worker | undefined;
  let running = false;
  let leading = false;
  let poked = false;
  let restart: NodeJS.Timeout | undefined;
  let stopped: (() => void) | undefined;
  const batches = new EventEmitter<{ batch: [BatchReport] }>();

  function spawn(): void {
    const w = new Worker(new URL('./worker-entry.mjs', import.meta.url), {
      workerData: { databaseUrl: options.databaseUrl, config: options.config, stats: options.onStats !== undefined, wakeTag: options.wakeTag },
    });
    worker = w;
    w.on('message', (message: ProjectorThreadMessage) => {
      if (message.type === 'batch') {
        options.onBatch(message.change);
        batches.emit('batch', message.report);
        const { report } = message;
        const newest = Date.parse(report.newestEventAt);
        options.onStats?.({
          group: report.lane,
          events: report.events,
          lagSeconds: Number.isFinite(newest) ? Math.max(0, (Date.now() - newest) / 1000) : 0,
          seconds: report.ms / 1000,
        });
      }
      else if (message.type === 'leader') leading = message.leading;
      else stopped?.();
    });
    w.on('error', (error) => options.logger.error({ err: error }, 'projector thread failed'));
    w.on('exit', (code) => {
      if (worker === w) worker = undefined;
      leading = false;
      stopped?.();
      if (running) {
        options.logger.error({ code }, 'projector thread exited; restarting in 1 s');
        restart = setTimeout(spawn, 1_000);
      }
    });
  }

  return {
    start() {
      if (running) return;
      running = true;
      spawn();
    },
    async stop() {
      running = false;
      clearTimeout(restart);
      const w = worker;
      if (!w) return;
      await new Promise<void>((resolve) => {
        stopped = resolve;
        w.postMessage('stop');
        setTimeout(() => void w.terminate().then(() => resolve()), 10_000).unref();
      });
      await w.terminate().catch(() => {});
    },
    isLeader: () => leading,
    batches,
    appended() {
      if (poked || !worker) return;
      poked = true;
      setImmediate(() => {
        poked = false;
        worker?.postMessage('poke');
      });
    },
  };
}
