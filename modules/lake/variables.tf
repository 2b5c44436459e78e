variable "name" {
  description = "Name of the lake: prefix of the bucket name, the key alias (alias/<name>) and the alarm topic (<name>-alarms)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{0,38}[a-z0-9]$", var.name))
    error_message = "name must be 2-40 characters of lowercase letters, digits and hyphens, starting and ending with a letter or digit."
  }
  # The Glue database is the name with '_' for '-': Athena reads only lowercase letters, digits and
  # underscores in database names (https://docs.aws.amazon.com/athena/latest/ug/tables-databases-columns-names.html).
  validation {
    condition     = can(regex("^[a-z0-9_]{1,255}$", replace(var.name, "-", "_")))
    error_message = "name must also make a Glue database name Athena can query (the name with '_' for '-'): lowercase letters, digits and underscores only, got \"${replace(var.name, "-", "_")}\"."
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
  # The workgroup's query results live under athena.results_prefix: no source may write there, and the
  # results may not land inside a source's prefix (its role could read or replace them).
  validation {
    condition = length([
      for id, p in var.sources : id
      if p == var.athena.results_prefix || startswith(p, "${var.athena.results_prefix}/") || startswith(var.athena.results_prefix, "${p}/")
    ]) == 0
    error_message = "sources: the prefix \"${var.athena.results_prefix}\" holds the Athena workgroup's query results (athena.results_prefix): ${join("; ", [for id, p in var.sources : "${id} = \"${p}\"" if p == var.athena.results_prefix || startswith(p, "${var.athena.results_prefix}/") || startswith(var.athena.results_prefix, "${p}/")])} may not be it, be under it or contain it. Give the source another prefix (or the results another athena.results_prefix)."
  }
  validation {
    condition = length(flatten([
      for a, pa in var.sources : [for b, pb in var.sources : b if a != b && (pa == pb || startswith(pb, "${pa}/"))]
    ])) == 0
    error_message = "sources: prefixes may not nest or overlap (a source could read or overwrite another's data): ${join("; ", flatten([for a, pa in var.sources : [for b, pb in var.sources : "${a} (${pa}) contains ${b} (${pb})" if a != b && (pa == pb || startswith(pb, "${pa}/"))]]))}. Give each source a prefix of its own, e.g. \"billing/invoices\" and \"billing/payments\" instead of \"billing\" and \"billing/invoices\"."
  }
}

variable "athena" {
  description = "The lake's Athena workgroup (named as the lake): enabled; bytes_scanned_cutoff_per_query, the most one query may scan (bytes; 0: no limit, else at least 10485760 = 10 MiB); results_prefix, the key prefix in the bucket where query results are written, encrypted with the lake key (no source may use it). The workgroup's settings override the client's (results location, encryption) and it publishes CloudWatch metrics. Off: no workgroup, and reader_policy_json grants no Athena action."
  type = object({
    enabled                        = optional(bool, true)
    bytes_scanned_cutoff_per_query = optional(number, 10737418240)
    results_prefix                 = optional(string, "_athena")
  })
  default  = { enabled = true, bytes_scanned_cutoff_per_query = 10737418240, results_prefix = "_athena" }
  nullable = false

  # The provider accepts 0 (no limit) or at least 10485760 (10 MiB)
  # (https://registry.terraform.io/providers/hashicorp/aws/latest/docs/resources/athena_workgroup#bytes_scanned_cutoff_per_query).
  validation {
    condition     = var.athena.bytes_scanned_cutoff_per_query == 0 || (var.athena.bytes_scanned_cutoff_per_query >= 10485760 && floor(var.athena.bytes_scanned_cutoff_per_query) == var.athena.bytes_scanned_cutoff_per_query)
    error_message = "athena.bytes_scanned_cutoff_per_query must be 0 (no limit) or a whole number of bytes of at least 10485760 (10 MiB), e.g. 10737418240 (10 GiB); got ${var.athena.bytes_scanned_cutoff_per_query}."
  }
  validation {
    condition     = can(regex("^[A-Za-z0-9_.=-]+(/[A-Za-z0-9_.=-]+)*$", var.athena.results_prefix)) && length(var.athena.results_prefix) <= 200 && !anytrue([for s in split("/", var.athena.results_prefix) : contains([".", ".."], s)])
    error_message = "athena.results_prefix must be a relative key prefix such as \"_athena\" of letters, digits, '_', '.', '=', '-' (at most 200 characters; no leading, trailing or double slash; no \".\" or \"..\" segment)."
  }
}

variable "reader_sources" {
  description = "The sources whose records reader_policy_json lets an analyst query (source ids registered in `sources`). Null (default): every registered source."
  type        = list(string)
  default     = null

  validation {
    condition     = var.reader_sources == null || alltrue([for id in(var.reader_sources == null ? [] : var.reader_sources) : contains(keys(var.sources), id)])
    error_message = "reader_sources may name only sources registered in `sources` (${join(", ", sort(keys(var.sources)))}); not registered: ${join(", ", [for id in(var.reader_sources == null ? [] : var.reader_sources) : id if !contains(keys(var.sources), id)])}."
  }
}
