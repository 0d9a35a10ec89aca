import { bodyKind, mergeParams, parseJsonParams, parseUrlEncoded, redactJsonToken, redactUrlEncodedToken, storableParams, urlEncodingProblem, withoutNul } from './postback-params';

describe('parseUrlEncoded', () => {
  it('decodes names and values, "+" as a space, with or without the leading "?"', () => {
    expect(parseUrlEncoded('?click_id=a%2Fb&note=two+words&payout=24%2C99')).toEqual({ click_id: 'a/b', note: 'two words', payout: '24,99' });
    expect(parseUrlEncoded('click_id=x')).toEqual({ click_id: 'x' });
  });

  it('keeps every value of a repeated name, in order', () => {
    expect(parseUrlEncoded('payout=1&x=0&payout=2')).toEqual({ payout: ['1', '2'], x: '0' });
  });

  it('keeps empty values and bracketed names literally (no nesting)', () => {
    expect(parseUrlEncoded('a=&b&c[d]=1')).toEqual({ a: '', b: '', 'c[d]': '1' });
  });

  it('gives nothing for an empty string', () => {
    expect(parseUrlEncoded('')).toEqual({});
  });

  it('makes "__proto__" an ordinary own name', () => {
    const p = parseUrlEncoded('__proto__=x&constructor=y');
    expect(Object.getPrototypeOf(p)).toBe(Object.prototype);
    expect(Object.keys(p)).toEqual(['__proto__', 'constructor']);
    expect(p['__proto__']).toBe('x');
  });
});

describe('parseJsonParams', () => {
  it('keeps strings and the exact digits of numbers', () => {
    expect(parseJsonParams('{"click_id":"abc","payout":24.990,"big":12345678901234567890,"exp":1e3,"neg":-0.5}')).toEqual({
      ok: true,
      value: { click_id: 'abc', payout: '24.990', big: '12345678901234567890', exp: '1e3', neg: '-0.5' },
    });
  });

  it('decodes escapes in names and values, and tolerates whitespace', () => {
    expect(parseJsonParams(' {\n "na\\u006de" : "a\\"b\\\\c\\u00e9\\/" , "n":0 }\t')).toEqual({ ok: true, value: { name: 'a"b\\cé/', n: '0' } });
  });

  it('accepts an empty object', () => {
    expect(parseJsonParams('{}')).toEqual({ ok: true, value: {} });
  });

  it('turns a repeated name into a list instead of silently keeping the last', () => {
    expect(parseJsonParams('{"payout":"1","payout":2}')).toEqual({ ok: true, value: { payout: ['1', '2'] } });
  });

  it('refuses nested, boolean and null values per name', () => {
    expect(parseJsonParams('{"a":{"b":1},"c":[1],"d":true,"e":null,"f":"ok"}')).toEqual({
      ok: false,
      fields: { a: 'must be a string or a number', c: 'must be a string or a number', d: 'must be a string or a number', e: 'must be a string or a number' },
    });
  });

  it.each(['[1,2]', '"text"', '42', 'null'])('refuses the non-object %p', (text) => {
    expect(parseJsonParams(text)).toEqual({ ok: false, fields: { body: 'must be a JSON object of strings and numbers' } });
  });

  it.each(['{', '{"a":1,}', "{'a':1}", 'click_id=1', '{"a":01}', '{"a":NaN}'])('refuses the malformed %p', (text) => {
    const r = parseJsonParams(text);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.fields.body).toMatch(/^is not valid JSON/);
  });

  it('makes "__proto__" an ordinary own name', () => {
    const r = parseJsonParams('{"__proto__":"x"}');
    expect(r.ok && Object.keys(r.value)).toEqual(['__proto__']);
    expect(r.ok && Object.getPrototypeOf(r.value)).toBe(Object.prototype);
  });
});

describe('bodyKind', () => {
  it.each([
    ['application/json', 'json'],
    ['application/json; charset=utf-8', 'json'],
    ['Application/JSON;charset="UTF-8"', 'json'],
    ['application/vnd.partner+json', 'json'],
    ['application/x-www-form-urlencoded', 'form'],
    ['application/x-www-form-urlencoded; charset=UTF-8', 'form'],
  ])('reads %p as %p', (ct, kind) => {
    expect(bodyKind(ct)).toEqual({ kind });
  });

  it.each([undefined, '', 'text/plain', 'multipart/form-data; boundary=x', 'application/xml', 'application/json; charset=iso-8859-1'])(
    'refuses %p',
    (ct) => {
      expect(bodyKind(ct)).toEqual({ unsupported: expect.any(String) });
    },
  );
});

describe('mergeParams', () => {
  it('lets the body win over the query, name by name', () => {
    expect(mergeParams({ payout: '1', click_id: 'q' }, { payout: '2', status: 'pending' })).toEqual({ payout: '2', click_id: 'q', status: 'pending' });
  });
});

describe('storable text', () => {
  it('replaces NUL, which Postgres text and jsonb cannot hold, and leaves everything else', () => {
    expect(withoutNul('a\u0000b\u0001é')).toBe('a\uFFFDb\u0001é');
    expect(storableParams({ 'a\u0000': ['x\u0000', 'y'], b: 'z' })).toEqual({ 'a\uFFFD': ['x\uFFFD', 'y'], b: 'z' });
  });
});

describe('urlEncodingProblem', () => {
  it.each(['', 'a=1&b=2', 'a=%20%E2%82%AC&b=+', 'name=%F0%9F%98%80', 'x=%00', 'k=%ef%bf%bd'])('accepts %p', (text) => {
    expect(urlEncodingProblem(text)).toBeUndefined();
  });
  it.each(['a=%ZZ', 'a=1%', 'a=%4', '%G0=1', 'a=%C0%AF', 'a=%E0%80%AE', 'a=%ED%A0%80', 'a=%F4%90%80%80', 'a=%FF', 'a=%E0%A4%A', 'a=%C3%28'])(
    'refuses %p',
    (text) => {
      expect(urlEncodingProblem(text)).toEqual(expect.any(String));
    },
  );
});

describe('token redaction', () => {
  it('replaces every token value in a query or form body, however its name is encoded', () => {
    expect(redactUrlEncodedToken('a=1&token=s3cret&b=2')).toBe('a=1&token=REDACTED&b=2');
    expect(redactUrlEncodedToken('token=x&token=y')).toBe('token=REDACTED&token=REDACTED');
    expect(redactUrlEncodedToken('%74oken=s3cret&tokens=keep')).toBe('%74oken=REDACTED&tokens=keep');
    expect(redactUrlEncodedToken('token&x=%zz')).toBe('token=REDACTED&x=%zz');
    expect(redactUrlEncodedToken('')).toBe('');
    expect(redactUrlEncodedToken('Token=s3cret&TOKEN=s3cret&a=1')).toBe('Token=REDACTED&TOKEN=REDACTED&a=1');
  });

  it('replaces the token in a JSON body', () => {
    expect(redactJsonToken('{"token": "s3cret", "payout": "1"}')).toBe('{"token": "REDACTED", "payout": "1"}');
    expect(redactJsonToken('{"token":12345,"a":"token"}')).toBe('{"token":"REDACTED","a":"token"}');
    expect(redactJsonToken('{"token":"a\\"b"}')).toBe('{"token":"REDACTED"}');
    expect(redactJsonToken('{"Token":"s3cret"}')).toBe('{"Token":"REDACTED"}');
  });
});
