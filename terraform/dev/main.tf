# Development: a private staging bucket and a small Redshift Serverless warehouse.
# The pipeline runs on a laptop or any machine with AWS credentials, against these.

variable "region" {
  type        = string
  default     = "us-east-1"
  description = "AWS region (the public MSD snapshot lives in us-east-1)"
}

variable "name" {
  type        = string
  default     = "music-etl-dev"
  description = "Name prefix of every resource"
}

variable "bucket_name" {
  type        = string
  description = "Globally unique name of the staging bucket"
}

variable "vpc_id" {
  type        = string
  description = "VPC of the warehouse"
}

variable "subnet_ids" {
  type        = list(string)
  description = "Private subnets (three AZs) for Redshift Serverless"
}

variable "allowed_cidr" {
  type        = string
  description = "The one network allowed to reach Redshift on 5439 (e.g. a VPN range); never 0.0.0.0/0"
  validation {
    condition     = var.allowed_cidr != "0.0.0.0/0"
    error_message = "allowed_cidr must not be 0.0.0.0/0."
  }
}

locals {
  tags = { project = "music-etl", environment = "dev" }
}

module "staging" {
  source      = "../modules/staging"
  bucket_name = var.bucket_name
  tags        = local.tags
}

resource "aws_security_group" "warehouse" {
  name        = "${var.name}-warehouse"
  description = "Redshift Serverless of ${var.name}: 5439 from the allowed network only"
  vpc_id      = var.vpc_id
  ingress {
    description = "Redshift from the allowed network"
    from_port   = 5439
    to_port     = 5439
    protocol    = "tcp"
    cidr_blocks = [var.allowed_cidr]
  }
  tags = local.tags
}

module "warehouse" {
  source             = "../modules/warehouse"
  name               = var.name
  staging_bucket_arn = module.staging.bucket_arn
  staging_prefix     = "staging"
  subnet_ids         = var.subnet_ids
  security_group_ids = [aws_security_group.warehouse.id]
  tags               = local.tags
}

output "staging_root" {
  value       = module.staging.staging_root
  description = "MUSIC_ETL_STAGING_ROOT"
}

output "answers_root" {
  value       = module.staging.answers_root
  description = "MUSIC_ETL_ANSWERS_ROOT"
}

output "redshift_iam_role" {
  value       = module.warehouse.iam_role_arn
  description = "MUSIC_ETL_REDSHIFT_IAM_ROLE"
}

output "warehouse_url" {
  value       = module.warehouse.warehouse_url
  description = "MUSIC_ETL_WAREHOUSE_URL"
}

output "admin_secret_arn" {
  value       = module.warehouse.admin_secret_arn
  description = "Secret with the Redshift admin password (PGPASSWORD)"
}
