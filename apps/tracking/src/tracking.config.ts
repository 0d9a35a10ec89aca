import { env, loadConfig, platformShape, z } from '@trackly/config';

export const trackingConfigShape = {
  ...platformShape,
  TRACKING_GRPC_PORT: env.port(50051),
  TRACKING_HTTP_PORT: env.port(3001),
  TRACKING_HOST: z.string().default('0.0.0.0'),
  /** Base of the tracked links put into SMS; the click edge's public address. */
  TRACKING_PUBLIC_URL: env.url('http://127.0.0.1:3001', ['http:', 'https:']),
};

export type TrackingConfig = ReturnType<typeof loadTrackingConfig>;

export function loadTrackingConfig(source: Record<string, string | undefined> = process.env) {
  return loadConfig('tracking', trackingConfigShape, source);
}
