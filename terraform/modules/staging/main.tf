# Private S3 bucket for the pipeline's staging files (msd/, spotify/ per partition).

variable "bucket_name" {
  type        = string
  description = "Globally unique bucket name"
}

variable "staging_prefix" {
  type        = string
  default     = "staging"
  description = "Prefix under which the pipeline writes (the [staging] root is s3://<bucket>/<prefix>)"
}

variable "noncurrent_days" {
  type        = number
  default     = 30
  description = "Days to keep overwritten staging objects before they are deleted"
}

variable "tags" {
  type        = map(string)
  default     = {}
  description = "Tags for every resource"
}

resource "aws_s3_bucket" "staging" {
  #checkov:skip=CKV_AWS_18:access logs would need a second bucket; the pipeline is the only writer and CloudTrail data events can be enabled account-wide
  #checkov:skip=CKV_AWS_144:staging is rebuilt from the MSD and the Spotify journal; versioning covers deletions, a second region would double the cost
  #checkov:skip=CKV2_AWS_62:nothing consumes bucket events; the pipeline's own manifests say what is complete
  bucket = var.bucket_name
  tags   = var.tags
}

resource "aws_s3_bucket_public_access_block" "staging" {
  bucket                  = aws_s3_bucket.staging.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_server_side_encryption_configuration" "staging" {
  bucket = aws_s3_bucket.staging.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "aws:kms"
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_versioning" "staging" {
  bucket = aws_s3_bucket.staging.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "staging" {
  bucket = aws_s3_bucket.staging.id
  rule {
    id     = "staging-noncurrent-versions"
    status = "Enabled"
    filter {
      prefix = "${var.staging_prefix}/"
    }
    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_days
    }
  }
  rule {
    id     = "abort-incomplete-uploads"
    status = "Enabled"
    filter {}
    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }
}

output "bucket_name" {
  value       = aws_s3_bucket.staging.bucket
  description = "Staging bucket"
}

output "bucket_arn" {
  value       = aws_s3_bucket.staging.arn
  description = "Staging bucket ARN"
}

output "answers_root" {
  # Beside the staging prefix, not in it: a mistyped staging root still finds every paid-for answer,
  # and the staging prefix's lifecycle rules never reach them.
  value       = "s3://${aws_s3_bucket.staging.bucket}/answers"
  description = "Value for [answers] root (MUSIC_ETL_ANSWERS_ROOT)"
}

output "answers_prefix" {
  value       = "answers"
  description = "Prefix of the answer store in the bucket (the pipeline reads and writes it)"
}

output "staging_root" {
  value       = "s3://${aws_s3_bucket.staging.bucket}/${var.staging_prefix}"
  description = "Value for [staging] root (MUSIC_ETL_STAGING_ROOT)"
}
