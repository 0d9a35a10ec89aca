import { csvCell, toCsv } from './csv';

describe('csv', () => {
  it('quotes commas, quotes and line breaks, and writes CRLF lines', () => {
    expect(toCsv(['a', 'b'], [['x,y', 'say "hi"'], ['line\nbreak', 7n]])).toBe('a,b\r\n"x,y","say ""hi"""\r\n"line\nbreak",7\r\n');
  });

  it('keeps text cells from being read as formulas, but not numbers', () => {
    expect(['=SUM(A1)', '+1***1234', '@cmd', '-2+3', '-12.50', '12'].map(csvCell)).toEqual(["'=SUM(A1)", "'+1***1234", "'@cmd", "'-2+3", '-12.50', '12']);
  });

  it('writes absent values as empty cells', () => {
    expect([undefined, null, '', false].map(csvCell)).toEqual(['', '', '', 'false']);
  });
});
