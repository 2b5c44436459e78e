variable "name" {
  description = "Name of the lake: prefix of the bucket name, the key alias (alias/<name>) and the alarm topic (<name>-alarms)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{0,38}[a-z0-9]$", var.name))
    error_message = "name must be 2-40 characters of lowercase letters, digits and hyphens, starting and ending with a letter or digit."
  }
}

variable "function_name_patterns" {
  description = "Names (\"*\" wildcards allowed) of the source functions that use this lake: their log groups may use the key and their alarms (<function>-*) may publish to the topic. The default matches every source made with the default name_prefix."
  type        = list(string)
  default     = ["lake-ingest-*"]

  validation {
    condition     = length(var.function_name_patterns) > 0 && alltrue([for p in var.function_name_patterns : can(regex("^[A-Za-z0-9_*-]{1,64}$", p))])
    error_message = "function_name_patterns must be a non-empty list of function names made of letters, digits, '-', '_' and '*' wildcards."
  }
}

variable "kms_deletion_window_days" {
  description = "Waiting period before the lake's KMS key is deleted."
  type        = number
  default     = 30

  validation {
    condition     = var.kms_deletion_window_days >= 7 && var.kms_deletion_window_days <= 30
    error_message = "kms_deletion_window_days must be from 7 to 30."
  }
}

variable "noncurrent_version_expiration_days" {
  description = "Days after which overwritten (noncurrent) object versions expire."
  type        = number
  default     = 90

  validation {
    condition     = var.noncurrent_version_expiration_days >= 1 && floor(var.noncurrent_version_expiration_days) == var.noncurrent_version_expiration_days
    error_message = "noncurrent_version_expiration_days must be a whole number of at least 1."
  }
}

variable "abort_incomplete_multipart_days" {
  description = "Days after which unfinished multipart uploads (failed large pages) are removed."
  type        = number
  default     = 1

  validation {
    condition     = var.abort_incomplete_multipart_days >= 1 && floor(var.abort_incomplete_multipart_days) == var.abort_incomplete_multipart_days
    error_message = "abort_incomplete_multipart_days must be a whole number of at least 1."
  }
}

variable "bucket_force_destroy" {
  description = "Allow terraform destroy to delete the bucket with its objects (keep false outside sandboxes)."
  type        = bool
  default     = false
}

variable "access_logging" {
  description = "Optional S3 server access logging: {bucket = \"<log bucket>\", prefix = \"<key prefix>\"}. The log bucket must let logging.s3.amazonaws.com write. Null: off."
  type = object({
    bucket = string
    prefix = optional(string, "s3-access/")
  })
  default = null

  validation {
    condition     = var.access_logging == null || can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", try(var.access_logging.bucket, "")))
    error_message = "access_logging.bucket must be an S3 bucket name."
  }
}

variable "object_lock" {
  description = "Optional S3 Object Lock default retention for the bucket: {mode = \"GOVERNANCE\" | \"COMPLIANCE\", days = N}. Only at creation (S3 cannot enable it later on this bucket); COMPLIANCE cannot be shortened by anyone. Re-runs of a run id then add versions instead of replacing them. Null: off."
  type = object({
    mode = string
    days = number
  })
  default = null

  validation {
    condition     = var.object_lock == null || (contains(["GOVERNANCE", "COMPLIANCE"], try(var.object_lock.mode, "")) && try(var.object_lock.days >= 1 && floor(var.object_lock.days) == var.object_lock.days, false))
    error_message = "object_lock must be {mode = \"GOVERNANCE\" or \"COMPLIANCE\", days = a whole number of at least 1}."
  }
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}

variable "sources" {
  description = "The sources that write into this lake: source_id => raw prefix (the root module's source_id and its raw_prefix, which defaults to the source id). The bucket policy confines each source's role (tagged lake-ingest:source-id) to bucket/<prefix>/*, whatever its IAM policies say, and denies every other role tagged as a lake-ingest source. Prefixes may not nest or overlap. About 60 sources fit S3's 20 KB bucket-policy limit (checked before the policy is written)."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for id in keys(var.sources) : can(regex("^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$", id))])
    error_message = "sources: every key must be a source_id (1-32 lowercase letters, digits and hyphens, starting and ending with a letter or digit); invalid: ${jsonencode([for id in keys(var.sources) : id if !can(regex("^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$", id))])}."
  }
  validation {
    condition = alltrue([
      for p in values(var.sources) : can(regex("^[A-Za-z0-9_.=-]+(/[A-Za-z0-9_.=-]+)*$", p)) && length(p) <= 200 && !anytrue([for s in split("/", p) : contains([".", ".."], s)])
    ])
    error_message = "sources: every prefix must be a relative key prefix such as \"vendor/orders\" of letters, digits, '_', '.', '=', '-' (at most 200 characters; no leading, trailing or double slash; no \".\" or \"..\" segment); invalid: ${jsonencode([for id, p in var.sources : "${id} = ${p}" if !(can(regex("^[A-Za-z0-9_.=-]+(/[A-Za-z0-9_.=-]+)*$", p)) && length(p) <= 200 && !anytrue([for s in split("/", p) : contains([".", ".."], s)]))])}."
  }
  validation {
    condition = length(flatten([
      for a, pa in var.sources : [for b, pb in var.sources : b if a != b && (pa == pb || startswith(pb, "${pa}/"))]
    ])) == 0
    error_message = "sources: prefixes may not nest or overlap (a source could read or overwrite another's data): ${join("; ", flatten([for a, pa in var.sources : [for b, pb in var.sources : "${a} (${pa}) contains ${b} (${pb})" if a != b && (pa == pb || startswith(pb, "${pa}/"))]]))}. Give each source a prefix of its own, e.g. \"billing/invoices\" and \"billing/payments\" instead of \"billing\" and \"billing/invoices\"."
  }
}
