import { Controller } from '@nestjs/common';
import {
  GetConversionRequest,
  GetConversionResponse,
  IngestServiceController,
  IngestServiceControllerMethods,
  ListConversionsRequest,
  ListConversionsResponse,
  SubmitConversionRequest,
  SubmitConversionResponse,
} from '@trackly/contracts/ingest/v1/ingest_service';
import { ConversionsService } from './conversions/conversions.service';

/** gRPC adapter: maps contract messages to the services; errors become status codes in the global filter. */
@Controller()
@IngestServiceControllerMethods()
export class IngestGrpcController implements IngestServiceController {
  constructor(private readonly conversions: ConversionsService) {}

  submitConversion(req: SubmitConversionRequest): Promise<SubmitConversionResponse> {
    return this.conversions.submit(req);
  }

  async getConversion(req: GetConversionRequest): Promise<GetConversionResponse> {
    return { conversion: await this.conversions.get(req.partnerId, req.conversionId) };
  }

  listConversions(req: ListConversionsRequest): Promise<ListConversionsResponse> {
    return this.conversions.list(req);
  }
}
