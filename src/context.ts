import type { Logger } from 'pino';
import type { Config } from './config.ts';
import type { Database } from './db/database.ts';
import type { EventStore } from './eventstore/port.ts';
import type { CommandHandler } from './eventstore/command-handler.ts';
import type { ProjectionWatcher } from '../projections/watcher.ts';
import type { Mailer } from './mail/mailer.ts';

/** What route factories and services are built from; nothing reaches for a global. */
export interface AppContext {
  readonly config: Config;
  readonly database: Database;
  readonly store: EventStore;
  readonly commands: CommandHandler;
  readonly watcher: ProjectionWatcher;
  readonly logger: Logger;
  readonly now: () => Date;
  /** outgoing mail (SMTP, or the outbox folder when SMTP_URL is unset) */
  readonly mailer: Mailer;
  /** a session ended (logout): live connections made with it must close */
  readonly sessionEnded?: (sessionHash: string) => void;
}
