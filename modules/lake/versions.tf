terraform {
  # 1.11: write-only attributes (api_credentials_wo) and ephemeral variables.
  required_version = ">= 1.11.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.100.0, < 7.0.0"
    }
  }
}
