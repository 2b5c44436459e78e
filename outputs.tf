output "function_name" {
  description = "Name of the ingestion Lambda function."
  value       = aws_lambda_function.this.function_name
}

output "function_arn" {
  description = "ARN of the ingestion Lambda function (target for schedules and event rules)."
  value       = aws_lambda_function.this.arn
}

output "role_arn" {
  description = "ARN of the function's execution role."
  value       = aws_iam_role.this.arn
}

output "role_name" {
  description = "Name of the function's execution role."
  value       = aws_iam_role.this.name
}

output "bucket_name" {
  description = "Name of the raw bucket."
  value       = local.bucket_name
}

output "bucket_arn" {
  description = "ARN of the raw bucket."
  value       = local.bucket_arn
}

output "raw_prefix" {
  description = "Key prefix under which this source writes (the role can write nowhere else)."
  value       = local.raw_prefix
}

output "kms_key_arn" {
  description = "ARN of the KMS key that encrypts the objects, secret, logs, queue and topic (grant kms:Decrypt to readers)."
  value       = local.kms_key_arn
}

output "kms_key_alias" {
  description = "Alias of the KMS key."
  value       = try(module.lake[0].kms_key_alias, null)
}

output "secret_arn" {
  description = "ARN of the Secrets Manager secret the operator fills with the API credentials (JSON object)."
  value       = aws_secretsmanager_secret.api.arn
}

output "log_group_name" {
  description = "CloudWatch log group of the function."
  value       = aws_cloudwatch_log_group.this.name
}

output "sns_topic_arn" {
  description = "SNS topic the alarms publish to: subscribe the on-call channel here."
  value       = local.alarm_topic_arn
}

output "dlq_arn" {
  description = "ARN of the dead-letter queue holding failed events with their errors."
  value       = aws_sqs_queue.dlq.arn
}

output "dlq_url" {
  description = "URL of the dead-letter queue."
  value       = aws_sqs_queue.dlq.id
}

output "alarm_arns" {
  description = "ARNs of the enabled alarms by name (error_rate, throttles, duration, concurrency, dead_letters, schedule_dead_letters, async_events_dropped, quarantined_pages, freshness)."
  value = merge(
    { for k, a in aws_cloudwatch_metric_alarm.simple : k => a.arn },
    { for a in aws_cloudwatch_metric_alarm.error_rate : "error_rate" => a.arn },
    { for a in aws_cloudwatch_metric_alarm.freshness : "freshness" => a.arn },
  )
}

output "scheduler_role_arn" {
  description = "ARN of the role EventBridge Scheduler invokes the function with, or null without a schedule."
  value       = try(aws_iam_role.scheduler[0].arn, null)
}

output "schedule_dlq_arn" {
  description = "ARN of the schedule's dead-letter queue (events the scheduler could not deliver), or null without a schedule."
  value       = try(aws_sqs_queue.schedule_dlq[0].arn, null)
}

output "uses_shared_lake" {
  description = "Whether this source writes into a shared lake (var.lake) rather than its own bucket and key."
  value       = !local.own_lake
}

output "schedule_arn" {
  description = "ARN of the EventBridge Scheduler schedule, or null without schedule_expression."
  value       = try(aws_scheduler_schedule.this[0].arn, null)
}

output "package_hash" {
  description = "Content hash of the deployed package (source_code_hash)."
  value       = local.package_hash
}

output "policies" {
  description = "Every policy the module renders (JSON), for security review and policy linters. identity: the function role's and the scheduler role's permissions; trust: their trust policies; resource: the queues' and the secret's policies and, with an own lake, the bucket, key and topic policies."
  value = {
    identity = merge(
      { function_role = data.aws_iam_policy_document.role.json },
      local.scheduled ? { scheduler_role = data.aws_iam_policy_document.scheduler.json } : {},
    )
    trust = merge(
      { function_role = data.aws_iam_policy_document.assume.json },
      local.scheduled ? { scheduler_role = data.aws_iam_policy_document.scheduler_assume.json } : {},
    )
    resource = merge(
      { for k, doc in data.aws_iam_policy_document.queue : k => doc.json },
      { secret = data.aws_iam_policy_document.secret.json },
      local.own_lake ? module.lake[0].policies : {},
    )
  }
}

output "module_version" {
  description = "lake-ingest version of this module and the handler it deploys (semantic versioning; see CHANGELOG.md)."
  value       = local.module_version
}

output "api_config" {
  description = "The API_CONFIG the function runs with (known at plan time; no secret is ever in it): the schema's top-level defaults filled in, the options you set, the method in capitals, an incremental source's timezone (schedule_timezone) and window (the schedule's rate) when unset. Review it in the plan."
  value       = local.api_config
}
