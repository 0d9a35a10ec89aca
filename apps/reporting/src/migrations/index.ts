import { ReportingInitial1764500000000 } from './1764500000000-initial.migration';
import { ReportingCorrectionsCohortsReconciliation1764600000000 } from './1764600000000-corrections-cohorts-reconciliation.migration';
import { ReportingCoveringRollupsAndTotals1764700000000 } from './1764700000000-covering-rollups-and-totals.migration';
import { ReportingProcessedEventsPruning1765000000000 } from './1765000000000-processed-events-pruning.migration';
import { ReportingEngagements1765400000000 } from './1765400000000-engagements.migration';
import { ReportingTestSourceCapsHolds1765410000000 } from './1765410000000-test-source-caps-holds.migration';
import { ReportingContactListIndexes1765420000000 } from './1765420000000-contact-list-indexes.migration';
import { ReportingFxRates1765430000000 } from './1765430000000-fx-rates.migration';
import { ReportingPartnerRevenueRollups1765700000000 } from './1765700000000-partner-revenue-rollups.migration';
import { ReportingCreditedPartsPartialIndexes1765700000001 } from './1765700000001-credited-parts-partial-indexes.migration';
import { ReportingFactsPartitioned1765710000001 } from './1765710000001-facts-partitioned.migration';
import { ReportingTapsAwaitingSendIndex1765800000000 } from './1765800000000-taps-awaiting-send-index.migration';
import { ReportingMessagesContactIndex1765900000000 } from './1765900000000-messages-contact-index.migration';

/** In order; each runs once per database (recorded in "reporting".migrations). */
export const reportingMigrations = [
  ReportingInitial1764500000000,
  ReportingCorrectionsCohortsReconciliation1764600000000,
  ReportingCoveringRollupsAndTotals1764700000000,
  ReportingProcessedEventsPruning1765000000000,
  ReportingEngagements1765400000000,
  ReportingTestSourceCapsHolds1765410000000,
  ReportingContactListIndexes1765420000000,
  ReportingFxRates1765430000000,
  ReportingPartnerRevenueRollups1765700000000,
  ReportingCreditedPartsPartialIndexes1765700000001,
  ReportingFactsPartitioned1765710000001,
  ReportingTapsAwaitingSendIndex1765800000000,
  ReportingMessagesContactIndex1765900000000,
];
