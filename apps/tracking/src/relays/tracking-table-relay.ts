import { OnApplicationBootstrap } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { rawPool } from '@trackly/database';
import { Messaging, TableRelay, TableRelayOptions } from '@trackly/messaging';
import type { Logger } from '@trackly/logging';

/**
 * A tracking table published as its own events (no outbox row per row) through a TableRelay on the app's pool:
 * started with the app, kicked by the writers, stopped after a final flush by whoever writes last.
 */
export abstract class TrackingTableRelay<Row extends Record<string, unknown>> implements OnApplicationBootstrap {
  private readonly relay: TableRelay<Row>;

  protected constructor(ds: DataSource, messaging: Messaging, logger: Logger, opts: Omit<TableRelayOptions<Row>, 'pool' | 'messaging' | 'schema' | 'logger'>) {
    this.relay = new TableRelay<Row>({ pool: rawPool(ds), messaging, schema: 'tracking', logger, ...opts });
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
