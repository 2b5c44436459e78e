# Two push (webhook) sources in one shared lake: Stripe events and GitHub deliveries. Each gets its own
# HTTPS endpoint (push_urls output), signing-secret secret, buffer queue and replay table; the lake's
# bucket policy confines each to its own prefix. Nothing is polled and nothing is scheduled: the records
# zone fills as events arrive, in batches of up to a minute.
#
# After apply, put each sender's signing secret in its source's secret (out of band, so it never passes
# through Terraform), e.g.
#   aws secretsmanager put-secret-value --secret-id <secret_arns.stripe-events> \
#     --secret-string '{"signing_secrets": [{"value": "whsec_..."}]}'
# and register push_urls.<source> as the webhook endpoint with Stripe and GitHub.

locals {
  local_aws = var.aws_endpoint != null
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
    apigatewayv2   = var.aws_endpoint
    athena         = var.aws_endpoint
    cloudwatch     = var.aws_endpoint
    cloudwatchlogs = var.aws_endpoint
    dynamodb       = var.aws_endpoint
    glue           = var.aws_endpoint
    iam            = var.aws_endpoint
    kms            = var.aws_endpoint
    lambda         = var.aws_endpoint
    s3             = var.aws_endpoint
    secretsmanager = var.aws_endpoint
    sns            = var.aws_endpoint
    sqs            = var.aws_endpoint
    sts            = var.aws_endpoint
  }
}

module "lake" {
  source = "../../modules/lake"

  name                 = "webhooks-raw"
  bucket_force_destroy = local.local_aws
  # Each source registered with its prefix: the bucket policy confines its roles (writer and ingress) to it.
  sources = { stripe-events = "stripe-events", github-events = "github-events" }
}

# Stripe: Stripe-Signature (t=..., v1=...), five minutes' tolerance; the event id and time are the
# body's id and created (epoch seconds), so `latest` orders redeliveries by when Stripe created them.
module "stripe_events" {
  source = "../.."

  source_id = "stripe-events"
  lake      = module.lake.for_sources
  push = {
    signature  = "stripe"
    event_time = "$.created"
    batch      = { window_seconds = var.batch_window_seconds }
    alarms     = { no_events_hours = 24 }
  }
  # The typed columns of the records table, from each event's top-level fields.
  table = {
    columns = { type = "string", livemode = "boolean" }
  }

  secret_recovery_window_days = local.local_aws ? 0 : 30
}

# GitHub: X-Hub-Signature-256 (no timestamp: replays are refused for replay_retention_days by the
# delivery's signature), the id is the X-GitHub-Delivery header. GitHub does not retry failed
# deliveries by itself, so the throttle is generous.
module "github_events" {
  source = "../.."

  source_id = "github-events"
  lake      = module.lake.for_sources
  push = {
    signature = "github"
    throttle  = { rate = 50, burst = 100 }
    batch     = { size = 100, window_seconds = min(30, var.batch_window_seconds) }
  }
  table = {
    columns = { action = "string" }
  }

  secret_recovery_window_days = local.local_aws ? 0 : 30
}
