# One shared lake (bucket, KMS key, alarm topic), three sources in it: each source's role writes only
# under its own prefix and reads only its own secret. Adding a source is one more map entry.

locals {
  local_aws = var.aws_endpoint != null

  sources = {
    orders = {
      path         = "/v1/orders"
      auth         = { type = "bearer", secret_field = "api_key" }
      records_path = "data.items"
      pagination   = { type = "page_number", total_pages_path = "pages" }
      schedule     = "cron(15 * * * ? *)"
      raw_prefix   = null
    }
    customers = {
      path         = "/v1/customers"
      auth         = { type = "header", secret_field = "api_key", header_name = "X-API-Key" }
      records_path = "data.items"
      pagination   = { type = "page_number", total_pages_path = "pages" }
      schedule     = "rate(6 hours)"
      raw_prefix   = null
    }
    invoices = {
      path         = "/v1/invoices"
      auth         = { type = "query", secret_field = "api_key", param_name = "key" }
      records_path = "data.items"
      pagination   = { type = "none" }
      schedule     = null
      raw_prefix   = "billing/invoices"
    }
  }
}

provider "aws" {
  region = var.region

  # Everything below only takes effect when aws_endpoint points at a local AWS.
  access_key                  = local.local_aws ? "test" : null
  secret_key                  = local.local_aws ? "test" : null
  skip_credentials_validation = local.local_aws
  skip_metadata_api_check     = local.local_aws
  skip_region_validation      = local.local_aws
  s3_use_path_style           = local.local_aws

  endpoints {
    cloudwatch     = var.aws_endpoint
    cloudwatchlogs = var.aws_endpoint
    iam            = var.aws_endpoint
    kms            = var.aws_endpoint
    lambda         = var.aws_endpoint
    s3             = var.aws_endpoint
    scheduler      = var.aws_endpoint
    secretsmanager = var.aws_endpoint
    sns            = var.aws_endpoint
    sqs            = var.aws_endpoint
    sts            = var.aws_endpoint
  }
}

module "lake" {
  source = "../../modules/lake"

  name                 = "acme-raw"
  bucket_force_destroy = local.local_aws
  # Registering each source lets the bucket policy confine it to its prefix (and checks that no two
  # prefixes overlap); a source that is not registered here fails at plan time.
  sources = { for id, s in local.sources : id => coalesce(s.raw_prefix, id) }
}

module "source" {
  source   = "../.."
  for_each = local.sources

  source_id  = each.key
  raw_prefix = each.value.raw_prefix
  lake       = module.lake.for_sources
  api_config = {
    endpoint     = "${var.api_base_url}${each.value.path}"
    auth         = each.value.auth
    records_path = each.value.records_path
    pagination   = each.value.pagination
  }
  schedule_expression = each.value.schedule

  secret_recovery_window_days = local.local_aws ? 0 : 30
  # The local sample API speaks plain http on 127.0.0.1; on AWS the endpoints are https.
  allow_http_loopback = local.local_aws
}
