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
  value       = aws_s3_bucket.raw.id
}

output "bucket_arn" {
  description = "ARN of the raw bucket."
  value       = aws_s3_bucket.raw.arn
}

output "raw_prefix" {
  description = "Key prefix under which this source writes (the role can write nowhere else)."
  value       = local.raw_prefix
}

output "kms_key_arn" {
  description = "ARN of the KMS key that encrypts the objects, secret, logs, queue and topic (grant kms:Decrypt to readers)."
  value       = aws_kms_key.this.arn
}

output "kms_key_alias" {
  description = "Alias of the KMS key."
  value       = aws_kms_alias.this.name
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
  value       = aws_sns_topic.alarms.arn
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
  description = "ARNs of the alarms by name: errors, throttles, duration, dead_letters."
  value = merge(
    { for k, a in aws_cloudwatch_metric_alarm.function : k => a.arn },
    { dead_letters = aws_cloudwatch_metric_alarm.dlq_depth.arn },
  )
}

output "schedule_arn" {
  description = "ARN of the EventBridge Scheduler schedule, or null without schedule_expression."
  value       = try(aws_scheduler_schedule.this[0].arn, null)
}

output "package_hash" {
  description = "Content hash of the deployed package (source_code_hash)."
  value       = local.package_hash
}
