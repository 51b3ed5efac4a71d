-- Optional: a table for raw user events next to the window results, for ad-hoc queries and
-- backfills. Applied once by `sluice migrate` (or at start-up) when `sinks.clickhouse.migrations`
-- points at this folder. Kept to SQL that ClickHouse 18.16 and current releases both accept.
CREATE TABLE IF NOT EXISTS `{database}`.raw_events (
  event_id String,
  type String,
  user_id String,
  session_id String,
  url String,
  referrer String,
  user_agent String,
  ip String,
  country String,
  value Float64,
  timestamp DateTime('UTC'),
  timestamp_ms UInt64,
  properties String
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(timestamp)
ORDER BY (type, timestamp, event_id);
