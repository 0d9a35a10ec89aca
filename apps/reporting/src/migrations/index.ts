import { ReportingInitial1764500000000 } from './1764500000000-initial.migration';
import { ReportingCorrectionsCohortsReconciliation1764600000000 } from './1764600000000-corrections-cohorts-reconciliation.migration';

/** In order; each runs once per database (recorded in "reporting".migrations). */
export const reportingMigrations = [ReportingInitial1764500000000, ReportingCorrectionsCohortsReconciliation1764600000000];
