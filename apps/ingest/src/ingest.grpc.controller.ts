import { Controller } from '@nestjs/common';
import type { Metadata } from '@grpc/grpc-js';
import { from, Observable } from 'rxjs';
import {
  GetConversionRequest,
  GetConversionResponse,
  GetPartnerCountersRequest,
  GetPartnerCountersResponse,
  GetPartnerRequest,
  GetPartnerResponse,
  GetPostbackTemplateRequest,
  GetPostbackTemplateResponse,
  IngestServiceController,
  IngestServiceControllerMethods,
  ListConversionsRequest,
  ListConversionsResponse,
  ListPartnersRequest,
  ListPartnersResponse,
  ImportConversionsRequest,
  ImportConversionsResponse,
  ReplayPostbacksRequest,
  ReplayPostbacksResponse,
  RotatePartnerTokenRequest,
  RotatePartnerTokenResponse,
  SendTestPostbackRequest,
  SendTestPostbackResponse,
  SubmitConversionRequest,
  SubmitConversionResponse,
  UpsertPartnerRequest,
  UpsertPartnerResponse,
} from '@trackly/contracts/ingest/v1/ingest_service';
import { PartnerCounters } from '@trackly/contracts/ingest/v1/ingest';
import { InvalidArgumentError } from '@trackly/kernel';
import { ConversionsService } from './conversions/conversions.service';
import { partnerIdProblem } from './domain/conversion.rules';
import { partnerCounters } from './domain/partner-counters';
import { ConversionsImportService, FlowControl } from './imports/conversions-import.service';
import { PartnersService } from './partners/partners.service';
import { PostbackArchive } from './postbacks/postback-archive.service';
import { PostbacksService } from './postbacks/postbacks.service';
import { TestPostbackService } from './postbacks/test-postback.service';

/** gRPC adapter: maps contract messages to the services; errors become status codes in the global filter. */
@Controller()
@IngestServiceControllerMethods()
export class IngestGrpcController implements IngestServiceController {
  constructor(
    private readonly conversions: ConversionsService,
    private readonly partners: PartnersService,
    private readonly archive: PostbackArchive,
    private readonly postbacks: PostbacksService,
    private readonly imports: ConversionsImportService,
    private readonly testPostbacks: TestPostbackService,
  ) {}

  submitConversion(req: SubmitConversionRequest): Promise<SubmitConversionResponse> {
    return this.conversions.submit(req);
  }

  async getConversion(req: GetConversionRequest): Promise<GetConversionResponse> {
    return { conversion: await this.conversions.get(req.partnerId, req.conversionId) };
  }

  listConversions(req: ListConversionsRequest): Promise<ListConversionsResponse> {
    return this.conversions.list(req);
  }

  upsertPartner(req: UpsertPartnerRequest): Promise<UpsertPartnerResponse> {
    return this.partners.upsert(req);
  }

  /** The partner's read model: settings, template (placeholder token), counters, last postback. Never a token. */
  async getPartner(req: GetPartnerRequest): Promise<GetPartnerResponse> {
    const partner = await this.partners.get(req.partnerId);
    const [groups, template, activity] = await Promise.all([
      this.archive.groups(req.partnerId, null),
      this.partners.template(req.partnerId, ''),
      this.partners.activity(req.partnerId),
    ]);
    return {
      partner,
      counters: partnerCounters(groups)[0] ?? PartnerCounters.fromPartial({ partnerId: req.partnerId }),
      template,
      lastPostbackAt: activity.lastPostbackAt,
      testConversions: activity.testConversions,
    };
  }

  listPartners(req: ListPartnersRequest): Promise<ListPartnersResponse> {
    return this.partners.list(req);
  }

  rotatePartnerToken(req: RotatePartnerTokenRequest): Promise<RotatePartnerTokenResponse> {
    return this.partners.rotateToken(req.partnerId);
  }

  getPostbackTemplate(req: GetPostbackTemplateRequest): Promise<GetPostbackTemplateResponse> {
    return this.partners.template(req.partnerId, req.token);
  }

  /**
   * Client stream. Nest hands over the call too, whose pause/resume hold the sender back while batches are stored.
   * The answer must be an Observable returned at once: Nest releases the stream's buffered messages and its
   * completion only when the handler has returned, so awaiting the import here would wait for ever.
   */
  importConversions(chunks: Observable<ImportConversionsRequest>, _metadata?: Metadata, call?: FlowControl): Observable<ImportConversionsResponse> {
    return from(this.imports.import(chunks, call));
  }

  replayPostbacks(req: ReplayPostbacksRequest): Promise<ReplayPostbacksResponse> {
    return this.postbacks.replay(req);
  }

  sendTestPostback(req: SendTestPostbackRequest): Promise<SendTestPostbackResponse> {
    return this.testPostbacks.send(req);
  }

  async getPartnerCounters(req: GetPartnerCountersRequest): Promise<GetPartnerCountersResponse> {
    // Any id that appeared in a path is counted, registered or not; only its shape is checked.
    const problem = req.partnerId ? partnerIdProblem(req.partnerId) : undefined;
    if (problem) throw new InvalidArgumentError('partner_id', problem);
    return { partners: partnerCounters(await this.archive.groups(req.partnerId || null, req.since ?? null)) };
  }
}
