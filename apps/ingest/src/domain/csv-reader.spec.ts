import { CsvReader, CsvRecord, MAX_RECORD_CHARS } from './csv-reader';

/** Reads text pushed in pieces of `size` characters. */
function read(text: string, size = text.length || 1): CsvRecord[] {
  const r = new CsvReader();
  const out: CsvRecord[] = [];
  for (let i = 0; i < text.length; i += size) out.push(...r.push(text.slice(i, i + size)));
  return [...out, ...r.end()];
}

describe('CsvReader', () => {
  const file = 'click_id,conversion_id,payout\r\nabc,c-1,24.99\r\n"q,1","c ""2""",1\n"multi\nline",c-3,"2,50"\n\nlast,c-4,1';

  it.each([1, 2, 3, 7, 1000])('reads the same records whatever the piece size (%i)', (size) => {
    expect(read(file, size)).toEqual([
      { line: 1, fields: ['click_id', 'conversion_id', 'payout'] },
      { line: 2, fields: ['abc', 'c-1', '24.99'] },
      { line: 3, fields: ['q,1', 'c "2"', '1'] },
      { line: 4, fields: ['multi\nline', 'c-3', '2,50'] },
      { line: 7, fields: ['last', 'c-4', '1'] },
    ]);
  });

  it('keeps empty fields, skips blank lines, handles a lone CR and a trailing line break', () => {
    expect(read('a,,b\r\r,\n')).toEqual([
      { line: 1, fields: ['a', '', 'b'] },
      { line: 3, fields: ['', ''] },
    ]);
    expect(read('')).toEqual([]);
    expect(read('""')).toEqual([{ line: 1, fields: [''] }]);
  });

  it('refuses broken quoting with the line number', () => {
    expect(() => read('a,b\nx"y,z')).toThrow('line 2: a quote inside an unquoted field');
    expect(() => read('a\n"abc"def')).toThrow('line 2: characters after a closing quote');
    expect(() => read('a\n"open,\nmore')).toThrow('line 2: a quoted field is not closed');
  });

  it('refuses a record too long to be a row instead of buffering it', () => {
    const r = new CsvReader();
    expect(() => r.push(`"${'x'.repeat(MAX_RECORD_CHARS)}`)).toThrow(/longer than/);
  });
});
