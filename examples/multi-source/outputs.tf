output "lake" {
  description = "The shared lake: bucket, key and alarm topic every source uses, its Glue database and Athena workgroup, and the readers' policy (reader_policy_json, for the sources in readers)."
  value = {
    bucket_name        = module.lake.bucket_name
    bucket_arn         = module.lake.bucket_arn
    kms_key_arn        = module.lake.kms_key_arn
    alarm_topic_arn    = module.lake.alarm_topic_arn
    policies           = module.lake.policies
    glue_database      = module.lake.for_sources.glue_database
    athena_workgroup   = module.lake.for_sources.athena_workgroup
    athena_results     = module.lake.for_sources.athena_results
    readers            = local.readers
    reader_policy_json = module.lake.reader_policy_json
  }
}

output "sources" {
  description = "Per source, every output of the lake-ingest module: function, role, secret (fill it out of band), prefix, queues, alarms and its rendered policies."
  value       = merge(module.source, { events = module.events })
}

output "backfill_operator_policy_json" {
  description = "The IAM policy (JSON) an operator needs to run `python -m lake_ingest backfill` for events: attach it to the operator's role."
  value       = module.events.backfill_operator_policy_json
}

output "reader_policy_json" {
  description = "The IAM policy (JSON) an analyst needs to query the records of orders, customers and events (not invoices) with Athena: attach it to the analysts' role."
  value       = module.lake.reader_policy_json
}
