output "bucket_name" {
  description = "Name of the lake bucket."
  value       = aws_s3_bucket.raw.id
}

output "bucket_arn" {
  description = "ARN of the lake bucket."
  value       = aws_s3_bucket.raw.arn
}

output "kms_key_arn" {
  description = "ARN of the lake's KMS key (grant lake readers kms:Decrypt via S3 on it, and s3:GetObject only on the data they read: never _state/)."
  value       = aws_kms_key.this.arn
}

output "kms_key_alias" {
  description = "Alias of the lake's KMS key."
  value       = aws_kms_alias.this.name
}

output "alarm_topic_arn" {
  description = "ARN of the SNS topic the sources' alarms publish to; subscribe on-call here."
  value       = aws_sns_topic.alarms.arn
}

output "for_sources" {
  description = "Pass as `lake` to each lake-ingest source: {bucket_name, kms_key_arn, alarm_topic_arn, source_prefixes, glue_database, athena_workgroup, athena_results}. A source checks at plan time that it is registered in var.sources with its own prefix, creates its Glue tables in glue_database and its named queries in athena_workgroup (null when athena is off; then athena_results, the s3:// URL of the query results, is null too)."
  value = {
    bucket_name      = aws_s3_bucket.raw.id
    kms_key_arn      = aws_kms_key.this.arn
    alarm_topic_arn  = aws_sns_topic.alarms.arn
    source_prefixes  = var.sources
    glue_database    = aws_glue_catalog_database.this.name
    athena_workgroup = try(aws_athena_workgroup.this[0].name, null)
    athena_results   = var.athena.enabled ? local.athena_results : null
  }
}

output "reader_policy_json" {
  description = "The IAM policy (JSON) an analyst needs to query the records of reader_sources (default: every registered source) with Athena, and nothing else: queries and named queries in the lake's workgroup; glue:GetDatabase/GetTable/GetTables/GetPartitions on the catalog, the database and those sources' tables (<name>, <name>_published); s3:GetObject on their records/ and published/ zones and listing only there; writing and reading query results under athena.results_prefix; the lake key only through S3 for those objects. Never raw pages, manifests, _state/, _backfill/, another source's data or the key directly. Attach it to the analysts' role (not to a role tagged as a source)."
  value       = module.reader.json
}

output "policies" {
  description = "The lake's rendered policies (JSON), for security review and policy linters: bucket, key, alarm_topic (resource policies) and reader (reader_policy_json, an identity policy)."
  value = {
    bucket      = data.aws_iam_policy_document.raw_bucket.minified_json
    key         = data.aws_iam_policy_document.kms.json
    alarm_topic = data.aws_iam_policy_document.alarms_topic.json
    reader      = module.reader.json
  }
}
