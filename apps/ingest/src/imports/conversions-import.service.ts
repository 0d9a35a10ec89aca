import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { Observable } from 'rxjs';
import { CLOCK, Clock, InvalidArgumentError, NotFoundError } from '@trackly/kernel';
import { Events, Outbox, OutboxRelay } from '@trackly/messaging';
import type { ImportConversionsRequest, ImportConversionsResponse, ImportRowError } from '@trackly/contracts/ingest/v1/ingest_service';
import { ConversionDraft, partnerIdProblem } from '../domain/conversion.rules';
import { ImportHeader, readHeader, readImportRow } from '../domain/conversion-import';
import { CsvError, CsvReader, CsvRecord } from '../domain/csv-reader';
import { ConversionsService } from '../conversions/conversions.service';
import { PartnerEntity } from '../partners/partner.entity';

/** Rows stored per transaction: big enough for one round trip to carry many, small enough to keep locks short. */
const BATCH_ROWS = 1000;
/** Row errors reported back; the counts cover the rest. */
const MAX_REPORTED_ERRORS = 1000;

/** The call under a client stream, which can stop and restart the flow of chunks. */
export interface FlowControl {
  pause(): void;
  resume(): void;
}

/**
 * IngestService.ImportConversions: a CSV file streamed in chunks is parsed as it arrives (memory for a few chunks
 * and one batch, whatever the file's size; the sender is paused while a batch is stored), each row checked with the
 * postback rules and stored idempotently with postbacks. Committed batches stay committed if the stream fails later:
 * importing the file again completes it without counting anything twice.
 */
@Injectable()
export class ConversionsImportService {
  constructor(
    private readonly ds: DataSource,
    private readonly conversions: ConversionsService,
    private readonly relay: OutboxRelay,
    private readonly outbox: Outbox,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  async import(chunks$: Observable<ImportConversionsRequest>, flow?: FlowControl): Promise<ImportConversionsResponse> {
    const chunks = new ChunkQueue(chunks$, flow);
    const result = { rows: 0n, stored: 0n, duplicates: 0n, adjusted: 0n, rejected: 0n, errors: [] as ImportRowError[] };
    const reject = (line: number, message: string) => {
      result.rejected++;
      if (result.errors.length < MAX_REPORTED_ERRORS) result.errors.push({ line: String(line), message });
    };
    const decoder = new TextDecoder('utf-8', { fatal: true });
    const reader = new CsvReader();
    let partner: PartnerEntity | undefined;
    let header: ImportHeader | undefined;
    let batch: ConversionDraft[] = [];
    const receivedAt = this.clock.now();

    const flush = async () => {
      if (!batch.length) return;
      const drafts = batch;
      batch = [];
      chunks.pause();
      try {
        const outcomes = await this.ds.transaction((m) => this.conversions.storeBatchIn(m, drafts, receivedAt, 'import'));
        this.relay.kick();
        for (const o of outcomes) {
          if (o === 'stored') result.stored++;
          else if (o === 'adjusted') result.adjusted++;
          else result.duplicates++;
        }
      } finally {
        chunks.maybeResume();
      }
    };

    const take = async (records: CsvRecord[]) => {
      for (const record of records) {
        if (!header) {
          const h = readHeader(record);
          if (typeof h === 'string') throw new InvalidArgumentError('file', `line ${record.line}: ${h}`);
          header = h;
          continue;
        }
        result.rows++;
        const row = readImportRow(header, record, { receivedAt, defaultCurrency: partner!.defaultCurrency });
        if (!row.ok) reject(record.line, row.message);
        else batch.push({ partnerId: partner!.partnerId, ...row.value });
        if (batch.length >= BATCH_ROWS) await flush();
      }
    };

    try {
      for (;;) {
        const msg = await chunks.next();
        if (!msg) break;
        if (!partner) partner = await this.partner(msg.partnerId);
        else if (msg.partnerId && msg.partnerId !== partner.partnerId) {
          throw new InvalidArgumentError('partner_id', `must be the same in every message ("${partner.partnerId}", then "${msg.partnerId.slice(0, 64)}")`);
        }
        let text: string;
        try {
          text = decoder.decode(msg.chunk, { stream: true });
        } catch {
          throw new InvalidArgumentError('file', 'is not UTF-8 text');
        }
        await take(reader.push(text));
      }
      if (!partner) throw new InvalidArgumentError('partner_id', 'is required (the stream was empty)');
      await take(reader.push(decoder.decode()));
      await take(reader.end());
      if (!header) throw new InvalidArgumentError('file', 'is empty: the first line must name the columns');
      await flush();
    } catch (e) {
      if (e instanceof CsvError) {
        // The rows read before the broken one are good: keep them, so importing the fixed file completes the job.
        await flush();
        throw new InvalidArgumentError('file', `${e.message} (rows before it were imported; fix the file and import it again)`);
      }
      throw e;
    }
    const counts = {
      rows: result.rows.toString(),
      stored: result.stored.toString(),
      duplicates: result.duplicates.toString(),
      adjusted: result.adjusted.toString(),
      rejected: result.rejected.toString(),
    };
    // The run's counts (rows were stored batch by batch, each with its own events).
    await this.ds.transaction((m) => this.outbox.add(m, Events.ConversionsImported, { partnerId: partner!.partnerId, ...counts }));
    this.relay.kick();
    return { ...counts, errors: result.errors };
  }

  private async partner(partnerId: string): Promise<PartnerEntity> {
    const problem = partnerIdProblem(partnerId ?? '');
    if (problem) throw new InvalidArgumentError('partner_id', problem);
    const partner = await this.ds.getRepository(PartnerEntity).findOneBy({ partnerId });
    if (!partner) throw new NotFoundError('partner', partnerId);
    return partner;
  }
}

/**
 * Chunks from the stream, pulled one at a time; the sender is paused while too many wait.
 *
 * Nest delivers a client stream's messages live and also keeps them in a replay buffer until the handler has
 * returned, then replays that buffer (with the stream's completion, if it came meanwhile) into the same subject. A
 * subscriber from the start therefore sees early messages twice: the second sighting of the same object is skipped.
 */
class ChunkQueue {
  private readonly items: ImportConversionsRequest[] = [];
  private readonly seen = new WeakSet<ImportConversionsRequest>();
  private done = false;
  private failure: unknown;
  private wake?: () => void;
  private paused = false;
  private static readonly HIGH = 16;
  private static readonly LOW = 4;

  constructor(
    source: Observable<ImportConversionsRequest>,
    private readonly flow?: FlowControl,
  ) {
    source.subscribe({
      next: (m) => {
        if (this.seen.has(m)) return;
        this.seen.add(m);
        this.items.push(m);
        if (this.items.length >= ChunkQueue.HIGH) this.pause();
        this.notify();
      },
      error: (e) => {
        this.failure = e;
        this.notify();
      },
      complete: () => {
        this.done = true;
        this.notify();
      },
    });
  }

  async next(): Promise<ImportConversionsRequest | undefined> {
    for (;;) {
      if (this.failure) throw this.failure;
      const item = this.items.shift();
      if (item) {
        this.maybeResume();
        return item;
      }
      if (this.done) return undefined;
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  maybeResume(): void {
    // Only a pause of ours is undone: resuming a stream nobody paused can restart one that already ended.
    if (this.paused && this.items.length <= ChunkQueue.LOW) {
      this.paused = false;
      this.flow?.resume();
    }
  }

  /** Holds the sender back (while a batch is stored, or too many chunks wait). */
  pause(): void {
    if (this.paused) return;
    this.paused = true;
    this.flow?.pause();
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}
