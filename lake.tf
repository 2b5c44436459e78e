# Where this source stores its data: its own lake (bucket, KMS key, alarm topic; the default) or a
# shared one passed in as `lake` (modules/lake's for_sources output, or existing resources).

# A push source's ingress function logs under its own name, and its API's access log below that name
# (push.tf), so the own lake's key lets CloudWatch Logs use it for "<ingress function>*" too.
module "lake" {
  source = "./modules/lake"
  count  = local.own_lake ? 1 : 0

  name                               = local.name
  function_name_patterns             = local.push ? [local.function_name, "${local.ingress_function_name}*"] : [local.function_name]
  sources                            = { (var.source_id) = local.raw_prefix }
  kms_deletion_window_days           = var.kms_deletion_window_days
  noncurrent_version_expiration_days = var.noncurrent_version_expiration_days
  abort_incomplete_multipart_days    = var.abort_incomplete_multipart_days
  bucket_force_destroy               = var.bucket_force_destroy
  access_logging                     = var.access_logging
  tags                               = local.tags
}

locals {
  # Known at plan time even when the shared lake's attributes are not (an object is null or not).
  own_lake        = var.lake == null
  bucket_name     = local.own_lake ? module.lake[0].bucket_name : var.lake.bucket_name
  bucket_arn      = "arn:${local.partition}:s3:::${local.bucket_name}"
  kms_key_arn     = local.own_lake ? module.lake[0].kms_key_arn : var.lake.kms_key_arn
  alarm_topic_arn = local.own_lake ? module.lake[0].alarm_topic_arn : var.lake.alarm_topic_arn
}
