import { AttributionInitial1764300000000 } from './1764300000000-initial.migration';
import { AttributionEngine1764400000000 } from './1764400000000-engine.migration';
import { AttributionProcessedEventsPruning1765000000000 } from './1765000000000-processed-events-pruning.migration';
import { AttributionConversionProvenance1765300000000 } from './1765300000000-conversion-provenance.migration';
import { AttributionCapsAndHolds1765310000000 } from './1765310000000-caps-and-holds.migration';
import { AttributionOutboxRedrive1765600000000 } from './1765600000000-outbox-redrive.migration';

export const attributionMigrations = [
  AttributionInitial1764300000000,
  AttributionEngine1764400000000,
  AttributionProcessedEventsPruning1765000000000,
  AttributionConversionProvenance1765300000000,
  AttributionCapsAndHolds1765310000000,
  AttributionOutboxRedrive1765600000000,
];
