-- Storage per row, indexes included, of the tables that grow with traffic: run against a database migrated by
-- `npm run migrate` (tools/ops/storage/measure.sh does both). Rows are shaped like production's (id lengths, a
-- phone user agent, a TUNE postback query string, protobuf payload sizes of real events); 200,000 per table, then
-- VACUUM ANALYZE so sizes are settled. Prints bytes per row (heap + TOAST + every index).
\set n 200000
\timing off
INSERT INTO tracking.messages (message_id, contact_id, phone_e164, campaign_id, creative_id, offer_id, sent_at, short_code, created_at, xid, request_id)
SELECT 'msg-' || md5(i::text), 'contact-' || (i % 50000), '+1555' || lpad((i % 10000000)::text, 7, '0'), 'camp-' || (i % 40), 'cr-' || (i % 200), 'offer-' || (i % 20),
       now() - (i || ' seconds')::interval, substr(md5('s' || i), 1, 12), now(), pg_current_xact_id(), gen_random_uuid()::text
FROM generate_series(1, :n) i;
INSERT INTO tracking.clicks (click_id, message_id, contact_id, offer_id, campaign_id, creative_id, clicked_at, user_agent, ip, click_class, classification_reason, classifier_version, xid, request_id)
SELECT replace(gen_random_uuid()::text, '-', ''), 'msg-' || md5(i::text), 'contact-' || (i % 50000), 'offer-' || (i % 20), 'camp-' || (i % 40), 'cr-' || (i % 200),
       now() - (i || ' seconds')::interval,
       'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1',
       '203.0.113.' || (i % 250), 'HUMAN', 'human: mobile browser', 'v3', pg_current_xact_id(), gen_random_uuid()::text
FROM generate_series(1, :n) i;
INSERT INTO ingest.conversions (partner_id, conversion_id, click_id, payout_micros, currency, status, occurred_at, received_at, attribution_state, credited_message_id, raw)
SELECT 'tune-main', 'tx-' || i, replace(gen_random_uuid()::text, '-', ''), 24990000, 'USD', 'APPROVED', now(), now(), 'ATTRIBUTED', 'msg-' || md5(i::text),
       jsonb_build_object('offer_id', '123', 'goal_id', '1', 'aff_sub', 'x' || i)
FROM generate_series(1, :n) i;
INSERT INTO ingest.postback_requests (received_at, partner_id, source_ip, method, path, query, outcome, reason_code)
SELECT now(), 'tune-main', '198.51.100.7', 'GET', '/postbacks/tune-main',
       'token=' || md5('t') || '&click_id=' || replace(gen_random_uuid()::text, '-', '') || '&transaction_id=tx-' || i || '&payout=24.99&currency=USD&offer_id=123&goal_id=1&datetime=2026-12-05+10%3A00%3A00',
       'stored', 'stored'
FROM generate_series(1, :n) i;
-- One outbox row per event (kept 35 days now): a ConversionReceived is ~190 bytes of protobuf, headers ~120 bytes.
INSERT INTO ingest.outbox (id, subject, payload, headers, published_at)
SELECT gen_random_uuid(), 'trackly.ingest.v1.ConversionReceived', decode(repeat(md5(i::text), 6), 'hex'),
       jsonb_build_object('Trackly-Request-Id', gen_random_uuid()::text, 'traceparent', '00-' || md5(i::text) || '-' || substr(md5('p' || i), 1, 16) || '-01'), now()
FROM generate_series(1, :n) i;
-- One processed_events row per event a consumer applied (kept 15 days).
INSERT INTO reporting.processed_events (consumer, event_id, processed_at)
SELECT 'reporting-trackly-tracking-clicks-v1', replace(gen_random_uuid()::text, '-', ''), now() FROM generate_series(1, :n) i;
INSERT INTO attribution.clicks (click_id, message_id, contact_id, offer_id, campaign_id, creative_id, clicked_at, first_click_on_message, click_class)
SELECT replace(gen_random_uuid()::text, '-', ''), 'msg-' || md5(i::text), 'contact-' || (i % 50000), 'offer-' || (i % 20), 'camp-' || (i % 40), 'cr-' || (i % 200), now(), true, 'HUMAN'
FROM generate_series(1, :n) i;
INSERT INTO attribution.sends (message_id, contact_id, offer_id, campaign_id, creative_id, sent_at)
SELECT 'msg-' || md5(i::text), 'contact-' || (i % 50000), 'offer-' || (i % 20), 'camp-' || (i % 40), 'cr-' || (i % 200), now() FROM generate_series(1, :n) i;
INSERT INTO reporting.messages (message_id, contact_id, phone_masked, campaign_id, creative_id, offer_id, sent_at)
SELECT 'msg-' || md5(i::text), 'contact-' || (i % 50000), '+1555***' || lpad((i % 10000)::text, 4, '0'), 'camp-' || (i % 40), 'cr-' || (i % 200), 'offer-' || (i % 20), now()
FROM generate_series(1, :n) i;
INSERT INTO reporting.clicks (click_id, message_id, contact_id, offer_id, campaign_id, creative_id, clicked_at, first_click_on_message)
SELECT replace(gen_random_uuid()::text, '-', ''), 'msg-' || md5(i::text), 'contact-' || (i % 50000), 'offer-' || (i % 20), 'camp-' || (i % 40), 'cr-' || (i % 200), now(), true
FROM generate_series(1, :n) i;
VACUUM ANALYZE;
-- A partitioned table is measured as the sum of its partitions (the parent itself holds nothing).
SELECT t.oid::regclass AS "table", sum(l.reltuples)::bigint AS "rows",
       round(sum(pg_total_relation_size(l.relid))::numeric / nullif(sum(l.reltuples), 0)) AS "bytes/row (all)",
       round(sum(pg_relation_size(l.relid))::numeric / nullif(sum(l.reltuples), 0)) AS "heap",
       round(sum(pg_indexes_size(l.relid))::numeric / nullif(sum(l.reltuples), 0)) AS "indexes"
FROM pg_class t JOIN pg_namespace s ON s.oid = t.relnamespace
CROSS JOIN LATERAL (SELECT p.relid, greatest(c.reltuples, 0) AS reltuples FROM pg_partition_tree(t.oid) p JOIN pg_class c ON c.oid = p.relid WHERE p.isleaf AND t.relkind = 'p'
                    UNION ALL SELECT t.oid, greatest(t.reltuples, 0) WHERE t.relkind = 'r') l
WHERE t.relkind IN ('r', 'p') AND NOT t.relispartition AND s.nspname IN ('tracking', 'ingest', 'attribution', 'reporting')
GROUP BY t.oid HAVING sum(l.reltuples) >= 1000
ORDER BY 1;
