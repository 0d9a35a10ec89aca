/**
 * Every event that crosses a service boundary: a protobuf message from proto/trackly/<service>/v1/*_events.proto,
 * published on the subject that is its full protobuf name, into the stream of the package that owns it.
 */
import * as attribution from '@trackly/contracts/attribution/v1/attribution_events';
import * as delivery from '@trackly/contracts/delivery/v1/delivery_events';
import * as ingest from '@trackly/contracts/ingest/v1/ingest_events';
import * as tracking from '@trackly/contracts/tracking/v1/tracking_events';

export interface Codec<T> {
  encode(message: T): { finish(): Uint8Array };
  decode(input: Uint8Array): T;
}

export interface StreamSpec {
  /** Stream name without environment prefix, e.g. TRACKLY_TRACKING_V1. */
  readonly name: string;
  /** Subjects (or subject filters) without prefix, e.g. trackly.tracking.v1.MessageSent. */
  readonly subjects: readonly string[];
}

export interface EventType<T> {
  /** Full protobuf name, which is also the NATS subject, e.g. trackly.tracking.v1.ClickRecorded. */
  readonly subject: string;
  readonly stream: StreamSpec;
  /**
   * A stream that held this event before it moved to its own (ClickRecorded was on the tracking stream until
   * clicks got theirs): consumers of the old stream still apply what was stored there before the move.
   */
  readonly formerStream?: StreamSpec;
  readonly codec: Codec<T>;
}

function stream(name: string, subjects: string[]): StreamSpec {
  return { name, subjects };
}

function event<T>(pkg: string, name: string, codec: Codec<T>, s: StreamSpec, formerStream?: StreamSpec): EventType<T> {
  return { subject: `${pkg}.${name}`, stream: s, codec, formerStream };
}

const subjectsOf = (pkg: string, names: string[]) => names.map((n) => `${pkg}.${n}`);

/**
 * One stream per producing service, except clicks: a tap must never wait behind the MessageSent events of a blast
 * (hundreds of thousands in a minute) before attribution and reporting see it, so ClickRecorded has a stream, and
 * so durable consumers, of its own. Stream subjects are listed, not wildcards, because two streams may not overlap.
 */
export const Streams = {
  tracking: stream('TRACKLY_TRACKING_V1', subjectsOf(tracking.protobufPackage, ['OfferUpserted', 'CreativeUpserted', 'CampaignUpserted', 'MessageSent', 'MessagesSent'])),
  trackingClicks: stream('TRACKLY_TRACKING_CLICKS_V1', subjectsOf(tracking.protobufPackage, ['ClickRecorded', 'ClicksRecorded'])),
  ingest: stream('TRACKLY_INGEST_V1', [`${ingest.protobufPackage}.>`]),
  attribution: stream('TRACKLY_ATTRIBUTION_V1', [`${attribution.protobufPackage}.>`]),
  delivery: stream('TRACKLY_DELIVERY_V1', [`${delivery.protobufPackage}.>`]),
} as const;

export const Events = {
  OfferUpserted: event(tracking.protobufPackage, 'OfferUpserted', tracking.OfferUpserted, Streams.tracking),
  CreativeUpserted: event(tracking.protobufPackage, 'CreativeUpserted', tracking.CreativeUpserted, Streams.tracking),
  CampaignUpserted: event(tracking.protobufPackage, 'CampaignUpserted', tracking.CampaignUpserted, Streams.tracking),
  /** One send per event: what earlier versions published; consumers still apply it (see MessagesSent). */
  MessageSent: event(tracking.protobufPackage, 'MessageSent', tracking.MessageSent, Streams.tracking),
  /** A run of up to 100 sends of one RegisterMessages call: what tracking publishes. */
  MessagesSent: event(tracking.protobufPackage, 'MessagesSent', tracking.MessagesSent, Streams.tracking),
  /** A click read alone by the relay (and every click of earlier versions). */
  ClickRecorded: event(tracking.protobufPackage, 'ClickRecorded', tracking.ClickRecorded, Streams.trackingClicks, Streams.tracking),
  /** A run of up to 100 clicks read together. */
  ClicksRecorded: event(tracking.protobufPackage, 'ClicksRecorded', tracking.ClicksRecorded, Streams.trackingClicks),
  /** A conversion read alone by the relay (and every conversion of earlier versions, imports and replays). */
  ConversionReceived: event(ingest.protobufPackage, 'ConversionReceived', ingest.ConversionReceived, Streams.ingest),
  /** A run of up to 100 conversions read together. */
  ConversionsReceived: event(ingest.protobufPackage, 'ConversionsReceived', ingest.ConversionsReceived, Streams.ingest),
  ConversionAdjusted: event(ingest.protobufPackage, 'ConversionAdjusted', ingest.ConversionAdjusted, Streams.ingest),
  ConversionAttributed: event(attribution.protobufPackage, 'ConversionAttributed', attribution.ConversionAttributed, Streams.attribution),
  ConversionUnattributed: event(attribution.protobufPackage, 'ConversionUnattributed', attribution.ConversionUnattributed, Streams.attribution),
  AttributionCorrected: event(attribution.protobufPackage, 'AttributionCorrected', attribution.AttributionCorrected, Streams.attribution),
  ConversionParked: event(attribution.protobufPackage, 'ConversionParked', attribution.ConversionParked, Streams.attribution),
  ConversionSettled: event(attribution.protobufPackage, 'ConversionSettled', attribution.ConversionSettled, Streams.attribution),
  OfferRulesChanged: event(attribution.protobufPackage, 'OfferRulesChanged', attribution.OfferRulesChanged, Streams.attribution),
  EndpointUpserted: event(delivery.protobufPackage, 'EndpointUpserted', delivery.EndpointUpserted, Streams.delivery),
  EndpointDisabled: event(delivery.protobufPackage, 'EndpointDisabled', delivery.EndpointDisabled, Streams.delivery),
  PartnerUpserted: event(ingest.protobufPackage, 'PartnerUpserted', ingest.PartnerUpserted, Streams.ingest),
  PartnerTokenRotated: event(ingest.protobufPackage, 'PartnerTokenRotated', ingest.PartnerTokenRotated, Streams.ingest),
  PostbackRefused: event(ingest.protobufPackage, 'PostbackRefused', ingest.PostbackRefused, Streams.ingest),
  PostbacksReplayed: event(ingest.protobufPackage, 'PostbacksReplayed', ingest.PostbacksReplayed, Streams.ingest),
  ConversionsImported: event(ingest.protobufPackage, 'ConversionsImported', ingest.ConversionsImported, Streams.ingest),
} as const;

/** Dead letters of every consumer land here, with the reason in a header. */
export const DeadLetterStream: StreamSpec = { name: 'TRACKLY_DEADLETTER', subjects: ['trackly.deadletter.>'] };

/** Subject of the dead letters of one durable consumer. */
export function deadLetterSubject(durable: string): string {
  return `trackly.deadletter.${durable}`;
}

/**
 * The event's own id when it differs from its Nats-Msg-Id: a re-drive publishes under a Nats-Msg-Id of its own (the
 * stream would drop the original id as a duplicate for 2 minutes after its first publish) and puts the original id
 * here; consumers record this id, when present, in processed_events.
 */
export const EVENT_ID_HEADER = 'Trackly-Event-Id';
