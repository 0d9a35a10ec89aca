import { loadIngestConfig } from './ingest.config';

describe('ingest config: edge limits', () => {
  it('has working defaults', () => {
    expect(loadIngestConfig({})).toMatchObject({ INGEST_MAX_HEADER_BYTES: 16_384, INGEST_NOISE_RATE_PER_S: 20, INGEST_NOISE_BURST: 100 });
    expect(loadIngestConfig({ INGEST_NOISE_RATE_PER_S: '0' }).INGEST_NOISE_RATE_PER_S).toBe(0);
  });

  it.each([
    ['INGEST_NOISE_RATE_PER_S', '-1'],
    ['INGEST_NOISE_RATE_PER_S', 'fast'],
    ['INGEST_NOISE_BURST', '0'],
    ['INGEST_NOISE_BURST', '1.5'],
    ['INGEST_MAX_HEADER_BYTES', '1000'],
    ['INGEST_MAX_HEADER_BYTES', '100000'],
  ])('refuses %s=%p, naming it', (name, value) => {
    expect(() => loadIngestConfig({ [name]: value })).toThrow(name);
  });
});
