# One source applied to a local AWS (moto server) with a local upstream API: used by `make demo`.
# Every service endpoint points at var.aws_endpoint; nothing leaves loopback.
provider "aws" {
  region                      = var.region
  access_key                  = "test"
  secret_key                  = "test"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  skip_requesting_account_id  = false
  s3_use_path_style           = true

  endpoints {
    athena         = var.aws_endpoint
    cloudwatch     = var.aws_endpoint
    cloudwatchlogs = var.aws_endpoint
    events         = var.aws_endpoint
    glue           = var.aws_endpoint
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

module "source" {
  source = "../.."

  source_id = var.source_id
  api_config = {
    endpoint     = "${var.api_endpoint}/v1/orders"
    auth         = { type = "bearer", secret_field = "api_key" }
    records_path = "data.items"
    pagination   = { type = "page_number", total_pages_path = "pages" }
    # Incremental: each run asks only for orders updated after the stored cursor (kept in the lake).
    query_params = { updated_since = "{cursor}" }
    incremental  = { type = "cursor", cursor_path = "updated_at", initial_value = "1970-01-01T00:00:00Z" }
  }
  schedule_expression  = "rate(1 hour)"
  bucket_force_destroy = true

  # The records zone's Glue table gets typed columns from each order, and a primary key for the
  # "latest" query (one row per order: the newest version).
  table = {
    columns     = { id = "bigint", amount_cents = "bigint", currency = "string", updated_at = "timestamp" }
    primary_key = ["id"]
  }

  secret_recovery_window_days = 0
  # The sample API is plain http on 127.0.0.1: local testing only.
  allow_http_loopback      = true
  kms_deletion_window_days = 7
}
