output "function_name" {
  description = "Name of the ingestion Lambda function."
  value       = module.source.function_name
}

output "function_arn" {
  description = "ARN of the ingestion Lambda function (target for schedules and event rules)."
  value       = module.source.function_arn
}

output "role_arn" {
  description = "ARN of the function's execution role."
  value       = module.source.role_arn
}

output "role_name" {
  description = "Name of the function's execution role."
  value       = module.source.role_name
}

output "bucket_name" {
  description = "Name of the raw bucket."
  value       = module.source.bucket_name
}

output "bucket_arn" {
  description = "ARN of the raw bucket."
  value       = module.source.bucket_arn
}

output "raw_prefix" {
  description = "Key prefix under which this source writes (the role can write nowhere else)."
  value       = module.source.raw_prefix
}

output "kms_key_arn" {
  description = "ARN of the KMS key that encrypts the objects, secret, logs, queue and topic (grant kms:Decrypt to readers)."
  value       = module.source.kms_key_arn
}

output "kms_key_alias" {
  description = "Alias of the KMS key."
  value       = module.source.kms_key_alias
}

output "secret_arn" {
  description = "ARN of the Secrets Manager secret the operator fills with the API credentials (JSON object)."
  value       = module.source.secret_arn
}

output "log_group_name" {
  description = "CloudWatch log group of the function."
  value       = module.source.log_group_name
}

output "sns_topic_arn" {
  description = "SNS topic the alarms publish to: subscribe the on-call channel here."
  value       = module.source.sns_topic_arn
}

output "dlq_arn" {
  description = "ARN of the dead-letter queue holding failed events with their errors."
  value       = module.source.dlq_arn
}

output "dlq_url" {
  description = "URL of the dead-letter queue."
  value       = module.source.dlq_url
}

output "alarm_arns" {
  description = "ARNs of the alarms by name: errors, throttles, duration, dead_letters."
  value       = module.source.alarm_arns
}

output "schedule_arn" {
  description = "ARN of the EventBridge Scheduler schedule, or null without schedule_expression."
  value       = module.source.schedule_arn
}

output "package_hash" {
  description = "Content hash of the deployed package (source_code_hash)."
  value       = module.source.package_hash
}

output "schedule_dlq_arn" {
  description = "ARN of the schedule's dead-letter queue."
  value       = module.source.schedule_dlq_arn
}

output "uses_shared_lake" {
  description = "Whether the source writes into a shared lake."
  value       = module.source.uses_shared_lake
}

output "policies" {
  description = "Every policy the module rendered (JSON): identity, trust, resource."
  value       = module.source.policies
}

output "sources" {
  description = "Every output of the lake-ingest module by source id (the shape examples/multi-source uses), for tools that handle any number of sources."
  value       = { (var.source_id) = module.source }
}

output "source_json" {
  description = "The source file for `python -m lake_ingest run | state | backfill --config source.json` (terraform output -raw source_json > source.json; add --endpoint-url for the local AWS)."
  value       = module.source.source_json
}

output "glue_database" {
  description = "The Glue database holding the source's tables."
  value       = module.source.glue_database
}

output "glue_tables" {
  description = "The source's Glue tables: records and published."
  value       = module.source.glue_tables
}

output "named_queries" {
  description = "The source's Athena named queries by name (id)."
  value       = module.source.named_queries
}

output "reader_policy_json" {
  description = "The IAM policy an analyst needs to query the source's records with Athena."
  value       = module.source.reader_policy_json
}
