# The lake's query side: one Glue database for the sources' tables (each source creates its own two:
# <name> and <name>_published), an Athena workgroup whose results land, encrypted with the lake key,
# under the bucket's results prefix, and the IAM policy an analyst needs to query chosen sources.

resource "aws_glue_catalog_database" "this" {
  name        = local.glue_database
  description = "lake-ingest lake ${var.name}: each source's records (<source>) and published lists (<source>_published)"
  tags        = local.tags
}

resource "aws_athena_workgroup" "this" {
  count = var.athena.enabled ? 1 : 0

  name        = var.name
  description = "lake-ingest lake ${var.name}: queries on the sources' records; results in ${local.athena_results}"
  state       = "ENABLED"

  configuration {
    bytes_scanned_cutoff_per_query = var.athena.bytes_scanned_cutoff_per_query
    # The workgroup's results location and encryption override whatever a client asks for
    # (https://docs.aws.amazon.com/athena/latest/ug/workgroups-settings-override.html).
    enforce_workgroup_configuration    = true
    publish_cloudwatch_metrics_enabled = true

    result_configuration {
      output_location = local.athena_results
      # Results are written only into this account's bucket, whoever owns a same-named one elsewhere.
      expected_bucket_owner = local.account_id
      # SSE_KMS with the lake key: the bucket's policy denies puts that name another key
      # (https://docs.aws.amazon.com/athena/latest/ug/encryption.html).
      encryption_configuration {
        encryption_option = "SSE_KMS"
        kms_key_arn       = aws_kms_key.this.arn
      }
    }
  }

  tags = local.tags
}

# What an analyst needs to query the records of var.reader_sources (default: every registered source).
module "reader" {
  source = "../reader_policy"

  partition             = local.partition
  region                = local.region
  account_id            = local.account_id
  bucket_name           = aws_s3_bucket.raw.id
  kms_key_arn           = aws_kms_key.this.arn
  glue_database         = aws_glue_catalog_database.this.name
  athena_workgroup      = try(aws_athena_workgroup.this[0].name, null)
  athena_results_prefix = var.athena.enabled ? var.athena.results_prefix : null
  sources               = { for id, prefix in var.sources : id => prefix if contains(local.reader_sources, id) }
}
