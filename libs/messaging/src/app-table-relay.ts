import type { OnApplicationBootstrap } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { rawPool } from '@trackly/database';
import type { Logger } from '@trackly/logging';
import { Messaging } from './messaging';
import { TableRelay, TableRelayOptions } from './table-relay';

/**
 * A service's table published as its own events (no outbox row per row) through a TableRelay on the app's pool:
 * started with the app, kicked by the writers, stopped after a final flush by whoever writes last (tracking's clicks
 * and messages, ingest's conversions).
 */
export abstract class AppTableRelay<Row extends Record<string, unknown>> implements OnApplicationBootstrap {
  private readonly relay: TableRelay<Row>;

  protected constructor(ds: DataSource, messaging: Messaging, logger: Logger, opts: Omit<TableRelayOptions<Row>, 'pool' | 'messaging' | 'logger'>) {
    this.relay = new TableRelay<Row>({ pool: rawPool(ds), messaging, logger, ...opts });
  }

  onApplicationBootstrap(): void {
    this.relay.start();
  }

  kick(): void {
    this.relay.kick();
  }

  /** Final flush, then stop. */
  stop(): Promise<void> {
    return this.relay.stop();
  }

  /** Publishes what is publishable now (tests). */
  flush(): Promise<void> {
    return this.relay.flush();
  }
}
