import { Controller, Inject } from '@nestjs/common';
import { CLOCK, Clock, InvalidArgumentError } from '@trackly/kernel';
import {
  AttributeConversionRequest,
  AttributeConversionResponse,
  AttributionServiceController,
  AttributionServiceControllerMethods,
  ExplainConversionRequest,
  ExplainConversionResponse,
  GetAttributionRequest,
  GetAttributionResponse,
  ListAttributionsRequest,
  ListAttributionsResponse,
  ReattributeRequest,
  ReattributeResponse,
  GetOfferRulesRequest,
  GetOfferRulesResponse,
  SetOfferRulesRequest,
  SetOfferRulesResponse,
} from '@trackly/contracts/attribution/v1/attribution_service';
import { OfferRulesService } from './rules/offer-rules.service';
import { validateConversionInput } from './domain/conversion-input.rules';
import { statusFromEnum } from './decisions/attribution.mappers';
import { AttributionService } from './decisions/attribution.service';
import { ExplainService } from './decisions/explain.service';
import { ReattributionService } from './decisions/reattribution.service';

/** gRPC adapter of attribution. */
@Controller()
@AttributionServiceControllerMethods()
export class AttributionGrpcController implements AttributionServiceController {
  constructor(
    private readonly attribution: AttributionService,
    private readonly explainer: ExplainService,
    private readonly reattribution: ReattributionService,
    private readonly offerRules: OfferRulesService,
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

  explainConversion(req: ExplainConversionRequest): Promise<ExplainConversionResponse> {
    return this.explainer.explain(req.partnerId, req.conversionId);
  }

  listAttributions(req: ListAttributionsRequest): Promise<ListAttributionsResponse> {
    return this.explainer.list(req);
  }

  reattribute(req: ReattributeRequest): Promise<ReattributeResponse> {
    return this.reattribution.run(req);
  }

  async setOfferRules(req: SetOfferRulesRequest): Promise<SetOfferRulesResponse> {
    return { rules: await this.offerRules.set(req.rules) };
  }

  async getOfferRules(req: GetOfferRulesRequest): Promise<GetOfferRulesResponse> {
    return { rules: await this.offerRules.get(req.offerId) };
  }
}
