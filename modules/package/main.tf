# Packaging with Terraform built-ins only. The content hash is computed at plan time from the
# sources (never from the zip, which may not exist yet on this machine), so plan and apply agree
# across machines and CI jobs. The zip is built at apply time only when that hash changes.
locals {
  source_files = sort([
    for f in fileset(var.source_dir, "**") : f
    if !strcontains(f, "__pycache__") && !endswith(f, ".pyc") && basename(f) != "requirements.txt"
  ])
  content_hash = sha256(jsonencode({
    sources        = { for f in local.source_files : f => filesha256("${var.source_dir}/${f}") }
    requirements   = var.requirements_file == null ? "" : filesha256(var.requirements_file)
    builder        = filesha256("${path.module}/build.py")
    python_version = var.python_version
  }))
  # Unique per content: two module calls never write each other's zip.
  zip_path = "${var.build_dir}/lake-ingest-${substr(local.content_hash, 0, 32)}.zip"
  command = join(" ", concat(
    [var.python_executable, "\"${path.module}/build.py\"", "--source-dir", "\"${var.source_dir}\""],
    var.requirements_file == null ? [] : ["--requirements", "\"${var.requirements_file}\""],
    ["--python-version", var.python_version, "--cache-dir", "\"${var.build_dir}\"", "--output", "\"${local.zip_path}\""],
  ))
}

resource "terraform_data" "build" {
  triggers_replace = merge(var.rebuild_triggers, { content_hash = local.content_hash })
  input            = local.zip_path

  provisioner "local-exec" {
    command     = local.command
    environment = { LAKE_INGEST_FILES = jsonencode(local.source_files) }
  }
}
