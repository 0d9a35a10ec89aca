/** Shared set-up of the messaging integration specs: a throwaway "msgtest" schema and NATS prefixes per test. */
import type { MigrationInterface, QueryRunner } from 'typeorm';
import { DataSource } from 'typeorm';
import { dataSourceOptions, runServiceMigrations } from '@trackly/database';
import { deleteNatsPrefix, testInfra, testNatsPrefix } from '@trackly/testing';
import { Messaging, messagingTablesSql, processedEventsAgeIndexSql, Streams } from '@trackly/messaging';

export const SCHEMA = 'msgtest';

export class MessagingTestInitial1764300000001 implements MigrationInterface {
  name = 'MessagingTestInitial1764300000001';

  async up(q: QueryRunner): Promise<void> {
    for (const sql of messagingTablesSql('msgtest')) await q.query(sql);
    await q.query(processedEventsAgeIndexSql('msgtest'));
    // Effects of the test handlers; deliberately no unique key, so an effect applied twice shows as two rows.
    await q.query(`CREATE TABLE "msgtest".items (
      id bigserial PRIMARY KEY,
      key text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now()
    )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE "msgtest".items`);
  }
}

export const migrations = [MessagingTestInitial1764300000001];

export function migrateMsgTest(url: string): Promise<void> {
  return runServiceMigrations({ url, schema: SCHEMA, entities: [], migrations }).then(() => undefined);
}

export function openDataSource(url: string): Promise<DataSource> {
  return new DataSource(dataSourceOptions({ url, schema: SCHEMA, entities: [], migrations: [] })).initialize();
}

/**
 * One NATS prefix (so streams, consumers and counts) per test: a test never sees another test's messages.
 * Everything connected through it is closed and deleted by `cleanup()`.
 */
export class NatsPrefixes {
  private readonly prefixes: string[] = [];
  private readonly connections: Messaging[] = [];

  async connect(name: string): Promise<Messaging> {
    const prefix = testNatsPrefix();
    this.prefixes.push(prefix);
    const m = await Messaging.connect({ url: testInfra().natsUrl, prefix, name });
    this.connections.push(m);
    await m.ensureStreams([Streams.tracking, Streams.trackingClicks]);
    return m;
  }

  /** A second connection on an existing prefix (as a second replica of a service would have). */
  async connectTo(prefix: string, name: string): Promise<Messaging> {
    const m = await Messaging.connect({ url: testInfra().natsUrl, prefix, name });
    this.connections.push(m);
    return m;
  }

  async cleanup(): Promise<void> {
    for (const m of this.connections) await m.close();
    for (const p of this.prefixes) await deleteNatsPrefix(p);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
