variable "partition" {
  description = "AWS partition of the lake (aws, aws-cn, aws-us-gov): every ARN is built from it."
  type        = string

  validation {
    condition     = can(regex("^aws(-[a-z]+)*$", var.partition))
    error_message = "partition must be an AWS partition name such as \"aws\", \"aws-cn\" or \"aws-us-gov\"."
  }
}

variable "region" {
  description = "Region of the lake (its Glue Data Catalog, Athena workgroup and the S3 endpoint in kms:ViaService)."
  type        = string

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]+$", var.region))
    error_message = "region must be an AWS region name such as \"eu-west-1\"."
  }
}

variable "account_id" {
  description = "Account that owns the lake's bucket, key, catalog and workgroup."
  type        = string

  validation {
    condition     = can(regex("^[0-9]{12}$", var.account_id))
    error_message = "account_id must be a 12-digit AWS account id."
  }
}

variable "bucket_name" {
  description = "The lake bucket."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.bucket_name))
    error_message = "bucket_name must be an S3 bucket name (not an ARN)."
  }
}

variable "kms_key_arn" {
  description = "ARN of the lake's KMS key (the records, published lists and query results are encrypted with it)."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN (arn:<partition>:kms:<region>:<account>:key/<id>), not an alias."
  }
}

variable "glue_database" {
  description = "The lake's Glue database, holding each source's tables <name> and <name>_published (name: the source id with '-' as '_')."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9_]{1,255}$", var.glue_database))
    error_message = "glue_database must be a Glue database name Athena can query: 1-255 lowercase letters, digits and underscores."
  }
}

variable "athena_workgroup" {
  description = "The lake's Athena workgroup, where the reader runs queries (null: no Athena statements)."
  type        = string
  default     = null

  validation {
    condition     = var.athena_workgroup == null || can(regex("^[A-Za-z0-9._-]{1,128}$", coalesce(var.athena_workgroup, "x")))
    error_message = "athena_workgroup must be an Athena workgroup name: 1-128 letters, digits, '.', '_' and '-'."
  }
}

variable "athena_results_prefix" {
  description = "Key prefix in the lake bucket (no slashes at either end) where the workgroup writes query results; null: none (the reader writes nothing)."
  type        = string
  default     = null

  validation {
    condition     = var.athena_results_prefix == null || can(regex("^[A-Za-z0-9_.=-]+(/[A-Za-z0-9_.=-]+)*$", coalesce(var.athena_results_prefix, "x")))
    error_message = "athena_results_prefix must be a relative key prefix such as \"_athena\" (no leading, trailing or double slash)."
  }
}

variable "sources" {
  description = "The sources whose records the reader may query: source id => raw prefix in the lake bucket."
  type        = map(string)

  validation {
    condition     = alltrue([for id in keys(var.sources) : can(regex("^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$", id))])
    error_message = "sources: every key must be a source_id (1-32 lowercase letters, digits and hyphens)."
  }
  validation {
    condition     = alltrue([for p in values(var.sources) : can(regex("^[A-Za-z0-9_.=-]+(/[A-Za-z0-9_.=-]+)*$", p))])
    error_message = "sources: every prefix must be a relative key prefix such as \"vendor/orders\" (no leading, trailing or double slash)."
  }
}
