import { Controller } from '@nestjs/common';
import {
  GetCampaignRequest,
  GetCampaignResponse,
  GetClickRequest,
  GetClickResponse,
  GetCreativeRequest,
  GetCreativeResponse,
  GetMessageRequest,
  GetMessageResponse,
  GetOfferRequest,
  GetOfferResponse,
  ListCampaignsRequest,
  ListCampaignsResponse,
  ListCreativesRequest,
  ListCreativesResponse,
  ListOffersRequest,
  ListOffersResponse,
  RegisterMessagesRequest,
  RegisterMessagesResponse,
  TrackingServiceController,
  TrackingServiceControllerMethods,
  UpsertCampaignRequest,
  UpsertCampaignResponse,
  UpsertCreativeRequest,
  UpsertCreativeResponse,
  UpsertOfferRequest,
  UpsertOfferResponse,
} from '@trackly/contracts/tracking/v1/tracking_service';
import { CatalogService } from './catalog/catalog.service';
import { ClicksService } from './clicks/clicks.service';
import { MessagesService } from './messages/messages.service';

/** gRPC adapter: maps contract messages to the services; errors become status codes in the global filter. */
@Controller()
@TrackingServiceControllerMethods()
export class TrackingGrpcController implements TrackingServiceController {
  constructor(
    private readonly catalog: CatalogService,
    private readonly messages: MessagesService,
    private readonly clicks: ClicksService,
  ) {}

  upsertOffer(req: UpsertOfferRequest): Promise<UpsertOfferResponse> {
    return this.catalog.upsertOffer({
      offerId: req.offerId,
      name: req.name,
      destinationUrlTemplate: req.destinationUrlTemplate,
      defaultPayout: req.defaultPayout,
      clickWindowDays: req.clickWindowDays,
      minConversionSeconds: req.minConversionSeconds,
      viewThroughWindowDays: req.viewThroughWindowDays,
    });
  }

  upsertCreative(req: UpsertCreativeRequest): Promise<UpsertCreativeResponse> {
    return this.catalog.upsertCreative(req.creativeId, req.name);
  }

  upsertCampaign(req: UpsertCampaignRequest): Promise<UpsertCampaignResponse> {
    return this.catalog.upsertCampaign(req.campaignId, req.name);
  }

  async registerMessages(req: RegisterMessagesRequest): Promise<RegisterMessagesResponse> {
    return { messages: await this.messages.register(req.messages) };
  }

  async getMessage(req: GetMessageRequest): Promise<GetMessageResponse> {
    return this.messages.get(req.messageId);
  }

  async getClick(req: GetClickRequest): Promise<GetClickResponse> {
    return { click: await this.clicks.get(req.clickId) };
  }

  async getOffer(req: GetOfferRequest): Promise<GetOfferResponse> {
    return { offer: await this.catalog.getOffer(req.offerId) };
  }

  listOffers(req: ListOffersRequest): Promise<ListOffersResponse> {
    return this.catalog.listOffers(req.pageSize, req.pageToken);
  }

  async getCreative(req: GetCreativeRequest): Promise<GetCreativeResponse> {
    return { creative: await this.catalog.getCreative(req.creativeId) };
  }

  listCreatives(req: ListCreativesRequest): Promise<ListCreativesResponse> {
    return this.catalog.listCreatives(req.pageSize, req.pageToken);
  }

  async getCampaign(req: GetCampaignRequest): Promise<GetCampaignResponse> {
    return { campaign: await this.catalog.getCampaign(req.campaignId) };
  }

  listCampaigns(req: ListCampaignsRequest): Promise<ListCampaignsResponse> {
    return this.catalog.listCampaigns(req.pageSize, req.pageToken);
  }
}
