# The minimal real-AWS usage: one source, everything else defaulted.
provider "aws" {
  region = var.region
}

module "orders" {
  source = "../.."

  source_id = "orders-api"
  api_config = {
    endpoint     = "https://api.example.com/v1/orders"
    query_params = { limit = "500" }
    auth         = { type = "bearer", secret_field = "api_key" }
    records_path = "data.items"
  }
  schedule_expression = "cron(15 * * * ? *)"
}

# After apply, store the credentials out of band (never in Terraform):
#   aws secretsmanager put-secret-value --secret-id "$(terraform output -raw secret_arn)" \
#     --secret-string '{"api_key":"..."}'
