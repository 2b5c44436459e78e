output "zip_path" {
  description = "Path of the built zip (relative if build_dir is). Known at plan time."
  value       = local.zip_path
}

output "content_hash" {
  description = "sha256 over the sources, requirements, builder and Python version: the value to use as source_code_hash."
  value       = local.content_hash
}

output "source_files" {
  description = "Files from source_dir that go into the zip."
  value       = local.source_files
}

output "build_id" {
  description = "Id of the build step; depend on it (or on this module) before using zip_path."
  value       = terraform_data.build.id
}
