/**
 * An incremental RFC 4180 CSV reader: text is pushed in pieces of any size (a piece may end inside a quoted field or
 * between CR and LF) and complete records come out with the line they start on, so a file of any length is read
 * with memory for one record at a time. Quoted fields may hold commas, doubled quotes and line breaks.
 */

export interface CsvRecord {
  /** 1-based line on which the record starts. */
  line: number;
  fields: string[];
}

/** A record longer than this is not a conversion row: the reader refuses it instead of growing without bound. */
export const MAX_RECORD_CHARS = 64 * 1024;

export class CsvError extends Error {
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(`line ${line}: ${message}`);
  }
}

export class CsvReader {
  private field = '';
  private fields: string[] = [];
  private quoted = false;
  /** Just saw a quote inside a quoted field: either an escaped quote or the field's end. */
  private quoteSeen = false;
  /** The previous character was a CR ending a record, so a following LF belongs to it. */
  private afterCr = false;
  private line = 1;
  private recordLine = 1;
  private recordChars = 0;
  private fieldStarted = false;
  /** The current field was quoted and its closing quote seen: only a separator may follow. */
  private closedQuote = false;

  /** Parses the next piece of text; returns the records it completed. */
  push(text: string): CsvRecord[] {
    const out: CsvRecord[] = [];
    for (let i = 0; i < text.length; i++) {
      const ch = text[i];
      if (this.afterCr) {
        this.afterCr = false;
        if (ch === '\n') continue;
      }
      if (++this.recordChars > MAX_RECORD_CHARS) throw new CsvError(this.recordLine, `record longer than ${MAX_RECORD_CHARS} characters`);
      if (this.quoted) {
        if (this.quoteSeen) {
          this.quoteSeen = false;
          if (ch === '"') {
            this.field += '"';
            continue;
          }
          // The quote closed the field; this character is read below.
          this.quoted = false;
          this.closedQuote = true;
        } else if (ch === '"') {
          this.quoteSeen = true;
          continue;
        } else {
          if (ch === '\n') this.line++;
          this.field += ch;
          continue;
        }
      }
      if (ch === ',') {
        this.endField();
      } else if (ch === '\n' || ch === '\r') {
        this.afterCr = ch === '\r';
        const rec = this.endRecord();
        if (rec) out.push(rec);
        this.line++;
        this.recordLine = this.line;
      } else if (ch === '"' && !this.fieldStarted) {
        this.quoted = true;
        this.fieldStarted = true;
      } else if (ch === '"') {
        throw new CsvError(this.line, 'a quote inside an unquoted field (quote the whole field and double the quote)');
      } else {
        if (this.closedQuote) throw new CsvError(this.line, 'characters after a closing quote');
        this.field += ch;
        this.fieldStarted = true;
      }
    }
    return out;
  }

  /** The end of the text: the last record, if the file does not end with a line break. */
  end(): CsvRecord[] {
    if (this.quoted && !this.quoteSeen) throw new CsvError(this.recordLine, 'a quoted field is not closed');
    this.quoted = false;
    this.quoteSeen = false;
    const rec = this.endRecord();
    return rec ? [rec] : [];
  }


  private endField(): void {
    this.fields.push(this.field);
    this.field = '';
    this.fieldStarted = false;
    this.closedQuote = false;
  }

  private endRecord(): CsvRecord | undefined {
    const blank = this.fields.length === 0 && this.field === '' && !this.fieldStarted;
    this.endField();
    const rec = { line: this.recordLine, fields: this.fields };
    this.fields = [];
    this.recordChars = 0;
    // A blank line (including the end of a file that ends with a line break) is no record.
    return blank ? undefined : rec;
  }
}
