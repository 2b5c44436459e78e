# A shared raw lake for many lake-ingest sources: one bucket, one KMS key, one alarm topic.
# Each source (the root module with `lake = module.lake.for_sources`) writes only under its own
# prefix: its role's IAM policy says so, and this bucket's policy enforces it again for every source
# registered in var.sources (and turns away any other role tagged as a lake-ingest source).

data "aws_partition" "current" {}
data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

locals {
  partition  = data.aws_partition.current.partition
  dns_suffix = data.aws_partition.current.dns_suffix
  region     = data.aws_region.current.name
  account_id = data.aws_caller_identity.current.account_id

  topic_name = "${var.name}-alarms"
  topic_arn  = "arn:${local.partition}:sns:${local.region}:${local.account_id}:${local.topic_name}"
  # What the sources' functions are called: their log groups (and their state machines', with the
  # orchestration option) may use the key, their alarms the topic.
  log_group_arns = flatten([
    for p in var.function_name_patterns : [
      "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:/aws/lambda/${p}",
      "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:/aws/vendedlogs/states/${p}",
    ]
  ])
  alarm_arns = [
    for p in var.function_name_patterns : "arn:${local.partition}:cloudwatch:${local.region}:${local.account_id}:alarm:${p}-*"
  ]
  service_principal = {
    cloudwatch   = "cloudwatch.amazonaws.com"
    log_delivery = "delivery.logs.amazonaws.com"
    logs         = "logs.${local.region}.${local.dns_suffix}"
  }
  # Every source role carries this tag (the root module sets it); the bucket policy keys on it.
  source_id_tag = "lake-ingest:source-id"

  # Glue and Athena take lowercase letters, digits and underscores in database names.
  glue_database  = replace(var.name, "-", "_")
  athena_results = "s3://${aws_s3_bucket.raw.id}/${var.athena.results_prefix}/"
  reader_sources = var.reader_sources == null ? keys(var.sources) : var.reader_sources

  tags = merge(var.tags, { "lake-ingest:lake" = var.name })
}
