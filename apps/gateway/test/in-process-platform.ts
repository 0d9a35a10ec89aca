/**
 * The platform in this process, for specs that drive it from outside (the end-to-end specs, the console's browser
 * specs): every app started as `npm start` wires them, each with a throwaway database of its own. It lives with the
 * gateway's specs because every such spec reaches the platform through the gateway (and specs may import an app's
 * files, not the e2e project's).
 */
import type { Clock } from '@trackly/kernel';
import { RunningService } from '@trackly/app-shell';
import { createTestDatabase, deleteNatsPrefix, TestDatabase, testInfra, testNatsPrefix } from '@trackly/testing';
import { allocatePorts, AppName, appEnv, endpoints, Endpoints } from '../../../tools/launcher';
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
import { loadDeliveryConfig } from '../../delivery/src/delivery.config';
import { migrateDelivery, startDelivery } from '../../delivery/src/delivery.app';
import { deliveryMigrations } from '../../delivery/src/migrations';
import { loadGatewayConfig } from '../src/gateway.config';
import { startGateway } from '../src/gateway.app';

/** Real time moved by an offset: clicks keep their order and spacing while a spec moves between days. */
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

const migrate = (fn: (url: string) => Promise<string[]>) => (url: string) => fn(url).then(() => undefined);

type Env = Record<string, string>;
type Deps = { clock?: Clock };
/** How each app is migrated and started in this process, in the order `npm start` starts them. */
const APPS: { name: AppName; migrations?: Parameters<typeof createTestDatabase>[1]; migrate?: (url: string) => Promise<string[]>; start: (env: Env, deps: Deps) => Promise<RunningService> }[] = [
  { name: 'tracking', migrations: trackingMigrations, migrate: migrateTracking, start: (env, deps) => startTracking(loadTrackingConfig(env), deps) },
  { name: 'ingest', migrations: ingestMigrations, migrate: migrateIngest, start: (env, deps) => startIngest(loadIngestConfig(env), deps) },
  { name: 'attribution', migrations: attributionMigrations, migrate: migrateAttribution, start: (env, deps) => startAttribution(loadAttributionConfig(env), deps) },
  { name: 'reporting', migrations: reportingMigrations, migrate: migrateReporting, start: (env, deps) => startReporting(loadReportingConfig(env), deps) },
  { name: 'delivery', migrations: deliveryMigrations, migrate: migrateDelivery, start: (env, deps) => startDelivery(loadDeliveryConfig(env), deps) },
  { name: 'gateway', start: (env, deps) => startGateway(loadGatewayConfig(env), deps) },
];

export interface BootOptions {
  /** The apps to start (the gateway always); each with a database of its own, all on one NATS prefix. */
  apps: AppName[];
  /** The clock each app runs on; an app not named runs on the system clock. */
  clocks?: Partial<Record<AppName, Clock>>;
  /** Settings of each app beyond the launcher's ports and peers. */
  env?: Partial<Record<AppName, Env>>;
}

/**
 * Boots the apps in this process as `npm start` wires them (the launcher's ports and peers), each with its own
 * throwaway database and one shared NATS prefix. `stop()` closes them (last first) and deletes the databases and
 * the prefix's streams.
 */
export async function bootApps(opts: BootOptions): Promise<{ endpoints: Endpoints; databases: Partial<Record<AppName, string>>; stop(): Promise<void> }> {
  const prefix = testNatsPrefix();
  const chosen = APPS.filter((a) => a.name === 'gateway' || opts.apps.includes(a.name));
  const dbs = new Map<AppName, TestDatabase>();
  const apps: RunningService[] = [];
  const stop = async () => {
    for (const a of apps.reverse()) await a.close().catch(() => undefined);
    await Promise.all([...dbs.values()].map((d) => d.drop()));
    await deleteNatsPrefix(prefix);
  };
  try {
    await Promise.all(
      chosen.filter((a) => a.migrations).map(async (a) => dbs.set(a.name, await createTestDatabase(a.name, a.migrations!, migrate(a.migrate!)))),
    );
    const ports = await allocatePorts();
    const common = { NATS_URL: testInfra().natsUrl, NATS_PREFIX: prefix, LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'warn' };
    for (const a of chosen) {
      // The gateway has no database and no NATS.
      const base: Env = a.name === 'gateway' ? { LOG_LEVEL: common.LOG_LEVEL } : { ...common, DATABASE_URL: dbs.get(a.name)!.url };
      apps.push(await a.start({ ...base, ...appEnv(a.name, ports), ...(opts.env?.[a.name] ?? {}) }, { clock: opts.clocks?.[a.name] }));
    }
    return { endpoints: endpoints(ports), databases: Object.fromEntries([...dbs].map(([name, db]) => [name, db.url])), stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

