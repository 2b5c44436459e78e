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
  description = "Pass as `lake` to each lake-ingest source: {bucket_name, kms_key_arn, alarm_topic_arn, source_prefixes}. A source checks at plan time that it is registered in var.sources with its own prefix."
  value = {
    bucket_name     = aws_s3_bucket.raw.id
    kms_key_arn     = aws_kms_key.this.arn
    alarm_topic_arn = aws_sns_topic.alarms.arn
    source_prefixes = var.sources
  }
}

output "policies" {
  description = "The lake's rendered resource policies (JSON), for security review and policy linters: bucket, key, alarm_topic."
  value = {
    bucket      = data.aws_iam_policy_document.raw_bucket.minified_json
    key         = data.aws_iam_policy_document.kms.json
    alarm_topic = data.aws_iam_policy_document.alarms_topic.json
  }
}
