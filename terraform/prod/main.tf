# Production: staging bucket, Redshift Serverless, and an EC2 instance that reads the public
# MSD snapshot (an EBS volume made from it, mounted at /mnt/snap), runs luigid bound to
# 127.0.0.1 (reach the visualiser through an SSH or SSM port forward) and the pipeline.

variable "region" {
  type        = string
  default     = "us-east-1"
  description = "AWS region; the public MSD snapshot is in us-east-1"
}

variable "name" {
  type        = string
  default     = "music-etl-prod"
  description = "Name prefix of every resource"
}

variable "bucket_name" {
  type        = string
  description = "Globally unique name of the staging bucket"
}

variable "vpc_id" {
  type        = string
  description = "VPC of the instance and the warehouse"
}

variable "subnet_ids" {
  type        = list(string)
  description = "Private subnets (three AZs) for Redshift Serverless"
}

variable "instance_subnet_id" {
  type        = string
  description = "Subnet of the EC2 instance (in the snapshot's availability zone)"
}

variable "availability_zone" {
  type        = string
  default     = "us-east-1a"
  description = "Zone of the instance and of the volume made from the MSD snapshot"
}

variable "ssh_cidr" {
  type        = string
  description = "The one network allowed to SSH in; never 0.0.0.0/0 (SSM needs no ingress at all)"
  validation {
    condition     = var.ssh_cidr != "0.0.0.0/0"
    error_message = "ssh_cidr must not be 0.0.0.0/0."
  }
}

variable "key_name" {
  type        = string
  default     = null
  description = "EC2 key pair for SSH; leave null to use SSM Session Manager only"
}

variable "warehouse_max_capacity" {
  type        = number
  default     = 64
  description = "Most Redshift Serverless RPUs for many concurrent analysts (base is 8)"
}

variable "warehouse_usage_limit_rpu_hours" {
  type        = number
  default     = 200
  description = "Monthly RPU-hours after which the usage limit's breach action applies (logged by default)"
}

variable "instance_type" {
  type        = string
  default     = "m6i.large"
  description = "Instance type (2 vCPU: two Luigi workers)"
}

variable "ami_id" {
  type        = string
  description = "Amazon Linux 2023 or Ubuntu 24.04 AMI for the region"
}

variable "msd_snapshot_id" {
  type        = string
  default     = "snap-5178cf30"
  description = "The public Million Song Dataset EBS snapshot (AWS Public Datasets, us-east-1)"
}

variable "refresh_time" {
  type        = string
  default     = "07:00"
  description = "Local time (HH:MM) the daily refresh timer starts `make refresh-prod` each day"
  validation {
    condition     = can(regex("^([01][0-9]|2[0-3]):[0-5][0-9]$", var.refresh_time))
    error_message = "refresh_time must be HH:MM, 24-hour, e.g. 07:00."
  }
}

variable "refresh_timezone" {
  type        = string
  default     = "UTC"
  description = "IANA time zone of refresh_time and of the days the snapshots are named by ([refresh] timezone)"
}

variable "repository_url" {
  type        = string
  description = "Git URL the instance clones the project from"
}

locals {
  tags           = { project = "music-etl", environment = "prod" }
  staging_prefix = "staging"
}

module "staging" {
  source         = "../modules/staging"
  bucket_name    = var.bucket_name
  staging_prefix = local.staging_prefix
  tags           = local.tags
}

resource "aws_security_group" "instance" {
  name        = "${var.name}-instance"
  description = "Pipeline instance: SSH from one network; luigid is bound to 127.0.0.1"
  vpc_id      = var.vpc_id
  ingress {
    description = "SSH from the operators' network"
    from_port   = 22
    to_port     = 22
    protocol    = "tcp"
    cidr_blocks = [var.ssh_cidr]
  }
  egress {
    description = "HTTPS out: Spotify, Deezer, S3, package registries, SSM"
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"] #checkov:skip=CKV_AWS_382:the pipeline must reach Spotify's and Deezer's APIs and package registries on the internet
  }
  egress {
    description = "Redshift inside the VPC"
    from_port   = 5439
    to_port     = 5439
    protocol    = "tcp"
    cidr_blocks = [data.aws_vpc.this.cidr_block]
  }
  tags = local.tags
}

data "aws_vpc" "this" {
  id = var.vpc_id
}

resource "aws_security_group" "warehouse" {
  name        = "${var.name}-warehouse"
  description = "Redshift Serverless of ${var.name}: 5439 from the pipeline instance only"
  vpc_id      = var.vpc_id
  ingress {
    description     = "Redshift from the pipeline instance"
    from_port       = 5439
    to_port         = 5439
    protocol        = "tcp"
    security_groups = [aws_security_group.instance.id]
  }
  tags = local.tags
}

module "warehouse" {
  source             = "../modules/warehouse"
  name               = var.name
  staging_bucket_arn = module.staging.bucket_arn
  staging_prefix     = local.staging_prefix
  subnet_ids         = var.subnet_ids
  security_group_ids = [aws_security_group.warehouse.id]
  max_capacity       = var.warehouse_max_capacity
  # Logged, not enforced: a breach should not stop a month's analyses; set "deactivate" to enforce.
  usage_limit_rpu_hours = var.warehouse_usage_limit_rpu_hours
  tags                  = local.tags
}

data "aws_iam_policy_document" "assume_by_ec2" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "instance" {
  name               = "${var.name}-instance"
  assume_role_policy = data.aws_iam_policy_document.assume_by_ec2.json
  tags               = local.tags
}

data "aws_iam_policy_document" "instance" {
  statement {
    sid       = "ListStaging"
    actions   = ["s3:ListBucket"]
    resources = [module.staging.bucket_arn]
  }
  statement {
    sid       = "ReadWriteStaging"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    resources = ["${module.staging.bucket_arn}/${local.staging_prefix}/*"]
  }
  statement {
    sid       = "ReadWarehousePassword"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [module.warehouse.admin_secret_arn]
  }
}

resource "aws_iam_role_policy" "instance" {
  name   = "pipeline"
  role   = aws_iam_role.instance.id
  policy = data.aws_iam_policy_document.instance.json
}

resource "aws_iam_role_policy_attachment" "ssm" {
  role       = aws_iam_role.instance.name
  policy_arn = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"
}

resource "aws_iam_instance_profile" "instance" {
  name = "${var.name}-instance"
  role = aws_iam_role.instance.name
}

resource "aws_ebs_volume" "msd" {
  #checkov:skip=CKV_AWS_189:a copy of a public dataset snapshot, encrypted with the AWS-managed key; a customer-managed key protects nothing more
  availability_zone = var.availability_zone
  snapshot_id       = var.msd_snapshot_id
  type              = "gp3"
  encrypted         = true
  tags              = merge(local.tags, { Name = "${var.name}-msd" })
}

resource "aws_instance" "pipeline" {
  ami                    = var.ami_id
  instance_type          = var.instance_type
  subnet_id              = var.instance_subnet_id
  availability_zone      = var.availability_zone
  key_name               = var.key_name
  iam_instance_profile   = aws_iam_instance_profile.instance.name
  vpc_security_group_ids = [aws_security_group.instance.id]
  monitoring             = true
  ebs_optimized          = true
  metadata_options {
    http_tokens   = "required" # IMDSv2 only
    http_endpoint = "enabled"
  }
  root_block_device {
    volume_size = 100
    volume_type = "gp3"
    encrypted   = true
  }
  user_data = templatefile("${path.module}/user_data.sh.tftpl", {
    repository_url   = var.repository_url
    staging_root     = module.staging.staging_root
    warehouse_url    = module.warehouse.warehouse_url
    iam_role_arn     = module.warehouse.iam_role_arn
    admin_secret_arn = module.warehouse.admin_secret_arn
    region           = var.region
    refresh_time     = var.refresh_time
    refresh_timezone = var.refresh_timezone
  })
  tags = merge(local.tags, { Name = var.name })
}

resource "aws_volume_attachment" "msd" {
  device_name = "/dev/sdf"
  volume_id   = aws_ebs_volume.msd.id
  instance_id = aws_instance.pipeline.id
}

output "staging_root" {
  value       = module.staging.staging_root
  description = "MUSIC_ETL_STAGING_ROOT"
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

output "instance_id" {
  value       = aws_instance.pipeline.id
  description = "For SSM: aws ssm start-session --target <id> (port forward 8082 for the visualiser)"
}
