# The reader policy on its own (mock provider, plan): its statements, and each input's validation.

mock_provider "aws" {
  mock_data "aws_iam_policy_document" {
    defaults = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
  }
}

variables {
  partition             = "aws-us-gov"
  region                = "us-gov-west-1"
  account_id            = "111122223333"
  bucket_name           = "acme-raw-x"
  kms_key_arn           = "arn:aws-us-gov:kms:us-gov-west-1:111122223333:key/1111"
  glue_database         = "acme_raw"
  athena_workgroup      = "acme-raw"
  athena_results_prefix = "_athena"
  sources               = { orders = "orders", "stripe-charges" = "billing/charges" }
}

run "statements_follow_the_inputs" {
  command = plan

  assert {
    condition     = alltrue(flatten([for s in output.statements : [for r in s.resources : startswith(r, "arn:aws-us-gov:")]]))
    error_message = "Every ARN is built from the given partition."
  }
  assert {
    condition = toset(one([for s in output.statements : s.resources if s.sid == "ReadTheChosenSourcesTablesOnly"])) == toset([
      "arn:aws-us-gov:glue:us-gov-west-1:111122223333:catalog", "arn:aws-us-gov:glue:us-gov-west-1:111122223333:database/acme_raw",
      "arn:aws-us-gov:glue:us-gov-west-1:111122223333:table/acme_raw/orders", "arn:aws-us-gov:glue:us-gov-west-1:111122223333:table/acme_raw/orders_published",
      "arn:aws-us-gov:glue:us-gov-west-1:111122223333:table/acme_raw/stripe_charges", "arn:aws-us-gov:glue:us-gov-west-1:111122223333:table/acme_raw/stripe_charges_published",
    ])
    error_message = "Table names take '_' for '-'; tables sit over the prefix, whatever it is."
  }
  assert {
    condition     = contains(one([for s in output.statements : s.resources if s.sid == "ReadTheChosenSourcesRecordsOnly"]), "arn:aws-us-gov:s3:::acme-raw-x/billing/charges/records/*")
    error_message = "Objects are addressed by the source's prefix."
  }
  assert {
    condition     = one([for s in output.statements : s.conditions[0].values[0] if s.sid == "UseKeyViaS3ForTheChosenDataOnly"]) == "s3.us-gov-west-1.amazonaws.com"
    error_message = "kms:ViaService is s3.<region>.amazonaws.com."
  }
}

run "no_sources_and_no_athena_leave_only_the_catalog_and_the_bucket" {
  command = plan
  variables {
    sources               = {}
    athena_workgroup      = null
    athena_results_prefix = null
  }
  assert {
    condition     = jsonencode([for s in output.statements : s.sid]) == jsonencode(["ReadTheChosenSourcesTablesOnly", "LocateTheLakeBucket", "UseKeyViaS3ForTheChosenDataOnly"])
    error_message = "Without sources or Athena: no object, listing, query or results statement (none may be empty)."
  }
}

run "rejects_a_bad_partition" {
  command = plan
  variables {
    partition = "amazon"
  }
  expect_failures = [var.partition]
}

run "rejects_a_bad_region" {
  command = plan
  variables {
    region = "Europe"
  }
  expect_failures = [var.region]
}

run "rejects_a_bad_account_id" {
  command = plan
  variables {
    account_id = "1234"
  }
  expect_failures = [var.account_id]
}

run "rejects_a_bucket_arn" {
  command = plan
  variables {
    bucket_name = "arn:aws:s3:::acme-raw-x"
  }
  expect_failures = [var.bucket_name]
}

run "rejects_a_key_alias" {
  command = plan
  variables {
    kms_key_arn = "alias/acme-raw"
  }
  expect_failures = [var.kms_key_arn]
}

run "rejects_a_database_name_athena_cannot_read" {
  command = plan
  variables {
    glue_database = "acme-raw"
  }
  expect_failures = [var.glue_database]
}

run "rejects_a_bad_workgroup_name" {
  command = plan
  variables {
    athena_workgroup = "acme raw"
  }
  expect_failures = [var.athena_workgroup]
}

run "rejects_a_results_prefix_with_a_leading_slash" {
  command = plan
  variables {
    athena_results_prefix = "/_athena"
  }
  expect_failures = [var.athena_results_prefix]
}

run "rejects_a_bad_source_id" {
  command = plan
  variables {
    sources = { Orders = "orders" }
  }
  expect_failures = [var.sources]
}

run "rejects_a_prefix_with_a_trailing_slash" {
  command = plan
  variables {
    sources = { orders = "orders/" }
  }
  expect_failures = [var.sources]
}
