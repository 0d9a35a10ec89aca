/** All apps but delivery in this process (see bootApps), on one clock the end-to-end specs move. */
import { Clock } from '@trackly/kernel';
import { apiKeysJson } from '../../gateway/test/api-key-entries';
import { bootApps, ShiftedClock } from '../../gateway/test/in-process-platform';

export { ShiftedClock };

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

export async function startPlatform(clock: Clock): Promise<Platform> {
  const apiKey = 'e2e-dashboard-key-0123456789';
  const { endpoints: ep, databases, stop } = await bootApps({
    apps: ['tracking', 'ingest', 'attribution', 'reporting'],
    clocks: { tracking: clock, ingest: clock, attribution: clock, reporting: clock, gateway: clock },
    env: {
      // Unknown click ids are parked until this horizon (24 h by default) before settling as UNKNOWN_CLICK_ID.
      attribution: { ATTRIBUTION_PARK_HORIZON_SECONDS: '1' },
      gateway: { GATEWAY_API_KEYS: apiKeysJson([{ name: 'e2e', key: apiKey }]) },
    },
  });
  return { ...ep, apiKey, databases: databases as Platform['databases'], stop };
}
