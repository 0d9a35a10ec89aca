import { TrackingInitial1764300000000 } from './1764300000000-initial.migration';
import { OfferAttributionTerms1764310000000 } from './1764310000000-offer-attribution-terms.migration';
import { ClickClassification1764320000000 } from './1764320000000-click-classification.migration';
import { MessageBatchCatalogCheck1764330000000 } from './1764330000000-message-batch-catalog-check.migration';
import { ClicksEventSource1765100000000 } from './1765100000000-clicks-event-source.migration';
import { MessagesEventSource1765100000001 } from './1765100000001-messages-event-source.migration';
import { ClicksWithoutMessageFk1765100000002 } from './1765100000002-clicks-without-message-fk.migration';
import { TrackingRedriveSources1765600000000 } from './1765600000000-redrive-sources.migration';
import { TrackingClicksPartitioned1765600000001 } from './1765600000001-clicks-partitioned.migration';
import { TrackingClicksFirstClickIndex1765900000000 } from './1765900000000-clicks-first-click-index.migration';

/** In order; each runs once per database (recorded in "tracking".migrations). */
export const trackingMigrations = [
  TrackingInitial1764300000000, OfferAttributionTerms1764310000000, ClickClassification1764320000000, MessageBatchCatalogCheck1764330000000,
  ClicksEventSource1765100000000, MessagesEventSource1765100000001, ClicksWithoutMessageFk1765100000002, TrackingRedriveSources1765600000000, TrackingClicksPartitioned1765600000001,
  TrackingClicksFirstClickIndex1765900000000];
