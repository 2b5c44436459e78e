output "function_name" {
  description = "Ingestion function."
  value       = module.orders.function_name
}

output "secret_arn" {
  description = "Put the API credentials here."
  value       = module.orders.secret_arn
}

output "bucket_name" {
  description = "Raw bucket."
  value       = module.orders.bucket_name
}

output "sns_topic_arn" {
  description = "Subscribe on-call to this topic."
  value       = module.orders.sns_topic_arn
}
