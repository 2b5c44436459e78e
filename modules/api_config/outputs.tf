output "problems" {
  description = "Everything wrong with api_config (\"<option path>: <what to change>\"); empty when it is valid."
  value       = local.problems
}

output "rendered" {
  description = "The API_CONFIG the function runs with (top-level defaults filled in, unset attributes dropped, method in capitals); null while there are problems."
  value       = local.rendered
}

output "json" {
  description = "rendered as the JSON the handler reads from its API_CONFIG environment variable; null while there are problems."
  value       = local.rendered == null ? null : jsonencode(local.rendered)
}
