output "buckets" {
  description = "The raw bucket of each region."
  value = {
    eu = module.orders_eu.bucket_name
    us = module.orders_us.bucket_name
  }
}

output "secrets" {
  description = "The secret to fill in each region (out of band)."
  value = {
    eu = module.orders_eu.secret_arn
    us = module.orders_us.secret_arn
  }
}
