/** Boots all five apps in this process, each with its own database and one shared NATS prefix. */
import { Clock } from '@trackly/kernel';
import { apiKeysJson } from '../../gateway/test/api-key-entries';
import { RunningService } from '@trackly/app-shell';
import { createTestDatabase, deleteNatsPrefix, TestDatabase, testInfra, testNatsPrefix } from '@trackly/testing';
import { allocatePorts, appEnv, endpoints } from '../../../tools/launcher';
import { loadTrackingConfig } from '../../tracking/src/tracking.config';
import { migrateTracking, startTracking } from '../../tracking/src/tracking.app';
import { trackingMigrations } from '../../tracking/src/migrations';
import { loadIngestConfig } from '../../ingest/src/ingest.config';
import { migrateIngest, startIngest } from '../../ingest/src/ingest.app';
import { ingestMigrations } from '../../ingest/src/migrations';
import { loadAttributionConfig } from '../../attribution/src/attribution.config';
import { migrateAttribution, startAttribution } from '../../attribution/src/attribution.app';
import { attributionMigrations } from '../../attribution/src/migrations';
import { loadReportingConfig } from '../../reporting/src/reporting.config';
import { migrateReporting, startReporting } from '../../reporting/src/reporting.app';
import { reportingMigrations } from '../../reporting/src/migrations';
import { loadGatewayConfig } from '../../gateway/src/gateway.config';
import { startGateway } from '../../gateway/src/gateway.app';

/** Real time moved by an offset: clicks keep their order and spacing while the test jumps between days. */
export class ShiftedClock implements Clock {
  private offset = 0;
  now(): Date {
    return new Date(Date.now() + this.offset);
  }
  set(at: Date | string): void {
    this.offset = new Date(at).getTime() - Date.now();
  }
  reset(): void {
    this.offset = 0;
  }
}

export interface Platform {
  trackingGrpc: string;
  trackingHttp: string;
  ingestGrpc: string;
  ingestHttp: string;
  attributionGrpc: string;
  reportingGrpc: string;
  gatewayHttp: string;
  apiKey: string;
  /** Each service's database (for specs that look at what a service holds). */
  databases: Record<'tracking' | 'ingest' | 'attribution' | 'reporting', string>;
  stop(): Promise<void>;
}

const migrate = (fn: (url: string) => Promise<string[]>) => (url: string) => fn(url).then(() => undefined);

export async function startPlatform(clock: Clock): Promise<Platform> {
  const prefix = testNatsPrefix();
  const dbs: TestDatabase[] = await Promise.all([
    createTestDatabase('tracking', trackingMigrations, migrate(migrateTracking)),
    createTestDatabase('ingest', ingestMigrations, migrate(migrateIngest)),
    createTestDatabase('attribution', attributionMigrations, migrate(migrateAttribution)),
    createTestDatabase('reporting', reportingMigrations, migrate(migrateReporting)),
  ]);
  // The launcher's ports and peers, as `npm start` wires the apps, booted in this process.
  const ports = await allocatePorts();
  const common = { NATS_URL: testInfra().natsUrl, NATS_PREFIX: prefix, LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'warn' };
  const apiKey = 'e2e-dashboard-key-0123456789';
  const apps: RunningService[] = [];
  const stop = async () => {
    for (const a of apps.reverse()) await a.close().catch(() => undefined);
    await Promise.all(dbs.map((d) => d.drop()));
    await deleteNatsPrefix(prefix);
  };
  try {
    apps.push(await startTracking(loadTrackingConfig({ ...common, DATABASE_URL: dbs[0].url, ...appEnv('tracking', ports) }), { clock }));
    apps.push(await startIngest(loadIngestConfig({ ...common, DATABASE_URL: dbs[1].url, ...appEnv('ingest', ports) }), { clock }));
    apps.push(await startAttribution(loadAttributionConfig({
      ...common, DATABASE_URL: dbs[2].url, ...appEnv('attribution', ports),
      // Unknown click ids are parked until this horizon (24 h by default) before settling as UNKNOWN_CLICK_ID.
      ATTRIBUTION_PARK_HORIZON_SECONDS: '1',
    }), { clock }));
    apps.push(await startReporting(loadReportingConfig({ ...common, DATABASE_URL: dbs[3].url, ...appEnv('reporting', ports) }), { clock }));
    apps.push(await startGateway(loadGatewayConfig({
      LOG_LEVEL: common.LOG_LEVEL, ...appEnv('gateway', ports), GATEWAY_API_KEYS: apiKeysJson([{ name: 'e2e', key: apiKey }]),
    }), { clock }));
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    ...endpoints(ports),
    apiKey,
    databases: { tracking: dbs[0].url, ingest: dbs[1].url, attribution: dbs[2].url, reporting: dbs[3].url },
    stop,
  };
}
