# Created before the function, so Lambda never creates it (no "log group already exists", and the
# role needs no logs:CreateLogGroup).
resource "aws_cloudwatch_log_group" "this" {
  name              = local.log_group_name
  retention_in_days = var.log_retention_days
  kms_key_id        = local.kms_key_arn
  tags              = local.tags
}
