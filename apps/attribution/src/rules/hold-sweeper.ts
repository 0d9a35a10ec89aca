import { randomUUID } from 'node:crypto';
import { BeforeApplicationShutdown, Inject, Injectable, OnApplicationBootstrap } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { CLOCK, Clock } from '@trackly/kernel';
import type { Logger } from '@trackly/logging';
import { Events, Outbox, OutboxRelay } from '@trackly/messaging';
import { PeriodicTask } from '@trackly/platform';
import type { AttributionConfig } from '../attribution.config';
import { ATTRIBUTION_CONFIG, ATTRIBUTION_LOGGER } from '../attribution.tokens';
import { toAttribution } from '../decisions/attribution.mappers';
import { DecisionEntity } from '../decisions/decision.entity';

export const HOLD_RELEASE_CAUSE = 'hold-released';
const CHUNK = 500;

/**
 * Approves held conversions whose hold period has passed: credited, still PENDING (an adjustment meanwhile moved the
 * status, or cleared the hold, and the partner's word stands), not over a cap. Each release is logged in corrections
 * and published as AttributionCorrected (cause "hold-released"), in the transaction that approves it; rows are
 * locked with SKIP LOCKED so replicas share the work. Runs every ATTRIBUTION_HOLD_SWEEP_SECONDS.
 */
@Injectable()
export class HoldSweeper implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly task: PeriodicTask;

  constructor(
    private readonly ds: DataSource,
    private readonly outbox: Outbox,
    private readonly relay: OutboxRelay,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(ATTRIBUTION_CONFIG) config: AttributionConfig,
    @Inject(ATTRIBUTION_LOGGER) logger: Logger,
  ) {
    this.task = new PeriodicTask(config.ATTRIBUTION_HOLD_SWEEP_SECONDS * 1000, () => this.sweep(), (e) => logger.warn({ err: (e as Error).message }, 'hold sweep failed; will retry'));
  }

  onApplicationBootstrap(): void {
    this.task.start();
  }

  beforeApplicationShutdown(): Promise<void> {
    return this.task.stop();
  }

  /** Releases every due hold, a chunk per transaction; returns how many were approved. */
  async sweep(): Promise<number> {
    let released = 0;
    for (;;) {
      const n = await this.ds.transaction(async (m) => {
        const now = this.clock.now();
        const due = await m
          .createQueryBuilder(DecisionEntity, 'd')
          .setLock('pessimistic_write')
          .setOnLocked('skip_locked')
          .where(`d.hold_until IS NOT NULL AND d.status = 'PENDING' AND d.hold_until <= :now AND d.outcome = 'ATTRIBUTED' AND NOT d.over_cap`, { now })
          .orderBy('d.hold_until')
          .take(CHUNK)
          .getMany();
        if (!due.length) return 0;
        const events = due.map((d) => {
          const next: DecisionEntity = {
            ...d,
            status: 'APPROVED',
            revision: d.revision + 1,
            updatedAt: now,
            explanation: `${d.explanation} Hold released at ${now.toISOString()}: approved.`.slice(0, 8000),
          };
          return { previous: toAttribution(d), current: toAttribution(next), cause: HOLD_RELEASE_CAUSE, correctionId: randomUUID(), next };
        });
        await m.query(
          `UPDATE "attribution".decisions d SET status = 'APPROVED', revision = d.revision + 1, updated_at = $3, explanation = u.explanation
           FROM unnest($1::text[], $2::text[], $4::text[]) AS u(partner_id, conversion_id, explanation)
           WHERE d.partner_id = u.partner_id AND d.conversion_id = u.conversion_id`,
          [due.map((d) => d.partnerId), due.map((d) => d.conversionId), now, events.map((e) => e.next.explanation)],
        );
        await m.query(
          `INSERT INTO "attribution".corrections (correction_id, partner_id, conversion_id, cause, source_id, emitted, explanation, created_at)
           SELECT u.id, u.p, u.c, $4, u.id::text, true, $5, $6
           FROM unnest($1::uuid[], $2::text[], $3::text[]) AS u(id, p, c)`,
          [events.map((e) => e.correctionId), due.map((d) => d.partnerId), due.map((d) => d.conversionId), HOLD_RELEASE_CAUSE, 'Hold period over: approved.', now],
        );
        await this.outbox.addMany(m, Events.AttributionCorrected, events.map(({ previous, current, cause, correctionId }) => ({ previous, current, cause, correctionId })));
        return due.length;
      });
      released += n;
      if (n < CHUNK || this.task.stopping) break;
    }
    if (released) this.relay.kick();
    return released;
  }
}
