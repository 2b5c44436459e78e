-- One row per primary key: the newest version of each record among the complete runs (by the
-- source's cursor, then by when it was ingested), so the lookback overlap and re-fetches disappear.
SELECT *
FROM (
  SELECT
    r.*,
    row_number() OVER (PARTITION BY ${key_columns} ORDER BY ${order_columns}) AS row_rank
  FROM "${database}"."${table}" AS r
  JOIN "${database}"."${published}" AS p
    ON p.ingest_date = r.ingest_date
    AND p.run_id = r.run_id
    AND p.attempt = r.attempt
    AND p.page = r.page
) AS ranked
WHERE row_rank = 1
