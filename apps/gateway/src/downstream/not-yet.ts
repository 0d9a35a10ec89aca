/**
 * A route whose downstream RPC is not deployed yet answers 501 with what it waits for (never an empty list that
 * would read as "there are none").
 */
import { HttpException } from '@nestjs/common';

export class WaitingForDownstream extends HttpException {
  constructor(needs: string) {
    super({ error: 'NOT_IMPLEMENTED', message: `not available yet: needs ${needs}` }, 501);
  }
}
