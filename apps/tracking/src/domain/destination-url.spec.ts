import { DomainError, InvalidArgumentError } from '@trackly/kernel';
import { destinationParts, fillDestination, Macro, MACROS, renderDestination, validateDestinationTemplate } from './destination-url';

const FIELD = 'destination_url_template';

function rejection(template: string, field?: string): DomainError {
  try {
    validateDestinationTemplate(template, field);
  } catch (e) {
    if (e instanceof DomainError) return e;
    throw e;
  }
  throw new Error(`${JSON.stringify(template)} was accepted`);
}

const values: Record<Macro, string> = {
  click_id: 'Ck7QeZ2m9XbT4wLp0aR1sD',
  message_id: 'msg-1',
  campaign_id: 'camp-1',
  creative_id: 'cr-1',
  offer_id: 'summer',
};

describe('validateDestinationTemplate', () => {
  it.each([
    'https://shop.example/land?cid={click_id}',
    'http://shop.example/{click_id}',
    'HTTPS://Shop.Example/land?cid={click_id}',
    'https://shop.example:8443/p/{offer_id}/{creative_id}?cid={click_id}&m={message_id}&c={campaign_id}',
    'https://shop.example/land#cid={click_id}',
    'https://shop.example/land?a={click_id}&b={click_id}',
    'https://[2001:db8::1]/land?cid={click_id}',
    'https://xn--bcher-kva.example/land?cid={click_id}',
  ])('accepts %p unchanged', (template) => {
    expect(validateDestinationTemplate(template)).toBe(template);
  });

  describe('rejects every open-redirect and script shape', () => {
    it.each([
      // Scheme-relative and path-only: the browser would resolve them against the tracking domain or anywhere.
      ['//evil.example/{click_id}', 'must be an absolute URL'],
      ['/\\evil.example/{click_id}', 'must be an absolute URL'],
      ['\\\\evil.example/{click_id}', 'must be an absolute URL'],
      ['/land?cid={click_id}', 'must be an absolute URL'],
      ['evil.example/{click_id}', 'must be an absolute URL'],
      ['{click_id}', 'must be an absolute URL'],
      // Credentials: https://shop.example@evil.example reads as shop.example to a human, goes to evil.example.
      ['https://a@evil.example/{click_id}', 'must name a host and carry no credentials'],
      ['https://shop.example@evil.example/{click_id}', 'must name a host and carry no credentials'],
      ['https://user:pw@shop.example/{click_id}', 'must name a host and carry no credentials'],
      ['https://:pw@shop.example/{click_id}', 'must name a host and carry no credentials'],
      // Backslashes, which WHATWG parsers turn into slashes (https:/\evil is https://evil).
      ['https:/\\evil.example/{click_id}', 'must not contain spaces or backslashes'],
      ['https:\\\\evil.example/{click_id}', 'must not contain spaces or backslashes'],
      ['https://evil.example\\@shop.example/{click_id}', 'must not contain spaces or backslashes'],
      ['https://shop.example/\\{click_id}', 'must not contain spaces or backslashes'],
      // Whitespace the URL parser would silently strip or encode.
      [' https://shop.example/{click_id}', 'must not contain spaces or backslashes'],
      ['https://shop.example/{click_id} ', 'must not contain spaces or backslashes'],
      ['https://sh\top.example/{click_id}', 'must not contain spaces or backslashes'],
      ['https://sh\nop.example/{click_id}', 'must not contain spaces or backslashes'],
      ['https://shop.example/a b?c={click_id}', 'must not contain spaces or backslashes'],
      // Other schemes.
      ['javascript:alert(1)//{click_id}', 'must be an http or https URL'],
      ['JavaScript:alert(document.cookie)//{click_id}', 'must be an http or https URL'],
      ['data:text/html,<script>alert(1)</script>{click_id}', 'must be an http or https URL'],
      ['data:text/html;base64,PHNjcmlwdD4=?{click_id}', 'must be an http or https URL'],
      ['vbscript:msgbox({click_id})', 'must be an http or https URL'],
      ['file:///etc/passwd?{click_id}', 'must be an http or https URL'],
      ['ftp://shop.example/{click_id}', 'must be an http or https URL'],
      ['mailto:x@shop.example?body={click_id}', 'must be an http or https URL'],
      // Unparseable hosts and ports.
      ['https://shop.example:99999/{click_id}', 'must be an absolute URL'],
      ['https://exa mple.com/{click_id}', 'must be an absolute URL'],
    ])('%p', (template, why) => {
      const e = rejection(template);
      expect(e.kind).toBe('INVALID_ARGUMENT');
      expect(e.fields).toEqual({ [FIELD]: why });
    });
  });

  it('requires the {click_id} macro, since attribution depends on it coming back', () => {
    expect(rejection('https://shop.example/land?m={message_id}').fields).toEqual({ [FIELD]: 'must contain the {click_id} macro' });
    expect(rejection('https://shop.example/land?cid={click}').fields[FIELD]).toMatch(/unknown macro \{click\}/);
  });

  it('names the first unknown macro and lists the known ones', () => {
    const e = rejection('https://shop.example/{click_id}?x={subid}&y={gclid}');
    expect(e.fields[FIELD]).toBe(`has unknown macro {subid}; known: ${MACROS.map((m) => `{${m}}`).join(' ')}`);
    expect(e.message).toBe(`${FIELD} has unknown macro {subid}; known: {click_id} {message_id} {campaign_id} {creative_id} {offer_id}`);
  });

  it('requires a template and bounds its length', () => {
    expect(rejection('').fields).toEqual({ [FIELD]: 'is required' });
    const base = 'https://shop.example/?cid={click_id}&pad=';
    expect(validateDestinationTemplate(base + 'a'.repeat(2048 - base.length))).toHaveLength(2048);
    expect(rejection(base + 'a'.repeat(2049 - base.length)).fields).toEqual({ [FIELD]: 'must be at most 2048 characters' });
  });

  it('reports under the field name it is given', () => {
    const e = rejection('//evil.example/{click_id}', 'offer.destination');
    expect(e).toBeInstanceOf(InvalidArgumentError);
    expect(e.fields).toEqual({ 'offer.destination': 'must be an absolute URL' });
  });
});

describe('renderDestination', () => {
  it('fills every known macro, as often as it appears', () => {
    const t = 'https://shop.example/p/{offer_id}/{creative_id}?cid={click_id}&m={message_id}&c={campaign_id}&again={click_id}';
    expect(renderDestination(t, values)).toBe(
      'https://shop.example/p/summer/cr-1?cid=Ck7QeZ2m9XbT4wLp0aR1sD&m=msg-1&c=camp-1&again=Ck7QeZ2m9XbT4wLp0aR1sD',
    );
  });

  it.each([
    ['&', '%26'],
    ['#', '%23'],
    ['/', '%2F'],
    ['?', '%3F'],
    ['=', '%3D'],
    ['%', '%25'],
    [' ', '%20'],
    ['+', '%2B'],
    ['@', '%40'],
    [':', '%3A'],
    ['\\', '%5C'],
    ['é', '%C3%A9'],
  ])('encodes %p in a value as %p', (ch, encoded) => {
    expect(renderDestination('https://shop.example/land?m={message_id}&cid={click_id}', { ...values, message_id: `a${ch}b` })).toBe(
      `https://shop.example/land?m=a${encoded}b&cid=${values.click_id}`,
    );
  });

  it('never lets a value change the URL structure: host, path, query keys and fragment stay those of the template', () => {
    const hostile = ['x&cid=forged', 'x#frag', '../../admin', '//evil.example', 'x?y=1', 'https://evil.example/', '%2F%2F', 'a b\tc\nd'];
    const template = 'https://shop.example/land/{offer_id}?cid={click_id}&m={message_id}';
    for (const v of hostile) {
      const url = new URL(renderDestination(template, { ...values, message_id: v, offer_id: v }));
      expect(url.origin).toBe('https://shop.example');
      expect(url.pathname.split('/')).toHaveLength(3);
      expect(decodeURIComponent(url.pathname.split('/')[2])).toBe(v);
      expect([...url.searchParams.keys()]).toEqual(['cid', 'm']);
      expect(url.searchParams.get('m')).toBe(v);
      expect(url.searchParams.get('cid')).toBe(values.click_id);
      expect(url.hash).toBe('');
    }
  });

  it('leaves text that only looks like a macro alone', () => {
    expect(renderDestination('https://shop.example/{unknown}/{CLICK_ID}?cid={click_id}', values)).toBe(
      `https://shop.example/{unknown}/{CLICK_ID}?cid=${values.click_id}`,
    );
  });

  it('renders every valid template to a URL on the template host', () => {
    const templates = [
      'https://shop.example/land?cid={click_id}',
      'http://shop.example:8080/{click_id}/{message_id}',
      'https://shop.example/land#{click_id}',
    ];
    for (const t of templates) {
      validateDestinationTemplate(t);
      expect(new URL(renderDestination(t, { ...values, click_id: '//evil.example' })).host).toBe(new URL(t.replace(/\{[a-z_]+\}/g, 'x')).host);
    }
  });
});

describe('destinationParts + fillDestination (the parts of a link filled once, the click id per tap)', () => {
  it.each([
    'https://shop.example/land?cid={click_id}',
    'https://shop.example/p/{offer_id}/{creative_id}?cid={click_id}&m={message_id}&c={campaign_id}&again={click_id}',
    'https://shop.example/{click_id}{click_id}/{message_id}{click_id}',
    'https://shop.example/?a={{click_id}}&b={click_id&c=click_id}&d={unknown}{click_id}',
    'https://shop.example/{click_id}',
    '{click_id}https://shop.example/{click_id}',
    'https://shop.example/?m={message_id}',
  ])('gives renderDestination\'s URL for %p', (template) => {
    for (const clickId of [values.click_id, 'a&b=c', '//evil.example', 'é {x}']) {
      for (const messageId of ['msg-1', 'x&cid=forged', '{click_id}']) {
        const all = { ...values, click_id: clickId, message_id: messageId };
        const { click_id: _omit, ...rest } = all;
        expect(fillDestination(destinationParts(template, rest), clickId)).toBe(renderDestination(template, all));
      }
    }
  });
});

describe('macros outside the path (review fixes)', () => {
  it.each([
    'https://{message_id}/x?c={click_id}',
    'https://shop.{campaign_id}.example/x?c={click_id}',
    'https:///{click_id}',
  ])('rejects %p: a macro must never choose the host', (template) => {
    expect(() => validateDestinationTemplate(template)).toThrow(/host/);
  });

  it.each(['https://shop.example/?c={CLICK_ID}', 'https://shop.example/?c={click-id}&d={click_id}', 'https://shop.example/?c={Click_Id}&d={click_id}'])(
    'reports %p as an unknown macro instead of keeping it as text',
    (template) => {
      expect(() => validateDestinationTemplate(template)).toThrow(/unknown macro/);
    },
  );
});
