variable "source_id" {
  description = "Identifier of the data source: names every resource and is the default S3 prefix. Lowercase letters, digits and hyphens, 1-32 characters."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$", var.source_id))
    error_message = "source_id must be 1-32 characters of lowercase letters, digits and hyphens, starting and ending with a letter or digit (e.g. \"stripe-charges\")."
  }
}

variable "name_prefix" {
  description = "Prefix of every resource name (function, role, key alias, queue, topic, alarms)."
  type        = string
  default     = "lake-ingest"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,14}$", var.name_prefix))
    error_message = "name_prefix must be 1-15 characters of lowercase letters, digits and hyphens, starting with a letter."
  }
}

variable "api_config" {
  description = "The upstream API call of a pull source (null for a push source, which receives webhooks: var.push): the handler's API_CONFIG, as docs/handler-contract.md#api_config lists it (endpoint, method, query_params, headers, body, auth, timeout_seconds, max_retries, records_path, max_parse_bytes, pagination, content_types). Checked against lambda_src/lake_ingest/api_config.schema.json and the rules across options (modules/api_config) before anything is planned, and reported at the caller's own `api_config = ...` line: a misspelled or unknown option, at any depth, is named with the valid ones and the one it is a near miss of (did you mean \"records_path\"?). Typed `any` so that such options survive to be reported instead of being dropped silently."
  type        = any
  # Null only for a push source (var.push), which receives its records instead of calling an API: a
  # pull source without it is reported below (a required variable would be required of push sources too).
  default = null

  validation {
    condition     = var.api_config == null || can(keys(var.api_config))
    error_message = "api_config must be an object such as { endpoint = \"https://api.example.com/v1/orders\" }."
  }
  # Both rules on this variable (var.push's rules may not refer back to it: a cycle).
  validation {
    condition     = var.push == null || var.api_config == null
    error_message = "push sources receive events: remove api_config (a push source calls no API; its secret holds the webhook signing secrets)."
  }
  validation {
    condition     = var.api_config != null || var.push != null
    error_message = "api_config is required: a source either calls an API (api_config = { endpoint = \"https://api.example.com/v1/orders\", ... }) or receives webhooks (push = { signature = \"stripe\" }, without api_config)."
  }
  # api_config against its JSON Schema and the rules across options, reported on the caller's own
  # `api_config = ...` line before anything is planned. Since Terraform 1.9 a validation may refer to
  # other objects of the module (https://developer.hashicorp.com/terraform/language/values/variables#custom-validation-rules,
  # https://github.com/hashicorp/terraform/blob/v1.9/CHANGELOG.md), but not to anything computed from
  # this variable (modules/api_config's outputs would be a cycle): so it renders the very template
  # modules/api_config renders. (A value that is no object is reported above.)
  # Checked twice: first as if allow_http_loopback were true, which refers to nothing but this
  # variable, so Terraform can decide it in its validate walk, before it plans anything; then with
  # the caller's allow_http_loopback (another variable: known only in the plan walk), which adds only
  # "plain http to a loopback host needs allow_http_loopback". (zipmap, not { ... }, in the message:
  # checkov's HCL parser cannot read an object constructor inside a string template.)
  validation {
    condition     = !can(keys(var.api_config)) || (length(jsondecode(templatefile("${path.module}/modules/api_config/problems.tftpl", { api_config = var.api_config, allow_http_loopback = true, root = "api_config", schema = jsondecode(file("${path.module}/lambda_src/lake_ingest/api_config.schema.json")) }))) > 0 ? false : length(jsondecode(templatefile("${path.module}/modules/api_config/problems.tftpl", { api_config = var.api_config, allow_http_loopback = var.allow_http_loopback, root = "api_config", schema = jsondecode(file("${path.module}/lambda_src/lake_ingest/api_config.schema.json")) }))) == 0)
    error_message = "api_config is not valid:\n  - ${join("\n  - ", length(jsondecode(templatefile("${path.module}/modules/api_config/problems.tftpl", zipmap(["api_config", "allow_http_loopback", "root", "schema"], [var.api_config, true, "api_config", jsondecode(file("${path.module}/lambda_src/lake_ingest/api_config.schema.json"))])))) > 0 ? jsondecode(templatefile("${path.module}/modules/api_config/problems.tftpl", zipmap(["api_config", "allow_http_loopback", "root", "schema"], [var.api_config, true, "api_config", jsondecode(file("${path.module}/lambda_src/lake_ingest/api_config.schema.json"))]))) : jsondecode(templatefile("${path.module}/modules/api_config/problems.tftpl", zipmap(["api_config", "allow_http_loopback", "root", "schema"], [var.api_config, var.allow_http_loopback, "api_config", jsondecode(file("${path.module}/lambda_src/lake_ingest/api_config.schema.json"))]))))}\n(See docs/handler-contract.md#api_config, or lambda_src/lake_ingest/api_config.schema.json.)"
  }
  validation {
    # A window source needs its window length: given, or the schedule's rate (read from the caller's
    # value: local.api_config derives from this variable).
    condition     = try(var.api_config.incremental.type, null) != "window" || try(var.api_config.incremental.window, null) != null || local.rate_window != null
    error_message = "api_config.incremental.window is required: schedule_expression (${coalesce(var.schedule_expression, "none")}) is not rate(...), so the window length is not known; set e.g. window = \"1h\" (each run then covers the hour before its scheduled time)."
  }
  # Every attempt must fit in the function's timeout: the numbers, and what to change.
  validation {
    condition     = var.api_config == null || var.timeout_seconds > try(tonumber(var.api_config.timeout_seconds), 30) * (try(tonumber(var.api_config.max_retries), 3) + 1)
    error_message = "timeout_seconds (${var.timeout_seconds}) must exceed api_config.timeout_seconds x (api_config.max_retries + 1) = ${try(tonumber(var.api_config.timeout_seconds), 30)} x ${try(tonumber(var.api_config.max_retries), 3) + 1} = ${try(tonumber(var.api_config.timeout_seconds), 30) * (try(tonumber(var.api_config.max_retries), 3) + 1)}, so that every attempt fits: raise timeout_seconds (at most 900) or lower api_config.timeout_seconds or api_config.max_retries."
  }
}

variable "role_permissions_boundary" {
  description = "ARN of a managed policy set as the permissions boundary of every IAM role the module creates (the function's execution role, the scheduler's role, the run and backfill state machines' roles): the platform's ceiling on what they may ever do. The boundary must allow what the roles' own policies grant, or the function fails at run time with AccessDenied. Null: no boundary."
  type        = string
  default     = null

  validation {
    condition     = var.role_permissions_boundary == null || can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:policy/([!-~]+/)?[A-Za-z0-9+=,.@_-]{1,128}$", coalesce(var.role_permissions_boundary, "x")))
    error_message = "role_permissions_boundary must be an IAM managed policy ARN such as arn:aws:iam::123456789012:policy/platform/boundary (any partition: aws, aws-cn, aws-us-gov), or null."
  }
}

variable "role_path" {
  description = "IAM path of every role the module creates (e.g. \"/lake-ingest/\"): it becomes part of the roles' ARNs (arn:<partition>:iam::<account>:role<path><name>), so platform policies can select them with a wildcard."
  type        = string
  default     = "/"
  nullable    = false

  # IAM's rule for paths: "/" alone, or "/" + printable ASCII (! to ~) + "/", at most 512 characters
  # (https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html).
  validation {
    condition     = length(var.role_path) <= 512 && can(regex("^(/|/[!-~]+/)$", var.role_path))
    error_message = "role_path must start and end with \"/\" (\"/\" alone, or e.g. \"/lake-ingest/\" or \"/platform/ingest/\"), with printable ASCII and no spaces between, at most 512 characters; got \"${var.role_path}\"${trim(var.role_path, "/ ") == "" ? "" : format(" (did you mean \"/%s/\"?)", trim(var.role_path, "/ "))}."
  }
}

variable "allow_http_loopback" {
  description = "Local testing only: accept a plain http:// api_config.endpoint on a loopback host (127.0.0.0/8, localhost, [::1]) and tell the function so (ALLOW_HTTP_LOOPBACK). Keep false on AWS: https is required, and loopback services such as Lambda's runtime API are never a data source."
  type        = bool
  default     = false
  nullable    = false
}

variable "raw_prefix" {
  description = "S3 key prefix (no leading or trailing slash) under which this source writes; defaults to source_id. The role may write only below it."
  type        = string
  default     = null

  validation {
    condition     = var.raw_prefix == null || (can(regex("^[A-Za-z0-9_.=-]+(/[A-Za-z0-9_.=-]+)*$", coalesce(var.raw_prefix, "x"))) && length(coalesce(var.raw_prefix, "x")) <= 200 && !anytrue([for s in split("/", coalesce(var.raw_prefix, "x")) : contains([".", ".."], s)]))
    error_message = "raw_prefix must be a relative key prefix such as \"vendor/orders\" of letters, digits, '_', '.', '=', '-' (at most 200 characters; no leading, trailing or double slash, no \".\" or \"..\" segment): it is also the role's lake-ingest:raw-prefix tag."
  }
}

variable "schedule_expression" {
  description = "EventBridge Scheduler expression, e.g. \"rate(1 hour)\" or \"cron(0 6 ? * MON-FRI *)\"; null for no schedule. Checked at plan time as EventBridge Scheduler checks it: rate(1 minute|hour|day) or rate(N minutes|hours|days); cron with six fields (minutes hours day-of-month month day-of-week year), ? in exactly one of day-of-month and day-of-week, values and names in range; at(yyyy-mm-ddThh:mm:ss) with a real date."
  type        = string
  default     = null

  validation {
    condition     = var.schedule_expression == null || can(regex("^(rate|cron|at)\\(.*\\)$", coalesce(var.schedule_expression, "x")))
    error_message = "schedule_expression \"${var.schedule_expression == null ? "" : var.schedule_expression}\" is not rate(...), cron(...) or at(...): write e.g. rate(1 hour), cron(15 6 ? * MON-FRI *) or at(2027-01-31T06:00:00)."
  }
  validation {
    condition = !startswith(coalesce(var.schedule_expression, "x"), "rate(") || try(
      tonumber(regex(local.rate_pattern, var.schedule_expression)[0]) == 1 ? !endswith(regex(local.rate_pattern, var.schedule_expression)[1], "s") : endswith(regex(local.rate_pattern, var.schedule_expression)[1], "s"),
      false
    )
    error_message = "schedule_expression \"${var.schedule_expression == null ? "" : var.schedule_expression}\": rate takes a whole number from 1 and a unit, singular for 1 and plural otherwise: rate(1 minute), rate(1 hour), rate(1 day), rate(5 minutes), rate(6 hours), rate(2 days)."
  }
  validation {
    condition = !startswith(coalesce(var.schedule_expression, "x"), "cron(") || length(split(" ", trimspace(trimsuffix(trimprefix(coalesce(var.schedule_expression, "x"), "cron("), ")")))) == 6
    error_message = "schedule_expression \"${var.schedule_expression == null ? "" : var.schedule_expression}\" has ${length(split(" ", trimspace(trimsuffix(trimprefix(coalesce(var.schedule_expression, "x"), "cron("), ")"))))} fields; EventBridge cron has six: minutes hours day-of-month month day-of-week year, with ? in one of the day fields. ${length(split(" ", trimspace(trimsuffix(trimprefix(coalesce(var.schedule_expression, "x"), "cron("), ")")))) != 5 ? "For example cron(0 6 ? * MON-FRI *) runs at 06:00 on weekdays." : "As a Unix cron it means the same as ${[
      # Unix cron to EventBridge, keeping the meaning: the year *, ? for the day field that is * (day-of-week
      # when both are), and day-of-week numbers (0-7, Sunday 0 or 7) as names (EventBridge counts 1-7 from Sunday).
      for f in [split(" ", trimspace(trimsuffix(trimprefix(coalesce(var.schedule_expression, "x"), "cron("), ")")))] : [
        for dow in [can(regex("^[0-7]([-,][0-7])*$", f[4])) ? join("", [for t in regexall("[0-7]|[-,]", f[4]) : contains(["-", ","], t) ? t : ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"][tonumber(t)]]) : f[4]] :
        "cron(${f[0]} ${f[1]} ${f[2] == "*" && f[4] != "*" ? "?" : f[2]} ${f[3]} ${f[2] == "*" && f[4] != "*" ? dow : "?"} *)${f[2] != "*" && f[4] != "*" ? " (Unix cron runs on either day; EventBridge takes one of them, so that keeps day-of-month: schedule a second source for the days of the week)" : ""}"
      ][0]
    ][0]}."}"
  }
  validation {
    condition = !startswith(coalesce(var.schedule_expression, "x"), "cron(") || length(split(" ", trimspace(trimsuffix(trimprefix(coalesce(var.schedule_expression, "x"), "cron("), ")")))) != 6 || (try(split(" ", trimspace(trimsuffix(trimprefix(coalesce(var.schedule_expression, "x"), "cron("), ")")))[2], "") == "?") != (try(split(" ", trimspace(trimsuffix(trimprefix(coalesce(var.schedule_expression, "x"), "cron("), ")")))[4], "") == "?")
    error_message = "schedule_expression \"${var.schedule_expression == null ? "" : var.schedule_expression}\": EventBridge needs ? in exactly one of day-of-month (3rd field) and day-of-week (5th field); write ${length(split(" ", trimspace(trimsuffix(trimprefix(coalesce(var.schedule_expression, "x"), "cron("), ")")))) != 6 ? "cron(0 6 ? * MON-FRI *)" : [
      # Keep the meaning: ? replaces the day field that is * (day-of-week when both are); both ?: every day.
      for f in [split(" ", trimspace(trimsuffix(trimprefix(coalesce(var.schedule_expression, "x"), "cron("), ")")))] : "cron(${join(" ", [f[0], f[1], f[2] == "?" && f[4] == "?" ? "*" : f[2] == "*" && f[4] != "*" ? "?" : f[2], f[3], f[2] == "?" && f[4] == "?" ? "?" : f[2] == "*" && f[4] != "*" ? f[4] : "?", f[5]])})${f[2] != "*" && f[2] != "?" && f[4] != "*" && f[4] != "?" ? " (EventBridge cannot take both a day of month and a day of week: this keeps the day of month)" : ""}"
    ][0]}."
  }
  validation {
    condition     = !startswith(coalesce(var.schedule_expression, "x"), "cron(") || length(split(" ", trimspace(trimsuffix(trimprefix(coalesce(var.schedule_expression, "x"), "cron("), ")")))) != 6 || length([for i, f in split(" ", trimspace(trimsuffix(trimprefix(coalesce(var.schedule_expression, "x"), "cron("), ")"))) : "${local.cron_names[i]} '${f}' is not valid" if i < 6 && !can(regex(local.cron_field_pattern[i], f)) && !can(regex(lookup(local.cron_special, i, "^$"), f))]) == 0
    error_message = "schedule_expression \"${var.schedule_expression == null ? "" : var.schedule_expression}\": ${join("; ", [for i, f in split(" ", trimspace(trimsuffix(trimprefix(coalesce(var.schedule_expression, "x"), "cron("), ")"))) : "${local.cron_names[i]} '${f}' is not valid" if i < 6 && !can(regex(local.cron_field_pattern[i], f)) && !can(regex(lookup(local.cron_special, i, "^$"), f))])}. Fields take values, ranges (a-b), lists (a,b), steps (*/n) and *: minutes 0-59, hours 0-23, day-of-month 1-31 (or ?, L, LW, nW), month 1-12 or JAN-DEC, day-of-week 1-7 or SUN-SAT (or ?, L, nL, n#k), year 1970-2199."
  }
  validation {
    condition     = !startswith(coalesce(var.schedule_expression, "x"), "at(") || can(timeadd("${regex("^at\\(([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2})\\)$", var.schedule_expression)[0]}Z", "0s"))
    error_message = "schedule_expression \"${var.schedule_expression == null ? "" : var.schedule_expression}\": at() takes a real date and time, yyyy-mm-ddThh:mm:ss (in schedule_timezone), e.g. at(2027-01-31T06:00:00)."
  }
}

variable "schedule_timezone" {
  description = "IANA time zone the schedule expression is evaluated in."
  type        = string
  default     = "UTC"

  validation {
    condition     = can(regex("^(UTC|[A-Z][A-Za-z_]+(/[A-Za-z0-9_+-]+){1,2}|Etc/GMT[+-][0-9]{1,2})$", var.schedule_timezone))
    error_message = "schedule_timezone must be an IANA time zone name such as \"UTC\", \"Europe/Berlin\" or \"America/Argentina/Buenos_Aires\"."
  }
}

variable "runtime" {
  description = "Lambda Python runtime."
  type        = string
  default     = "python3.12"

  validation {
    condition     = contains(["python3.12", "python3.13"], var.runtime)
    error_message = "runtime must be python3.12 or python3.13."
  }
}

variable "architecture" {
  description = "Lambda instruction set. The package is pure Python, so both work with the same zip."
  type        = string
  default     = "arm64"

  validation {
    condition     = contains(["arm64", "x86_64"], var.architecture)
    error_message = "architecture must be arm64 or x86_64."
  }
}

variable "memory_size" {
  description = "Lambda memory in MB. The handler streams bodies, so 256 handles multi-GB responses."
  type        = number
  default     = 256

  validation {
    condition     = var.memory_size >= 128 && var.memory_size <= 10240 && floor(var.memory_size) == var.memory_size
    error_message = "memory_size must be a whole number of MB from 128 to 10240."
  }
}

variable "timeout_seconds" {
  description = "Lambda timeout in seconds. Must exceed api_config.timeout_seconds x (max_retries + 1) so that every attempt fits (checked at plan time, with the numbers)."
  type        = number
  default     = 300

  validation {
    condition     = var.timeout_seconds >= 1 && var.timeout_seconds <= 900 && floor(var.timeout_seconds) == var.timeout_seconds
    error_message = "timeout_seconds must be a whole number from 1 to 900."
  }
}

variable "reserved_concurrency" {
  description = "Reserved concurrent executions for the function (caps the load on the upstream API)."
  type        = number
  default     = 2

  validation {
    condition     = var.reserved_concurrency >= 1 && var.reserved_concurrency <= 1000 && floor(var.reserved_concurrency) == var.reserved_concurrency
    error_message = "reserved_concurrency must be a whole number from 1 to 1000."
  }
}

variable "log_level" {
  description = "Application log level (Lambda JSON logging and Powertools)."
  type        = string
  default     = "INFO"

  validation {
    condition     = contains(["DEBUG", "INFO", "WARN", "ERROR"], var.log_level)
    error_message = "log_level must be DEBUG, INFO, WARN or ERROR."
  }
}

variable "log_retention_days" {
  description = "CloudWatch Logs retention in days (one of the values CloudWatch accepts)."
  type        = number
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be one of 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653."
  }
}

variable "kms_deletion_window_days" {
  description = "Waiting period before the created KMS key is deleted."
  type        = number
  default     = 30

  validation {
    condition     = var.kms_deletion_window_days >= 7 && var.kms_deletion_window_days <= 30
    error_message = "kms_deletion_window_days must be from 7 to 30."
  }
}

variable "noncurrent_version_expiration_days" {
  description = "Days after which overwritten (noncurrent) object versions in the raw bucket expire."
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
  description = "Allow terraform destroy to delete the raw bucket with its objects (keep false outside sandboxes)."
  type        = bool
  default     = false
}

variable "secret_recovery_window_days" {
  description = "Days Secrets Manager keeps a deleted secret recoverable (0 deletes at once)."
  type        = number
  default     = 30

  validation {
    condition     = var.secret_recovery_window_days == 0 || (var.secret_recovery_window_days >= 7 && var.secret_recovery_window_days <= 30)
    error_message = "secret_recovery_window_days must be 0 or from 7 to 30."
  }
}

variable "api_credentials_wo" {
  description = "Optional write-only credentials (e.g. {api_key = \"...\"}) stored as the secret's value; never written to plan or state. Leave null and set the value out of band (aws secretsmanager put-secret-value) to keep it out of Terraform entirely."
  type        = map(string)
  default     = null
  sensitive   = true
  ephemeral   = true
}

variable "api_credentials_wo_version" {
  description = "Bump to write api_credentials_wo again (write-only values are not compared); null means the module does not set the secret's value."
  type        = number
  default     = null

  validation {
    condition     = var.api_credentials_wo_version == null || (coalesce(var.api_credentials_wo_version, 1) >= 1 && floor(coalesce(var.api_credentials_wo_version, 1)) == coalesce(var.api_credentials_wo_version, 1))
    error_message = "api_credentials_wo_version must be a whole number of at least 1 (increase it to write new credentials)."
  }

  validation {
    # Secrets Manager deletes unlabelled versions beyond 100; the provider then drops its version from
    # state, and the next apply would write the spent refresh token back as AWSCURRENT.
    condition     = var.api_credentials_wo_version == null || try(var.api_config.auth.type, "") != "oauth2_refresh_token"
    error_message = "api_credentials_wo cannot set the secret of an oauth2_refresh_token source: the function writes every rotated refresh token as a new version, and once Secrets Manager drops Terraform's version a later apply would write the spent token back. Leave api_credentials_wo and api_credentials_wo_version null and put the first value once, out of band: aws secretsmanager put-secret-value --secret-id <secret_arn output> --secret-string '{\"client_id\":\"...\",\"client_secret\":\"...\",\"refresh_token\":\"...\"}'."
  }
}

variable "async_max_retries" {
  description = "Lambda's own retries of a failed asynchronous invocation before it goes to the dead-letter queue."
  type        = number
  default     = 2

  validation {
    condition     = contains([0, 1, 2], var.async_max_retries)
    error_message = "async_max_retries must be 0, 1 or 2."
  }
}

variable "async_max_event_age_seconds" {
  description = "Maximum age of an asynchronous event before Lambda stops retrying it and sends it to the dead-letter queue."
  type        = number
  default     = 21600

  validation {
    condition     = var.async_max_event_age_seconds >= 60 && var.async_max_event_age_seconds <= 21600
    error_message = "async_max_event_age_seconds must be from 60 to 21600."
  }
}

variable "alarms" {
  description = "Alarm thresholds (all alarms publish to the lake's topic). error_rate_percent: Errors / Invocations in a period (metric math); throttles, dead_letters, async_events_dropped, quarantined_pages: alarm above this count in a period; duration_percent_of_timeout; concurrency_percent_of_reserved (needs reserved_concurrency); freshness_hours: no successful run (IngestionSucceeded) for this long, missing data breaching (scheduled sources only); refresh_token_rotations_per_hour (oauth2_refresh_token sources): alarm above this many rotated refresh tokens in an hour (each is a new secret version; Secrets Manager recommends at most one every 10 minutes sustained); cursor_values_rejected (cursor sources): alarm above this many rejected cursor values in a period; cursor_empty_runs (cursor sources): alarm when this many runs in a row landed no records; cursor sources also alarm when a complete run could not write its cursor (cursor_not_advanced); with the records zone (table.enabled, on_schema_change not allow) schema_changes alarms when the records' fields change against the last complete run. disabled: names of alarms to leave out (error_rate, throttles, duration, concurrency, dead_letters, schedule_dead_letters, async_events_dropped, freshness, quarantined_pages, refresh_token_rotations, cursor_values_rejected, cursor_empty_runs, cursor_not_advanced, schema_changes; with orchestration: run_failed, run_timed_out, and for a window source backfill_failed, backfill_timed_out, backfill_windows_failed: executions that failed or timed out; for a push source (thresholds in push.alarms): push_rejected, push_dead_letters, push_buffer_failed, push_no_events, push_api_5xx)."
  type = object({
    period_seconds                   = optional(number, 300)
    error_rate_percent               = optional(number, 10)
    throttles                        = optional(number, 0)
    duration_percent_of_timeout      = optional(number, 80)
    concurrency_percent_of_reserved  = optional(number, 80)
    dead_letters                     = optional(number, 0)
    async_events_dropped             = optional(number, 0)
    quarantined_pages                = optional(number, 0)
    freshness_hours                  = optional(number, 25)
    refresh_token_rotations_per_hour = optional(number, 4)
    cursor_values_rejected           = optional(number, 0)
    cursor_empty_runs                = optional(number, 5)
    disabled                         = optional(set(string), [])
  })
  default = {}

  validation {
    condition     = alltrue([for name in var.alarms.disabled : contains(["error_rate", "throttles", "duration", "concurrency", "dead_letters", "schedule_dead_letters", "async_events_dropped", "freshness", "quarantined_pages", "refresh_token_rotations", "cursor_values_rejected", "cursor_empty_runs", "cursor_not_advanced", "schema_changes", "run_failed", "run_timed_out", "backfill_failed", "backfill_timed_out", "backfill_windows_failed", "push_rejected", "push_dead_letters", "push_buffer_failed", "push_no_events", "push_api_5xx"], name)])
    error_message = "alarms.disabled may name only: error_rate, throttles, duration, concurrency, dead_letters, schedule_dead_letters, async_events_dropped, freshness, quarantined_pages, refresh_token_rotations, cursor_values_rejected, cursor_empty_runs, cursor_not_advanced, schema_changes, run_failed, run_timed_out, backfill_failed, backfill_timed_out, backfill_windows_failed, push_rejected, push_dead_letters, push_buffer_failed, push_no_events, push_api_5xx."
  }
  validation {
    condition     = contains([60, 300, 900, 3600], var.alarms.period_seconds)
    error_message = "alarms.period_seconds must be 60, 300, 900 or 3600."
  }
  validation {
    condition = (
      var.alarms.error_rate_percent > 0 && var.alarms.error_rate_percent <= 100 &&
      var.alarms.duration_percent_of_timeout > 0 && var.alarms.duration_percent_of_timeout <= 100 &&
      var.alarms.concurrency_percent_of_reserved > 0 && var.alarms.concurrency_percent_of_reserved <= 100
    )
    error_message = "alarms.error_rate_percent, duration_percent_of_timeout and concurrency_percent_of_reserved must be percentages above 0 and at most 100."
  }
  validation {
    condition     = alltrue([for n in [var.alarms.throttles, var.alarms.dead_letters, var.alarms.async_events_dropped, var.alarms.quarantined_pages, var.alarms.cursor_values_rejected] : n >= 0 && floor(n) == n])
    error_message = "alarms.throttles, dead_letters, async_events_dropped, quarantined_pages and cursor_values_rejected must be whole numbers of 0 or more (the alarm fires above them)."
  }
  validation {
    condition     = var.alarms.refresh_token_rotations_per_hour >= 1 && var.alarms.refresh_token_rotations_per_hour <= 60 && floor(var.alarms.refresh_token_rotations_per_hour) == var.alarms.refresh_token_rotations_per_hour
    error_message = "alarms.refresh_token_rotations_per_hour must be a whole number from 1 to 60 (the alarm fires above it; Secrets Manager recommends at most 6 new secret versions an hour sustained)."
  }
  validation {
    condition     = var.alarms.cursor_empty_runs >= 1 && var.alarms.cursor_empty_runs <= 1000 && floor(var.alarms.cursor_empty_runs) == var.alarms.cursor_empty_runs
    error_message = "alarms.cursor_empty_runs must be a whole number of runs from 1 to 1000 (the alarm fires when that many runs in a row landed no records)."
  }
  validation {
    condition     = var.alarms.freshness_hours >= 1 && var.alarms.freshness_hours <= 168 && floor(var.alarms.freshness_hours) == var.alarms.freshness_hours
    error_message = "alarms.freshness_hours must be a whole number of hours from 1 to 168 (CloudWatch evaluates at most 7 days); set it above the schedule's interval."
  }
}

variable "orchestration" {
  description = "Runs that finish by themselves and backfills, on AWS Step Functions (null: off). On: a run state machine invokes the function, and while it returns PARTIAL_SUCCESS waits resume_wait_seconds and invokes it again with its resume_event (at most max_resumes times); the schedule starts it instead of invoking the function. A window source also gets a backfill state machine: a Distributed Map over windows listed in the lake (`python -m lake_ingest backfill start`), at most backfill_max_concurrency at a time (mind the API's rate limit), failing when more than backfill_tolerated_failure_percent of the windows fail. log_level: ALL, ERROR, FATAL or OFF for the executions' log group; include_execution_data logs inputs and outputs too (results hold no credentials, but do hold URLs and keys). execution_timeout_hours: a run's limit (default: enough for every resume at the function's timeout); backfill_timeout_hours: a backfill's."
  type = object({
    max_resumes                        = optional(number, 50)
    resume_wait_seconds                = optional(number, 5)
    execution_timeout_hours            = optional(number)
    backfill_max_concurrency           = optional(number, 2)
    backfill_tolerated_failure_percent = optional(number, 0)
    backfill_timeout_hours             = optional(number, 168)
    log_level                          = optional(string, "ERROR")
    include_execution_data             = optional(bool, false)
  })
  default = null

  validation {
    condition     = var.orchestration == null || try(var.orchestration.max_resumes >= 1 && var.orchestration.max_resumes <= 10000 && floor(var.orchestration.max_resumes) == var.orchestration.max_resumes, false)
    error_message = "orchestration.max_resumes must be a whole number from 1 to 10000: how often one run may be resumed before its execution fails (a run that still has pages after that is not converging: raise max_pages or the function's timeout)."
  }
  validation {
    condition     = var.orchestration == null || try(var.orchestration.resume_wait_seconds >= 1 && var.orchestration.resume_wait_seconds <= 3600 && floor(var.orchestration.resume_wait_seconds) == var.orchestration.resume_wait_seconds, false)
    error_message = "orchestration.resume_wait_seconds must be a whole number of seconds from 1 to 3600 (the pause between a partial run and its resumption)."
  }
  validation {
    condition     = var.orchestration == null ? true : var.orchestration.execution_timeout_hours == null ? true : (var.orchestration.execution_timeout_hours > 0 && var.orchestration.execution_timeout_hours <= 8760)
    error_message = "orchestration.execution_timeout_hours must be above 0 and at most 8760 (a Standard workflow runs for at most a year), or null for the default."
  }
  validation {
    condition     = var.orchestration == null || try(var.orchestration.backfill_max_concurrency >= 1 && var.orchestration.backfill_max_concurrency <= 10000 && floor(var.orchestration.backfill_max_concurrency) == var.orchestration.backfill_max_concurrency, false)
    error_message = "orchestration.backfill_max_concurrency must be a whole number from 1 to 10000 (a Distributed Map runs at most 10,000 children at once); choose it for the API's rate limit, and within the function's reserved_concurrency."
  }
  validation {
    condition     = var.orchestration == null || try(var.orchestration.backfill_tolerated_failure_percent >= 0 && var.orchestration.backfill_tolerated_failure_percent <= 100, false)
    error_message = "orchestration.backfill_tolerated_failure_percent must be from 0 to 100: the share of windows that may fail before the backfill's execution fails (failed windows can be run again with `backfill retry`)."
  }
  validation {
    condition     = var.orchestration == null || try(var.orchestration.backfill_timeout_hours > 0 && var.orchestration.backfill_timeout_hours <= 8760, false)
    error_message = "orchestration.backfill_timeout_hours must be above 0 and at most 8760 (a Standard workflow runs for at most a year)."
  }
  validation {
    condition     = var.orchestration == null || try(contains(["ALL", "ERROR", "FATAL", "OFF"], var.orchestration.log_level), false)
    error_message = "orchestration.log_level must be ALL, ERROR, FATAL or OFF (Step Functions' log levels)."
  }
}

variable "lake" {
  description = "Use a shared lake instead of creating this source's own bucket, KMS key and alarm topic: modules/lake's for_sources output (then this source must be registered in that lake's `sources` with its prefix), or existing resources {bucket_name, kms_key_arn, alarm_topic_arn} of this account, region and partition. An existing key's policy must delegate to IAM (account root) and let CloudWatch Logs use it for this function's log group; an existing topic must accept this source's alarms. Optional: glue_database (the source's Glue tables go there; null: no tables), athena_workgroup and athena_results (the workgroup's s3:// results location in the lake bucket, given together; the named queries go in the workgroup, and reader_policy_json needs both). Null (default): the module creates its own."
  type = object({
    bucket_name      = string
    kms_key_arn      = string
    alarm_topic_arn  = string
    source_prefixes  = optional(map(string))
    glue_database    = optional(string)
    athena_workgroup = optional(string)
    athena_results   = optional(string)
  })
  default = null

  validation {
    condition     = var.lake == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/", try(var.lake.kms_key_arn, "")))
    error_message = "lake.kms_key_arn must be a KMS key ARN (arn:<partition>:kms:<region>:<account>:key/<id>), not an alias."
  }
  validation {
    condition     = var.lake == null || can(regex("^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]+$", try(var.lake.alarm_topic_arn, "")))
    error_message = "lake.alarm_topic_arn must be an SNS topic ARN."
  }
  validation {
    condition     = var.lake == null || can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", try(var.lake.bucket_name, "")))
    error_message = "lake.bucket_name must be an S3 bucket name (not an ARN)."
  }
  # The function's role, key grants and alarms are built for this account, region and partition: a key
  # or topic elsewhere would either fail at run time or send data and alarms out of the account.
  validation {
    condition = var.lake == null || alltrue([
      for arn in [try(var.lake.kms_key_arn, ""), try(var.lake.alarm_topic_arn, "")] :
      try(split(":", arn)[1] == data.aws_partition.current.partition && split(":", arn)[3] == data.aws_region.current.name && split(":", arn)[4] == data.aws_caller_identity.current.account_id, true)
    ])
    error_message = "lake.kms_key_arn and lake.alarm_topic_arn must be in this source's partition, region and account (${data.aws_partition.current.partition}, ${data.aws_region.current.name}, ${data.aws_caller_identity.current.account_id}); got ${try(var.lake.kms_key_arn, "")} and ${try(var.lake.alarm_topic_arn, "")}. Deploy the source with a provider for the lake's account and region."
  }
  # Glue database names Athena can read: lowercase letters, digits and underscores
  # (https://docs.aws.amazon.com/athena/latest/ug/tables-databases-columns-names.html).
  validation {
    condition     = try(var.lake.glue_database == null, true) || can(regex("^[a-z0-9_]{1,255}$", try(var.lake.glue_database, "")))
    error_message = "lake.glue_database must be a Glue database name Athena can query: 1-255 lowercase letters, digits and underscores (modules/lake's for_sources gives it), or null for no Glue tables."
  }
  validation {
    condition = (try(var.lake.athena_workgroup, null) == null) == (try(var.lake.athena_results, null) == null) && (
      try(var.lake.athena_workgroup, null) == null || (
        can(regex("^[A-Za-z0-9._-]{1,128}$", try(var.lake.athena_workgroup, ""))) &&
        can(regex("^s3://${try(var.lake.bucket_name, "")}/[A-Za-z0-9_.=-]+(/[A-Za-z0-9_.=-]+)*/$", try(var.lake.athena_results, "")))
      )
    )
    error_message = "lake.athena_workgroup (an Athena workgroup name) and lake.athena_results (its results location in the lake bucket, s3://${try(var.lake.bucket_name, "<bucket>")}/<prefix>/, ending in a slash) go together: give both (modules/lake's for_sources does) or neither."
  }
  validation {
    condition     = try(var.lake.source_prefixes == null, true) || try(var.lake.source_prefixes[var.source_id] == coalesce(var.raw_prefix, var.source_id), false)
    error_message = "This source is not registered in the shared lake with its prefix: add ${var.source_id} = \"${coalesce(var.raw_prefix, var.source_id)}\" to the lake module's `sources` (registered: ${jsonencode(try(var.lake.source_prefixes, {}))}). The lake's bucket policy denies any source role it does not know."
  }
}

variable "access_logging" {
  description = "Own lake only: S3 server access logging for the bucket, {bucket, prefix}. Null: off."
  type = object({
    bucket = string
    prefix = optional(string, "s3-access/")
  })
  default = null

  validation {
    condition     = var.access_logging == null || can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", try(var.access_logging.bucket, "")))
    error_message = "access_logging.bucket must be an S3 bucket name (not an ARN)."
  }
}

variable "schedule_flexible_window_minutes" {
  description = "Let EventBridge Scheduler start each run up to this many minutes late (spreads many sources); null: exactly on time."
  type        = number
  default     = null

  validation {
    condition     = var.schedule_flexible_window_minutes == null || (coalesce(var.schedule_flexible_window_minutes, 1) >= 1 && coalesce(var.schedule_flexible_window_minutes, 1) <= 1440)
    error_message = "schedule_flexible_window_minutes must be from 1 to 1440, or null."
  }
}

variable "schedule_retry_attempts" {
  description = "EventBridge Scheduler's retries when it cannot invoke the function (throttling, service errors); then the event goes to the schedule's dead-letter queue."
  type        = number
  default     = 3

  validation {
    condition     = var.schedule_retry_attempts >= 0 && var.schedule_retry_attempts <= 185 && floor(var.schedule_retry_attempts) == var.schedule_retry_attempts
    error_message = "schedule_retry_attempts must be a whole number from 0 to 185."
  }
}

variable "schedule_max_event_age_seconds" {
  description = "How long EventBridge Scheduler keeps trying to deliver one scheduled event."
  type        = number
  default     = 3600

  validation {
    condition     = var.schedule_max_event_age_seconds >= 60 && var.schedule_max_event_age_seconds <= 86400
    error_message = "schedule_max_event_age_seconds must be from 60 to 86400."
  }
}

variable "vpc_config" {
  description = "Optional VPC attachment: {subnet_ids, security_group_ids}. The subnets need a route to the API (NAT) and to S3, Secrets Manager, KMS, SQS and CloudWatch (NAT or VPC endpoints). Adds the network-interface permissions Lambda needs. Null: no VPC."
  type = object({
    subnet_ids         = list(string)
    security_group_ids = list(string)
  })
  default = null

  validation {
    condition     = var.vpc_config == null || (length(try(var.vpc_config.subnet_ids, [])) > 0 && length(try(var.vpc_config.security_group_ids, [])) > 0)
    error_message = "vpc_config needs at least one subnet id and one security group id."
  }
  validation {
    condition = var.vpc_config == null || (
      alltrue([for id in try(var.vpc_config.subnet_ids, []) : can(regex("^subnet-([0-9a-f]{8}|[0-9a-f]{17})$", id))]) &&
      alltrue([for id in try(var.vpc_config.security_group_ids, []) : can(regex("^sg-([0-9a-f]{8}|[0-9a-f]{17})$", id))])
    )
    error_message = "vpc_config ids must be subnet ids (subnet-0123456789abcdef0) and security group ids (sg-0123456789abcdef0); wildcards and ARNs are not accepted (they would widen the network-interface permissions)."
  }
}

variable "code_signing_config_arn" {
  description = "Optional Lambda code signing config ARN (AWS Signer): only signed packages deploy. Null: off."
  type        = string
  default     = null

  validation {
    condition     = var.code_signing_config_arn == null || can(regex("^arn:aws[a-z-]*:lambda:[a-z0-9-]+:[0-9]{12}:code-signing-config:csc-[a-z0-9]{17}$", coalesce(var.code_signing_config_arn, "x")))
    error_message = "code_signing_config_arn must be a Lambda code signing config ARN (arn:<partition>:lambda:<region>:<account>:code-signing-config:csc-...)."
  }
}

variable "secret_rotation" {
  description = "Optional rotation of the API secret by a rotation function you provide: {lambda_arn, days}. Null: the vendor's credentials are rotated out of band (the handler re-reads the secret on 401/403)."
  type = object({
    lambda_arn = string
    days       = number
  })
  default = null

  validation {
    condition     = var.secret_rotation == null || try(var.secret_rotation.days >= 1 && var.secret_rotation.days <= 90 && floor(var.secret_rotation.days) == var.secret_rotation.days, false)
    error_message = "secret_rotation.days must be a whole number from 1 to 90 (rotate at least quarterly)."
  }
}

variable "package_path" {
  description = "Use this prebuilt zip (e.g. from `make package` in CI) instead of building lambda_src at apply time; lets a runner without Python deploy."
  type        = string
  default     = null

  validation {
    condition     = var.package_path == null || endswith(coalesce(var.package_path, "x.zip"), ".zip")
    error_message = "package_path must point at a .zip file (for example dist/lake-ingest.zip from `make package`)."
  }
}

variable "package_s3" {
  description = "Use this prebuilt zip in S3 instead of building; source_code_hash (base64 sha256 of the zip) triggers updates."
  type = object({
    bucket           = string
    key              = string
    version_id       = optional(string)
    source_code_hash = optional(string)
  })
  default = null

  validation {
    condition     = var.package_s3 == null || var.package_path == null
    error_message = "Set at most one of package_path and package_s3."
  }
}

variable "python_executable" {
  description = "Python 3 interpreter with pip used to build the package at apply time (when no prebuilt package is given)."
  type        = string
  default     = "python3"

  validation {
    condition     = trimspace(var.python_executable) != ""
    error_message = "python_executable must name a Python 3 interpreter, e.g. \"python3\" or \"/usr/bin/python3.12\"."
  }
}

variable "package_build_dir" {
  description = "Folder for built zips and dependency installs; defaults to .terraform/lake-ingest under the root module."
  type        = string
  default     = null

  validation {
    condition     = try(trimspace(var.package_build_dir) != "", true)
    error_message = "package_build_dir must be a folder path, or null for .terraform/lake-ingest."
  }
}

variable "tags" {
  description = "Tags added to every resource that supports them."
  type        = map(string)
  default     = {}

  validation {
    # IAM compares tag keys case-insensitively, so "Lake-Ingest:source-id" would replace the module's tag.
    condition     = alltrue([for k, v in var.tags : !startswith(lower(k), "aws:") && !startswith(lower(k), "lake-ingest:") && length(k) <= 128 && length(v) <= 256])
    error_message = "tags: keys may not start with \"aws:\" (reserved) or \"lake-ingest:\" in any letter case (set by the module; the source-id tag is a security boundary, and IAM tag keys are case-insensitive), keys at most 128 and values at most 256 characters."
  }
}

variable "table" {
  description = "The records zone and its Glue tables. enabled: the function also writes each run's records as NDJSON under <raw_prefix>/records/ and, when the run completes, the list of them under <raw_prefix>/published/, and the module creates the Glue tables <name> and <name>_published (name: source_id with '_' for '-') in the lake's Glue database (none when the lake gives no database), and the named queries <source_id>-complete, -runs and, with a primary_key, -latest; false: raw zone only. columns: typed columns taken from each record's top-level field of the same name (name => bigint, int, double, boolean, string, date, timestamp or decimal(p,s); a value that does not fit is null). primary_key: declared columns that identify a record (the latest query keeps the newest version of each); a push source's default is [\"event_id\"] (the id of each received event). on_schema_change: what records with a top-level field, or a JSON type of a field, that no complete run had do: allow (counted in SchemaChanges only), alarm (the schema_changes alarm fires) or quarantine (the run also stops QUARANTINED, unpublished, until `python -m lake_ingest schema accept` and the run id is invoked again). date_range: the ingest_date partitions Athena projects (two values, yyyy-MM-dd or NOW[+-]N UNIT)."
  type = object({
    enabled          = optional(bool, true)
    columns          = optional(map(string), {})
    primary_key      = optional(list(string), [])
    on_schema_change = optional(string, "alarm")
    date_range       = optional(string, "NOW-10YEARS,NOW+1DAYS")
  })
  default  = {}
  nullable = false

  # Athena reads lowercase letters, digits and underscores in column names
  # (https://docs.aws.amazon.com/athena/latest/ug/tables-databases-columns-names.html).
  validation {
    condition     = alltrue([for name in keys(var.table.columns) : can(regex("^[a-z_][a-z0-9_]{0,63}$", name))])
    error_message = "table.columns: names must be 1-64 lowercase letters, digits and underscores, not starting with a digit (the record's top-level field of the same name); invalid: ${join(", ", [for name in keys(var.table.columns) : name if !can(regex("^[a-z_][a-z0-9_]{0,63}$", name))])}."
  }
  validation {
    condition     = length(setintersection(keys(var.table.columns), local.reserved_columns)) == 0
    error_message = "table.columns: ${join(", ", sort(setintersection(keys(var.table.columns), local.reserved_columns)))} ${length(setintersection(keys(var.table.columns), local.reserved_columns)) == 1 ? "is a column" : "are columns"} every records table has (${join(", ", local.reserved_columns)}): the record's field stays in `record`; read it with json_extract_scalar(record, '$.<field>') or declare it under another name."
  }
  validation {
    condition     = alltrue([for type in values(var.table.columns) : contains(["bigint", "int", "double", "boolean", "string", "date", "timestamp"], type) || can(regex(local.decimal_pattern, type))])
    error_message = "table.columns: types must be bigint, int, double, boolean, string, date, timestamp or decimal(p,s) with precision 1-38 and scale 0-p, e.g. decimal(12,2); invalid: ${join(", ", [for name, type in var.table.columns : "${name} = \"${type}\"" if !(contains(["bigint", "int", "double", "boolean", "string", "date", "timestamp"], type) || can(regex(local.decimal_pattern, type)))])}."
  }
  validation {
    condition     = alltrue([for type in values(var.table.columns) : !can(regex(local.decimal_pattern, type)) || try(tonumber(regex(local.decimal_pattern, type)[1]) <= tonumber(regex(local.decimal_pattern, type)[0]), false)])
    error_message = "table.columns: a decimal's scale may not exceed its precision (decimal(p,s) with s <= p); invalid: ${join(", ", [for name, type in var.table.columns : "${name} = \"${type}\"" if can(regex(local.decimal_pattern, type)) && !try(tonumber(regex(local.decimal_pattern, type)[1]) <= tonumber(regex(local.decimal_pattern, type)[0]), false)])}."
  }
  # event_id is accepted here and left to the next rule, which refers to var.push: so this one still
  # refers to nothing but this variable, and Terraform decides it in its validate walk.
  validation {
    condition     = alltrue([for name in var.table.primary_key : contains(keys(var.table.columns), name) || name == "event_id"]) && length(distinct(var.table.primary_key)) == length(var.table.primary_key)
    error_message = "table.primary_key must name declared columns (table.columns: ${jsonencode(keys(var.table.columns))}; a push source may also name event_id), each once; not declared or repeated: ${jsonencode(distinct([for i, name in var.table.primary_key : name if(!contains(keys(var.table.columns), name) && name != "event_id") || index(var.table.primary_key, name) != i]))}."
  }
  validation {
    condition     = !contains(var.table.primary_key, "event_id") || var.push != null
    error_message = "table.primary_key: event_id is a column of push sources' tables only (the id of each received event); for this source name declared columns (table.columns: ${jsonencode(keys(var.table.columns))})."
  }
  validation {
    condition     = contains(["allow", "alarm", "quarantine"], var.table.on_schema_change)
    error_message = "table.on_schema_change must be allow, alarm or quarantine; got \"${var.table.on_schema_change}\"."
  }
  # Partition projection's date range: two values in the format (yyyy-MM-dd) or relative to NOW
  # (https://docs.aws.amazon.com/athena/latest/ug/partition-projection-supported-types.html).
  validation {
    condition = length(split(",", var.table.date_range)) == 2 && alltrue([
      for v in split(",", var.table.date_range) : can(regex(local.relative_date_pattern, v)) || can(formatdate("YYYY", "${regex("^\\s*([0-9]{4}-[0-9]{2}-[0-9]{2})\\s*$", v)[0]}T00:00:00Z"))
    ])
    error_message = "table.date_range must be two comma-separated dates, each yyyy-MM-dd or relative to NOW (NOW, NOW-3YEARS, NOW+1DAYS; units YEARS, MONTHS, WEEKS, DAYS, HOURS, MINUTES, SECONDS), e.g. \"2020-01-01,NOW+1DAYS\"; got \"${var.table.date_range}\"."
  }
}

variable "push" {
  description = "Make this a push source: instead of calling an API on a schedule it receives webhooks at push_url (an API Gateway HTTP API, route POST /hooks/<source_id>), checks each request's signature with the secrets in the source's secret ({\"signing_secrets\": [{\"value\": \"...\", \"not_after\": \"2026-12-31T00:00:00Z\"}]} or {\"signing_secret\": \"...\"}), refuses replays, and buffers the accepted events in an encrypted SQS queue that the source's function writes to the records zone in batches. signature: stripe, slack, github or header (a shared secret in header_name). tolerance_seconds: how far a stripe/slack timestamp may be from now. max_body_bytes: larger requests get 413 (at most 260096: an SQS message is at most 262144 bytes with its attributes). event_id / event_time: where the event's id and time are (\"$.a.b\" in the JSON body, or \"header:X-Name\"); null: the style's default id, and the time of receipt. replay_store: a DynamoDB table of seen signatures (replay_retention_days for styles without a timestamp). throttle: the route's requests per second and burst (429 beyond). batch: the writer's batches (size 1-10000, window_seconds 0-300, above 10 events a window of at least 1 s; max_concurrency 2-1000 and at most reserved_concurrency). ingress_reserved_concurrency: reserved concurrency of the ingress function (null: unreserved). alarms: rejected requests per 5 minutes (bad_signature, expired, replayed, unsigned) that alarm, and no_events_hours (null: off): alarm when no event was accepted for that long. A push source has no api_config, schedule_expression or orchestration. A lake key given by hand (var.lake) must also let CloudWatch Logs use it for the log groups /aws/lambda/<name_prefix>-<source_id>-ingress and .../ingress/access (modules/lake's default function_name_patterns covers them). Null (default): a pull source."
  type = object({
    signature                    = string
    header_name                  = optional(string)
    tolerance_seconds            = optional(number, 300)
    max_body_bytes               = optional(number, 256000)
    event_id                     = optional(string)
    event_time                   = optional(string)
    replay_store                 = optional(bool, true)
    replay_retention_days        = optional(number, 7)
    throttle                     = optional(object({ rate = optional(number, 20), burst = optional(number, 40) }), {})
    batch                        = optional(object({ size = optional(number, 1000), window_seconds = optional(number, 60), max_concurrency = optional(number, 2) }), {})
    ingress_reserved_concurrency = optional(number)
    alarms                       = optional(object({ rejected_per_5min = optional(number, 20), no_events_hours = optional(number) }), {})
  })
  default = null

  validation {
    condition     = var.push == null || try(contains(["stripe", "slack", "github", "header"], var.push.signature), false)
    error_message = "push.signature must be stripe, slack, github or header (a shared secret sent in the header push.header_name); got \"${try(var.push.signature, "")}\"."
  }
  validation {
    condition     = try(var.push.signature, "") != "header" || can(regex("^[A-Za-z0-9-]{1,64}$", var.push.header_name))
    error_message = "push.header_name is required with signature = \"header\": the name of the header that carries the shared secret (letters, digits and hyphens, e.g. \"X-Webhook-Token\")."
  }

  validation {
    condition     = var.push == null || try(var.push.signature == "header" || var.push.header_name == null, true)
    error_message = "push.header_name is only for signature = \"header\" (the ${try(var.push.signature, "")} style reads its own signature headers): remove it, or set signature = \"header\"."
  }
  validation {
    condition     = var.push == null || try(var.push.tolerance_seconds >= 1 && var.push.tolerance_seconds <= 3600 && floor(var.push.tolerance_seconds) == var.push.tolerance_seconds, false)
    error_message = "push.tolerance_seconds must be a whole number of seconds from 1 to 3600 (Stripe and Slack use 300)."
  }
  # An SQS message, body and attributes together, is at most 262,144 bytes; 2,048 are kept for the
  # attributes the ingress adds (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/quotas-messages.html).
  validation {
    condition     = var.push == null || try(var.push.max_body_bytes >= 1 && var.push.max_body_bytes <= 260096 && floor(var.push.max_body_bytes) == var.push.max_body_bytes, false)
    error_message = "push.max_body_bytes must be a whole number of bytes from 1 to 260096 (an SQS message holds at most 262144 bytes, attributes included); got ${try(var.push.max_body_bytes, "null")}."
  }
  validation {
    condition     = var.push == null || alltrue([for p in compact([try(var.push.event_id, null), try(var.push.event_time, null)]) : can(regex("^(\\$(\\.[A-Za-z0-9_-]+)+|header:[A-Za-z0-9-]{1,64})$", p))])
    error_message = "push.event_id and push.event_time must be a JSON path into the body such as \"$.id\" or \"$.data.created\", or a header as \"header:X-Event-Id\" (or null for the default)."
  }
  validation {
    condition     = var.push == null || try(var.push.replay_retention_days >= 1 && var.push.replay_retention_days <= 35 && floor(var.push.replay_retention_days) == var.push.replay_retention_days, false)
    error_message = "push.replay_retention_days must be a whole number of days from 1 to 35."
  }
  validation {
    condition     = var.push == null || try(var.push.throttle.rate > 0 && var.push.throttle.rate <= 10000 && var.push.throttle.burst >= 1 && var.push.throttle.burst <= 5000 && floor(var.push.throttle.burst) == var.push.throttle.burst, false)
    error_message = "push.throttle: rate must be above 0 and at most 10000 requests per second (the account's API Gateway quota), burst a whole number from 1 to 5000."
  }
  # The event source mapping's limits for a standard queue: batch size 1-10,000, window 0-300 s, and a
  # window of at least 1 s above 10 messages; MaximumConcurrency 2-1,000
  # (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-parameters.html).
  validation {
    condition = var.push == null || try(
      var.push.batch.size >= 1 && var.push.batch.size <= 10000 && floor(var.push.batch.size) == var.push.batch.size &&
      var.push.batch.window_seconds >= 0 && var.push.batch.window_seconds <= 300 && floor(var.push.batch.window_seconds) == var.push.batch.window_seconds &&
      (var.push.batch.size <= 10 || var.push.batch.window_seconds >= 1) &&
      var.push.batch.max_concurrency >= 2 && var.push.batch.max_concurrency <= 1000 && floor(var.push.batch.max_concurrency) == var.push.batch.max_concurrency,
      false
    )
    error_message = "push.batch: size must be a whole number from 1 to 10000, window_seconds from 0 to 300 (at least 1 when size is above 10: AWS requires a batching window for batches of more than 10), max_concurrency from 2 to 1000."
  }
  # Lambda throttles the mapping's invocations beyond the function's reserved concurrency, and messages
  # it cannot deliver in time go back to the queue and count as receives towards the DLQ
  # (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html).
  validation {
    condition     = var.push == null || try(var.push.batch.max_concurrency <= var.reserved_concurrency, false)
    error_message = "push.batch.max_concurrency (${try(var.push.batch.max_concurrency, 0)}) may not exceed reserved_concurrency (${var.reserved_concurrency}): the writer would be throttled, and throttled batches count towards the buffer's dead-letter queue. Raise reserved_concurrency or lower max_concurrency."
  }
  validation {
    condition     = var.push == null || try(var.push.ingress_reserved_concurrency == null ? true : (var.push.ingress_reserved_concurrency >= 1 && var.push.ingress_reserved_concurrency <= 1000 && floor(var.push.ingress_reserved_concurrency) == var.push.ingress_reserved_concurrency), false)
    error_message = "push.ingress_reserved_concurrency must be a whole number from 1 to 1000, or null (unreserved)."
  }
  validation {
    condition     = var.push == null || try(var.push.alarms.rejected_per_5min >= 1 && floor(var.push.alarms.rejected_per_5min) == var.push.alarms.rejected_per_5min && (var.push.alarms.no_events_hours == null ? true : (var.push.alarms.no_events_hours >= 1 && var.push.alarms.no_events_hours <= 168 && floor(var.push.alarms.no_events_hours) == var.push.alarms.no_events_hours)), false)
    error_message = "push.alarms: rejected_per_5min must be a whole number of at least 1, no_events_hours a whole number of hours from 1 to 168 (CloudWatch evaluates at most 7 days) or null."
  }
  # What a push source does not have: it is run by its events (api_config: see that variable).
  validation {
    condition     = var.push == null || var.schedule_expression == null
    error_message = "push sources are run by the events they receive: remove schedule_expression."
  }
  validation {
    condition     = var.push == null || var.orchestration == null
    error_message = "push sources need no orchestration (each batch of events is one complete run): remove orchestration."
  }
}
