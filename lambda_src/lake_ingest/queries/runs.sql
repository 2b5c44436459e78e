-- The source's complete runs: when each was published, its pages and records.
SELECT
  ingest_date,
  run_id,
  attempt,
  count(*) AS pages,
  sum(records) AS records,
  max(published_at) AS published_at
FROM "${database}"."${published}"
GROUP BY ingest_date, run_id, attempt
ORDER BY max(published_at) DESC
