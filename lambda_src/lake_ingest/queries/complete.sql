-- Every record of the source's complete runs, each once. A run's records become visible when its
-- manifest says it is complete: it then publishes the list of its pages, and only listed pages are
-- joined (a run still going, stopped incomplete, quarantined or being re-run is not). Filter on
-- r.ingest_date to read only the days you need (the partitions Athena projects).
SELECT r.*
FROM "${database}"."${table}" AS r
JOIN "${database}"."${published}" AS p
  ON p.ingest_date = r.ingest_date
  AND p.run_id = r.run_id
  AND p.attempt = r.attempt
  AND p.page = r.page
