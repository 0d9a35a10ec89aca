import { TrackingInitial1764300000000 } from './1764300000000-initial.migration';

/** In order; each runs once per database (recorded in "tracking".migrations). */
export const trackingMigrations = [TrackingInitial1764300000000];
