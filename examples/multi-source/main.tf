# One shared lake (bucket, KMS key, alarm topic), four sources in it: each source's role writes only
# under its own prefix and reads only its own secret. Adding a source is one more map entry. `events`
# is incremental by window, on Step Functions: its runs finish by themselves, and its history loads
# with `python -m lake_ingest backfill start`; it signs in with OAuth2 (a refresh token the provider
# rotates on every use, which the function writes back to its secret). Each source's records land in
# tables of the lake's Glue database; analysts query orders, customers and events (not invoices) in
# the lake's Athena workgroup with the lake's reader policy.

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
      raw_prefix   = null
    }
  }
  # Settings that only some sources have; invoices' prefix is not its id.
  raw_prefixes = { invoices = "billing/invoices" }
  # The sources whose records analysts may query with the lake's reader policy.
  readers = ["orders", "customers", "events"]
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
    athena         = var.aws_endpoint
    cloudwatch     = var.aws_endpoint
    cloudwatchlogs = var.aws_endpoint
    glue           = var.aws_endpoint
    iam            = var.aws_endpoint
    kms            = var.aws_endpoint
    lambda         = var.aws_endpoint
    s3             = var.aws_endpoint
    scheduler      = var.aws_endpoint
    secretsmanager = var.aws_endpoint
    sfn            = var.aws_endpoint
    sns            = var.aws_endpoint
    sqs            = var.aws_endpoint
    sts            = var.aws_endpoint
  }
}

# The platform team's permissions boundary, as an organisation typically sets one: the sources' roles
# may use the services lake-ingest needs and nothing else, and never IAM or AWS Organizations, whatever
# policy is attached to them later. Every role of every source gets it (role_permissions_boundary), under
# the platform's path for ingestion roles (role_path).
data "aws_iam_policy_document" "boundary" {
  statement {
    sid = "ServicesLakeIngestUses"
    actions = [
      "ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface", "ec2:DescribeNetworkInterfaces",
      "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses",
      "kms:*", "lambda:InvokeFunction", "logs:*", "s3:*", "secretsmanager:*", "sqs:*", "states:*", "xray:*",
    ]
    resources = ["*"]
  }
  statement {
    sid       = "NeverIamOrOrganizations"
    effect    = "Deny"
    actions   = ["iam:*", "organizations:*"]
    resources = ["*"]
  }
}

resource "aws_iam_policy" "boundary" {
  name        = "acme-lake-ingest-boundary"
  path        = "/platform/"
  description = "Permissions boundary of every lake-ingest role: the services ingestion uses, never IAM or Organizations."
  policy      = data.aws_iam_policy_document.boundary.json
}

module "lake" {
  source = "../../modules/lake"

  name                 = "acme-raw"
  bucket_force_destroy = local.local_aws
  # Registering each source lets the bucket policy confine it to its prefix (and checks that no two
  # prefixes overlap); a source that is not registered here fails at plan time.
  sources = merge(
    { for id, s in local.sources : id => lookup(local.raw_prefixes, id, id) },
    { events = "events" },
  )
  # Analysts query every source's records but invoices' (billing data): the lake's reader_policy_json
  # covers exactly these.
  reader_sources = local.readers
}

module "source" {
  source   = "../.."
  for_each = local.sources

  source_id  = each.key
  raw_prefix = lookup(local.raw_prefixes, each.key, null)
  lake       = module.lake.for_sources
  api_config = {
    endpoint     = "${var.api_base_url}${each.value.path}"
    auth         = each.value.auth
    records_path = each.value.records_path
    pagination   = each.value.pagination
  }
  schedule_expression = each.value.schedule

  role_permissions_boundary = aws_iam_policy.boundary.arn
  role_path                 = "/platform/lake-ingest/"

  secret_recovery_window_days = local.local_aws ? 0 : 30
  # The local sample API speaks plain http on 127.0.0.1; on AWS the endpoints are https.
  allow_http_loopback = local.local_aws
}

# A window source with OAuth2 (rotating refresh tokens; the secret holds client_id, client_secret and
# refresh_token): each daily run fetches the day before its scheduled time, in pages of 20 and at most
# two pages an invocation; the run state machine resumes it until the day is complete. Its backfill
# state machine loads history window by window, five at a time (the function's reserved concurrency).
module "events" {
  source = "../.."

  source_id = "events"
  lake      = module.lake.for_sources
  api_config = {
    endpoint     = "${var.api_base_url}/v1/events"
    auth         = { type = "oauth2_refresh_token", token_url = "${var.api_base_url}/oauth2/token", scope = "events:read" }
    records_path = "data.items"
    pagination   = { type = "page_number", total_pages_path = "pages", page_size_param = "per_page", page_size = 20, max_pages = 2 }
    max_retries  = 1
    query_params = { updated_from = "{window_start}", updated_to = "{window_end}" }
    incremental  = { type = "window" }
  }
  schedule_expression  = "rate(1 day)"
  reserved_concurrency = 5
  orchestration = {
    resume_wait_seconds      = 1
    backfill_max_concurrency = 5
  }

  role_permissions_boundary = aws_iam_policy.boundary.arn
  role_path                 = "/platform/lake-ingest/"

  secret_recovery_window_days = local.local_aws ? 0 : 30
  allow_http_loopback         = local.local_aws
}
