# Redshift Serverless (not publicly accessible), the IAM role it assumes for COPY from the
# staging prefix only, and its admin password kept by Secrets Manager (never in variables or outputs).

variable "name" {
  type        = string
  description = "Name prefix for the namespace, workgroup and role"
}

variable "database" {
  type        = string
  default     = "music"
  description = "Database the pipeline loads"
}

variable "admin_username" {
  type        = string
  default     = "etl_admin"
  description = "Admin user; its password is generated and kept in Secrets Manager"
}

variable "staging_bucket_arn" {
  type        = string
  description = "ARN of the staging bucket COPY reads from"
}

variable "staging_prefix" {
  type        = string
  description = "Prefix of the staging files in that bucket"
}

variable "subnet_ids" {
  type        = list(string)
  description = "Private subnets for the workgroup"
}

variable "security_group_ids" {
  type        = list(string)
  description = "Security groups allowed to reach the workgroup (port 5439)"
}

variable "base_capacity" {
  type        = number
  default     = 8
  description = "Redshift Processing Units (RPUs) a query starts with (8 is the smallest)"
}

variable "max_capacity" {
  type        = number
  default     = 64
  description = "Most RPUs the workgroup scales to when many analysts query at once (caps the cost of a busy hour)"
}

variable "usage_limit_rpu_hours" {
  type        = number
  default     = 200
  description = "RPU-hours per usage_limit_period before the breach_action applies"
}

variable "usage_limit_period" {
  type        = string
  default     = "monthly"
  description = "daily, weekly or monthly"
}

variable "usage_limit_breach_action" {
  type        = string
  default     = "log"
  description = "log, emit-metric or deactivate (deactivate stops every query until the period ends)"
}

variable "tags" {
  type        = map(string)
  default     = {}
  description = "Tags for every resource"
}

data "aws_iam_policy_document" "assume_by_redshift" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["redshift.amazonaws.com", "redshift-serverless.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "copy" {
  name               = "${var.name}-redshift-copy"
  assume_role_policy = data.aws_iam_policy_document.assume_by_redshift.json
  tags               = var.tags
}

data "aws_iam_policy_document" "read_staging" {
  statement {
    sid       = "ListStagingPrefix"
    actions   = ["s3:ListBucket"]
    resources = [var.staging_bucket_arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${var.staging_prefix}/*"]
    }
  }
  statement {
    sid       = "ReadStagingObjects"
    actions   = ["s3:GetObject"]
    resources = ["${var.staging_bucket_arn}/${var.staging_prefix}/*"]
  }
}

resource "aws_iam_role_policy" "read_staging" {
  name   = "read-staging"
  role   = aws_iam_role.copy.id
  policy = data.aws_iam_policy_document.read_staging.json
}

resource "aws_redshiftserverless_namespace" "this" {
  #checkov:skip=CKV_AWS_282:encrypted with the AWS-managed key; a customer-managed key adds a key policy to run and adds nothing for MSD-derived data
  namespace_name        = var.name
  db_name               = var.database
  admin_username        = var.admin_username
  manage_admin_password = true # generated and rotated by Secrets Manager
  iam_roles             = [aws_iam_role.copy.arn]
  default_iam_role_arn  = aws_iam_role.copy.arn
  log_exports           = ["userlog", "connectionlog", "useractivitylog"]
  tags                  = var.tags
}

resource "aws_redshiftserverless_workgroup" "this" {
  namespace_name       = aws_redshiftserverless_namespace.this.namespace_name
  workgroup_name       = var.name
  base_capacity        = var.base_capacity
  max_capacity         = var.max_capacity
  publicly_accessible  = false
  enhanced_vpc_routing = true
  subnet_ids           = var.subnet_ids
  security_group_ids   = var.security_group_ids
  tags                 = var.tags
}

# A ceiling on compute, whoever queries: with 100+ analysts the bill follows their queries, not the pipeline's.
resource "aws_redshiftserverless_usage_limit" "compute" {
  resource_arn  = aws_redshiftserverless_workgroup.this.arn
  usage_type    = "serverless-compute"
  amount        = var.usage_limit_rpu_hours
  period        = var.usage_limit_period
  breach_action = var.usage_limit_breach_action
}

output "iam_role_arn" {
  value       = aws_iam_role.copy.arn
  description = "Value for [redshift] iam_role (MUSIC_ETL_REDSHIFT_IAM_ROLE)"
}

output "endpoint" {
  value       = aws_redshiftserverless_workgroup.this.endpoint[0].address
  description = "Workgroup endpoint host"
}

output "warehouse_url" {
  value       = "redshift://${var.admin_username}@${aws_redshiftserverless_workgroup.this.endpoint[0].address}:5439/${var.database}"
  description = "Value for [warehouse] url (MUSIC_ETL_WAREHOUSE_URL); no password in it"
}

output "admin_secret_arn" {
  value       = aws_redshiftserverless_namespace.this.admin_password_secret_arn
  description = "Secrets Manager secret holding the admin password (read it into PGPASSWORD at run time)"
}
