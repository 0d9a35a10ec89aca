import { Controller, Inject } from '@nestjs/common';
import { CLOCK, Clock, InvalidArgumentError } from '@trackly/kernel';
import {
  AttributeConversionRequest,
  AttributeConversionResponse,
  AttributionServiceController,
  AttributionServiceControllerMethods,
  GetAttributionRequest,
  GetAttributionResponse,
} from '@trackly/contracts/attribution/v1/attribution_service';
import { validateConversionInput } from './domain/conversion-input.rules';
import { statusFromEnum } from './decisions/attribution.mappers';
import { AttributionService } from './decisions/attribution.service';

/** gRPC adapter of attribution. */
@Controller()
@AttributionServiceControllerMethods()
export class AttributionGrpcController implements AttributionServiceController {
  constructor(
    private readonly attribution: AttributionService,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  async attributeConversion(req: AttributeConversionRequest): Promise<AttributeConversionResponse> {
    const status = statusFromEnum(req.status);
    if (!status) throw new InvalidArgumentError('status', `is not a known conversion status (${req.status})`);
    const conv = validateConversionInput({ ...req, status }, this.clock.now());
    const { attribution, alreadyDecided } = await this.attribution.attribute(conv);
    return { attribution, alreadyDecided };
  }

  async getAttribution(req: GetAttributionRequest): Promise<GetAttributionResponse> {
    return { attribution: await this.attribution.get(req.partnerId, req.conversionId) };
  }
}
