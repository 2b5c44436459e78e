# The records zone's Glue tables and named queries (issue 21's contract): the function writes each run's
# records under <raw_prefix>/records/ and, when the run completes, the list of them under
# <raw_prefix>/published/; two tables in the lake's Glue database read them, and named queries in the
# lake's Athena workgroup read only what complete runs published.

locals {
  # Columns every records table has, ahead of the declared ones (and the partition key).
  # A push source's records also carry the event's id and its time of receipt (pull tables have neither,
  # so a pull source may still declare columns of those names).
  reserved_columns      = concat(["run_id", "attempt", "page", "record_index", "ingested_at", "record", "cursor_value", "ingest_date"], local.push ? ["event_id", "received_at"] : [])
  decimal_pattern       = "^decimal\\(([1-9]|[12][0-9]|3[0-8]),([0-9]|[12][0-9]|3[0-8])\\)$"
  relative_date_pattern = "^\\s*NOW\\s*([+-]\\s*[0-9]+\\s*(YEARS?|MONTHS?|WEEKS?|DAYS?|HOURS?|MINUTES?|SECONDS?)\\s*)?$"

  # Known at plan time: an own lake has a database; a shared one says (for_sources, or by hand).
  glue_database    = local.own_lake ? module.lake[0].for_sources.glue_database : try(var.lake.glue_database, null)
  athena_workgroup = local.own_lake ? module.lake[0].for_sources.athena_workgroup : try(var.lake.athena_workgroup, null)
  athena_results   = local.own_lake ? module.lake[0].for_sources.athena_results : try(var.lake.athena_results, null)
  tables_enabled   = var.table.enabled && (local.own_lake || try(var.lake.glue_database, null) != null)

  # A push source's records are events: without a declared key, one row per event id.
  primary_key = local.push && length(var.table.primary_key) == 0 ? ["event_id"] : var.table.primary_key

  table_name     = replace(var.source_id, "-", "_")
  published_name = "${local.table_name}_published"
  records_root   = "s3://${local.bucket_name}/${local.raw_prefix}/records/"
  published_root = "s3://${local.bucket_name}/${local.raw_prefix}/published/"

  # A cursor source's records carry the cursor value each was read at, typed as the cursor compares.
  cursor_column_type = local.cursor_source ? lookup({ timestamp = "timestamp", number = "double", string = "string" }, try(local.api_config.incremental.cursor_type, "timestamp"), "string") : null
  records_columns = concat(
    [
      { name = "run_id", type = "string" },
      { name = "attempt", type = "int" },
      { name = "page", type = "int" },
      { name = "record_index", type = "int" },
      { name = "ingested_at", type = "timestamp" },
      { name = "record", type = "string" },
    ],
    local.cursor_source ? [{ name = "cursor_value", type = local.cursor_column_type }] : [],
    # A pushed event's time (push.event_time, else its receipt) is its cursor value, so latest orders
    # reordered deliveries by it; event_id is the default primary key.
    local.push ? [
      { name = "cursor_value", type = "timestamp" },
      { name = "event_id", type = "string" },
      { name = "received_at", type = "timestamp" },
    ] : [],
    [for name, type in var.table.columns : { name = name, type = type }],
  )
  published_columns = [
    { name = "run_id", type = "string" },
    { name = "attempt", type = "int" },
    { name = "page", type = "int" },
    { name = "records", type = "bigint" },
    { name = "object", type = "string" },
    { name = "published_at", type = "timestamp" },
  ]

  tables = {
    records   = { name = local.table_name, location = local.records_root, columns = local.records_columns, what = "records" }
    published = { name = local.published_name, location = local.published_root, columns = local.published_columns, what = "published lists of complete runs" }
  }

  # The queries' placeholders (shared with the local query command's string.Template).
  query_values = {
    database    = local.glue_database
    table       = local.table_name
    published   = local.published_name
    key_columns = join(", ", [for c in local.primary_key : "r.\"${c}\""])
    order_columns = join(", ", concat(
      local.cursor_source || local.push ? ["r.cursor_value DESC NULLS LAST"] : [],
      ["r.ingested_at DESC", "r.page DESC", "r.record_index DESC"],
    ))
  }
  query_descriptions = {
    complete = "${var.source_id}: every record of the complete runs, each once (only pages the runs published)."
    runs     = "${var.source_id}: the complete runs, when each was published, its pages and records."
    latest   = "${var.source_id}: the newest version of each record by primary key (${join(", ", local.primary_key)}) among the complete runs."
  }
  named_queries = !local.tables_enabled ? {} : {
    for name in concat(["complete", "runs"], length(local.primary_key) > 0 ? ["latest"] : []) :
    name => templatefile("${path.module}/lambda_src/lake_ingest/queries/${name}.sql", local.query_values)
  }
}

resource "aws_glue_catalog_table" "this" {
  for_each = local.tables_enabled ? local.tables : {}

  name          = each.value.name
  database_name = local.glue_database
  description   = "lake-ingest ${var.source_id}: ${each.value.what} (s3://${local.bucket_name}/${local.raw_prefix}/)"
  # Some Athena DDL (SHOW CREATE TABLE, ALTER TABLE) fails on a table without a type
  # (https://registry.terraform.io/providers/hashicorp/aws/latest/docs/resources/glue_catalog_table#table_type).
  table_type = "EXTERNAL_TABLE"

  # Partition projection: Athena computes the ingest_date partitions from these parameters and ignores any
  # registered in Glue; the template needs a placeholder per partition key and a trailing slash
  # (https://docs.aws.amazon.com/athena/latest/ug/partition-projection-setting-up.html). Values are UTC dates
  # (https://docs.aws.amazon.com/athena/latest/ug/partition-projection-supported-types.html).
  parameters = {
    "classification"                       = "json"
    "projection.enabled"                   = "true"
    "projection.ingest_date.type"          = "date"
    "projection.ingest_date.format"        = "yyyy-MM-dd"
    "projection.ingest_date.range"         = var.table.date_range
    "projection.ingest_date.interval"      = "1"
    "projection.ingest_date.interval.unit" = "DAYS"
    "storage.location.template"            = "${each.value.location}ingest_date=$${ingest_date}/"
  }

  partition_keys {
    name = "ingest_date"
    type = "string"
  }

  storage_descriptor {
    location      = each.value.location
    input_format  = "org.apache.hadoop.mapred.TextInputFormat"
    output_format = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"

    # The Hive JSON SerDe: one JSON object per line; OpenX's results can be non-deterministic
    # (https://docs.aws.amazon.com/athena/latest/ug/openx-json-serde.html).
    ser_de_info {
      serialization_library = "org.apache.hive.hcatalog.data.JsonSerDe"
    }

    dynamic "columns" {
      for_each = each.value.columns
      content {
        name = columns.value.name
        type = columns.value.type
      }
    }
  }
}

resource "aws_athena_named_query" "this" {
  for_each = local.named_queries

  name        = "${var.source_id}-${each.key}"
  description = local.query_descriptions[each.key]
  database    = local.glue_database
  # Null: Athena's primary workgroup (a lake passed in by hand without one).
  workgroup = local.athena_workgroup
  query     = each.value

  depends_on = [aws_glue_catalog_table.this]
}

# What an analyst needs to query this source's records (the lake's reader policy, for this source only).
module "reader_policy" {
  source = "./modules/reader_policy"
  count  = local.own_lake || (try(var.lake.glue_database, null) != null && try(var.lake.athena_workgroup, null) != null) ? 1 : 0

  partition             = local.partition
  region                = local.region
  account_id            = local.account_id
  bucket_name           = local.bucket_name
  kms_key_arn           = local.kms_key_arn
  glue_database         = local.glue_database
  athena_workgroup      = local.athena_workgroup
  athena_results_prefix = trimsuffix(trimprefix(local.athena_results, "s3://${local.bucket_name}/"), "/")
  sources               = { (var.source_id) = local.raw_prefix }
}
