import { Body, Controller, Header, HttpCode, Param, Post } from '@nestjs/common';
import { RequireScope } from '../auth/api-key.guard';
import { ConversionsService } from '../conversions/conversions.service';

@Controller('api/partners')
@RequireScope('partners:write')
export class PartnersHttpController {
  constructor(private readonly conversions: ConversionsService) {}

  /** Fires a test postback for the partner through ingest's edge and shows the edge's answer, the stored conversion and its attribution. */
  @Post(':partnerId/test-postback')
  @HttpCode(200)
  @Header('Cache-Control', 'no-store')
  testPostback(@Param('partnerId') partnerId: string, @Body() body: unknown) {
    return this.conversions.testPostback(partnerId, body);
  }
}
