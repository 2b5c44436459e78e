# The same source in two regions (for example data residency: EU customers' data stays in the EU),
# each with its own lake. Provider aliases pick the region; nothing in the module names one.

provider "aws" {
  alias  = "eu"
  region = "eu-central-1"
}

provider "aws" {
  alias  = "us"
  region = "us-east-1"
}

locals {
  api_config = {
    auth         = { type = "bearer", secret_field = "api_key" }
    records_path = "data"
    pagination   = { type = "cursor", cursor_path = "meta.next_cursor", cursor_param = "cursor" }
  }
}

module "orders_eu" {
  source    = "../.."
  providers = { aws = aws.eu }

  source_id           = "orders-eu"
  api_config          = merge(local.api_config, { endpoint = "https://eu.api.example.com/v1/orders" })
  schedule_expression = "cron(0 * * * ? *)"
  schedule_timezone   = "Europe/Berlin"
}

module "orders_us" {
  source    = "../.."
  providers = { aws = aws.us }

  source_id           = "orders-us"
  api_config          = merge(local.api_config, { endpoint = "https://us.api.example.com/v1/orders" })
  schedule_expression = "cron(0 * * * ? *)"
  schedule_timezone   = "America/New_York"
}
