output "lake" {
  description = "The shared lake: bucket, key and alarm topic every source uses."
  value = {
    bucket_name     = module.lake.bucket_name
    bucket_arn      = module.lake.bucket_arn
    kms_key_arn     = module.lake.kms_key_arn
    alarm_topic_arn = module.lake.alarm_topic_arn
    policies        = module.lake.policies
  }
}

output "sources" {
  description = "Per source: function, role, secret (fill it out of band), prefix, and its rendered policies."
  value = {
    for id, source in module.source : id => {
      function_name = source.function_name
      role_name     = source.role_name
      role_arn      = source.role_arn
      secret_arn    = source.secret_arn
      raw_prefix    = source.raw_prefix
      dlq_url       = source.dlq_url
      policies      = source.policies
    }
  }
}
