import { BeforeApplicationShutdown, Inject, Injectable, OnApplicationBootstrap } from '@nestjs/common';
import type { Logger } from '@trackly/logging';
import { OutboxRelay } from '@trackly/messaging';
import { PeriodicTask } from '@trackly/platform';
import type { AttributionConfig } from '../attribution.config';
import { ATTRIBUTION_CONFIG, ATTRIBUTION_LOGGER } from '../attribution.tokens';
import { DecisionFlow } from '../flow/decision-flow';

/**
 * The backoff timer of parked conversions: asks tracking for the due ones' clicks (no transaction open), then
 * settles or reschedules them in one transaction (rows locked with SKIP LOCKED so replicas share the work); past
 * the horizon they are settled UNKNOWN_CLICK_ID.
 */
@Injectable()
export class ParkedSweeper implements OnApplicationBootstrap, BeforeApplicationShutdown {
  /** A tenth of the horizon, between 100 ms and 5 s: a short test horizon settles promptly, production polls lightly. */
  private readonly task: PeriodicTask;

  constructor(
    private readonly relay: OutboxRelay,
    private readonly flow: DecisionFlow,
    @Inject(ATTRIBUTION_CONFIG) config: AttributionConfig,
    @Inject(ATTRIBUTION_LOGGER) logger: Logger,
  ) {
    const intervalMs = Math.max(100, Math.min(5000, Math.floor((config.ATTRIBUTION_PARK_HORIZON_SECONDS * 1000) / 10)));
    this.task = new PeriodicTask(intervalMs, () => this.sweep(), (e) => logger.warn({ err: (e as Error).message }, 'parked conversions sweep failed; will retry'));
  }

  onApplicationBootstrap(): void {
    this.task.start();
  }

  beforeApplicationShutdown(): Promise<void> {
    return this.task.stop();
  }

  /** One pass over the due parked conversions (up to 100); returns how many were settled. */
  async sweep(): Promise<number> {
    if (this.task.stopping) return 0;
    const settled = await this.flow.sweepParked(100);
    if (settled) this.relay.kick();
    return settled;
  }
}
