import { Controller, Get } from '@nestjs/common';
import { RequireScope } from '../auth/api-key.guard';
import { WaitingForDownstream } from '../downstream/not-yet';

/**
 * Lists to find what the guide says to "click on" without knowing an id: messages (by campaign/creative, with
 * clicked/converted/revenue) and contacts, paged. Waiting for reporting's lists; one message and one contact's
 * journey are served under /api/reports.
 */
@Controller('api')
@RequireScope('reports:read')
export class MessagesHttpController {
  @Get('messages')
  messages() {
    throw new WaitingForDownstream('ReportingService.ListMessages (issue 16, item 8)');
  }

  @Get('contacts')
  contacts() {
    throw new WaitingForDownstream('ReportingService.ListContacts (issue 16, item 8)');
  }
}
