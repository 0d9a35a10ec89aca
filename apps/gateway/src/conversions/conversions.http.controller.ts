import { Controller, Get, Header, Param } from '@nestjs/common';
import { ConversionsService } from './conversions.service';

@Controller('api/conversions')
export class ConversionsHttpController {
  constructor(private readonly conversions: ConversionsService) {}

  /** One conversion with its attribution and a diagnosis: did the click id match, in the window, already credited? */
  @Get(':partnerId/:conversionId')
  @Header('Cache-Control', 'no-store')
  get(@Param('partnerId') partnerId: string, @Param('conversionId') conversionId: string) {
    return this.conversions.troubleshoot(partnerId, conversionId);
  }
}
