import { MigrationInterface, QueryRunner } from 'typeorm';
import { dropProcessedEventsAgeIndexSql, processedEventsAgeIndexSql } from '@trackly/messaging';

/** Lets each durable consumer prune its processed_events rows past the streams' max age without a table scan. */
export class AttributionProcessedEventsPruning1765000000000 implements MigrationInterface {
  name = 'AttributionProcessedEventsPruning1765000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(processedEventsAgeIndexSql('attribution'));
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(dropProcessedEventsAgeIndexSql('attribution'));
  }
}
