import { ReportingInitial1764500000000 } from './1764500000000-initial.migration';

/** In order; each runs once per database (recorded in "reporting".migrations). */
export const reportingMigrations = [ReportingInitial1764500000000];
