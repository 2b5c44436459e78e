output "push_urls" {
  description = "Where each sender posts its webhooks, by source id (register these with Stripe and GitHub)."
  value = {
    stripe-events = module.stripe_events.push_url
    github-events = module.github_events.push_url
  }
}

output "secret_arns" {
  description = "Each source's secret, by source id: put the sender's signing secret in it ({\"signing_secrets\": [{\"value\": \"...\"}]})."
  value = {
    stripe-events = module.stripe_events.secret_arn
    github-events = module.github_events.secret_arn
  }
}

output "lake" {
  description = "The shared lake: bucket, key and alarm topic, its Glue database and Athena workgroup."
  value = {
    bucket_name      = module.lake.bucket_name
    kms_key_arn      = module.lake.kms_key_arn
    alarm_topic_arn  = module.lake.alarm_topic_arn
    glue_database    = module.lake.for_sources.glue_database
    athena_workgroup = module.lake.for_sources.athena_workgroup
  }
}

output "sources" {
  description = "Per source id, every output of the lake-ingest module (the shape examples/multi-source uses): push_url, push_api_id, push_buffer_url, push_dlq_arn, push_replay_table_arn, ingress_function_name, source_json, policies, ..."
  value = {
    stripe-events = module.stripe_events
    github-events = module.github_events
  }
}
