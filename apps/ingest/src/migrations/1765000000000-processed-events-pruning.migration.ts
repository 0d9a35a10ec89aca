import { MigrationInterface, QueryRunner } from 'typeorm';
import { dropProcessedEventsAgeIndexSql, processedEventsAgeIndexSql } from '@trackly/messaging';

/** Lets each durable consumer prune its processed_events rows past the streams' max age without a table scan. */
export class IngestProcessedEventsPruning1765000000000 implements MigrationInterface {
  name = 'IngestProcessedEventsPruning1765000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(processedEventsAgeIndexSql('ingest'));
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(dropProcessedEventsAgeIndexSql('ingest'));
  }
}
