import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A 10,000-message RegisterMessages batch spent half its insert time in the three per-row foreign-key triggers of
 * messages (30,000 look-ups of the same few catalog rows). The batch now checks its catalog ids once per distinct id,
 * in the same transaction, taking the same FOR KEY SHARE locks the triggers took, so the guarantee is unchanged:
 * a message never names a campaign, creative or offer that does not exist (and catalog rows are never deleted).
 */
export class MessageBatchCatalogCheck1764330000000 implements MigrationInterface {
  name = 'MessageBatchCatalogCheck1764330000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE "tracking".messages
      DROP CONSTRAINT messages_campaign_id_fkey,
      DROP CONSTRAINT messages_creative_id_fkey,
      DROP CONSTRAINT messages_offer_id_fkey`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE "tracking".messages
      ADD CONSTRAINT messages_campaign_id_fkey FOREIGN KEY (campaign_id) REFERENCES "tracking".campaigns (campaign_id),
      ADD CONSTRAINT messages_creative_id_fkey FOREIGN KEY (creative_id) REFERENCES "tracking".creatives (creative_id),
      ADD CONSTRAINT messages_offer_id_fkey FOREIGN KEY (offer_id) REFERENCES "tracking".offers (offer_id)`);
  }
}
