/** Rows <-> contract messages. */
import { Campaign, Creative, Message, Offer } from '@trackly/contracts/tracking/v1/tracking';
import { CampaignEntity, CreativeEntity, OfferEntity } from './catalog/catalog.entity';
import { MessageEntity } from './messages/message.entity';

export function toOffer(e: OfferEntity): Offer {
  return {
    offerId: e.offerId,
    name: e.name,
    destinationUrlTemplate: e.destinationUrlTemplate,
    defaultPayout: { currencyCode: e.currency, amountMicros: e.defaultPayoutMicros.toString() },
    clickWindowDays: e.clickWindowDays ?? undefined,
    minConversionSeconds: e.minConversionSeconds ?? undefined,
    viewThroughWindowDays: e.viewThroughWindowDays ?? undefined,
    updatedAt: e.updatedAt,
  };
}

export function toCreative(e: CreativeEntity): Creative {
  return { creativeId: e.creativeId, name: e.name, updatedAt: e.updatedAt };
}

export function toCampaign(e: CampaignEntity): Campaign {
  return { campaignId: e.campaignId, name: e.name, updatedAt: e.updatedAt };
}

export function toMessage(e: MessageEntity, publicUrl: string): Message {
  return {
    messageId: e.messageId,
    contactId: e.contactId,
    phoneE164: e.phoneE164,
    campaignId: e.campaignId,
    creativeId: e.creativeId,
    offerId: e.offerId,
    sentAt: e.sentAt,
    shortCode: e.shortCode,
    trackedUrl: trackedUrl(publicUrl, e.shortCode),
  };
}

export function trackedUrl(publicUrl: string, shortCode: string): string {
  return `${publicUrl.replace(/\/+$/, '')}/c/${shortCode}`;
}
