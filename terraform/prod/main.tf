# Production: staging bucket, Redshift Serverless, a scheduler host and a group of workers.
#
# The scheduler host ("pipeline") runs luigid under systemd (state on disk, [resources] caps from
# luigi.cfg and config/prod.cfg), reads the public MSD snapshot (an EBS volume made from it,
# mounted at /mnt/snap), and runs the daily refresh timer. luigid listens on the VPC for the
# workers only (reach its visualiser through an SSM port forward).
# The workers (worker_count instances of worker_instance_type, an autoscaling group of fixed size)
# run `luigi --module pipeline RunAll --workers N` against it under systemd, reading the MSD from
# S3 (msd_s3_uri) or from a volume each makes from the snapshot.

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

variable "worker_count" {
  type        = number
  default     = 2
  description = "Worker instances running RunAll against the scheduler host's luigid (0: the scheduler host alone)"
  validation {
    condition     = var.worker_count >= 0 && var.worker_count <= 50
    error_message = "worker_count must be between 0 and 50."
  }
}

variable "worker_instance_type" {
  type        = string
  default     = "c6i.large"
  description = "Instance type of the workers (extraction is one core per Luigi worker process)"
}

variable "worker_processes" {
  type        = number
  default     = 2
  description = "Luigi worker processes per worker instance (--workers N); one per vCPU"
}

variable "msd_s3_uri" {
  type        = string
  default     = ""
  description = "s3://bucket/prefix of your MSD copy (A/, B/, … or data/ below it); empty: each worker reads a volume made from msd_snapshot_id"
  validation {
    condition     = var.msd_s3_uri == "" || can(regex("^s3://[a-z0-9.-]+(/.*)?$", var.msd_s3_uri))
    error_message = "msd_s3_uri must be empty or s3://bucket/prefix."
  }
}

variable "repository_url" {
  type        = string
  description = "Git URL the instance clones the project from"
}

locals {
  tags           = { project = "music-etl", environment = "prod" }
  staging_prefix = "staging"
  msd_path       = trimprefix(var.msd_s3_uri, "s3://")
  msd_bucket     = split("/", local.msd_path)[0]
  msd_prefix     = trim(substr(local.msd_path, length(local.msd_bucket), -1), "/")
  luigid_port    = 8082
  # Where the workers read the MSD: the S3 copy, else the volume each makes from the snapshot.
  worker_msd_root = var.msd_s3_uri == "" ? "/mnt/snap/data" : var.msd_s3_uri
}

module "staging" {
  source         = "../modules/staging"
  bucket_name    = var.bucket_name
  staging_prefix = local.staging_prefix
  tags           = local.tags
}

resource "aws_security_group" "instance" {
  name        = "${var.name}-instance"
  description = "Scheduler host: SSH from one network; luigid from the workers only"
  vpc_id      = var.vpc_id
  ingress {
    description = "SSH from the operators' network"
    from_port   = 22
    to_port     = 22
    protocol    = "tcp"
    cidr_blocks = [var.ssh_cidr]
  }
  ingress {
    description     = "luigid from the workers"
    from_port       = local.luigid_port
    to_port         = local.luigid_port
    protocol        = "tcp"
    security_groups = [aws_security_group.worker.id]
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

resource "aws_security_group" "worker" {
  name        = "${var.name}-worker"
  description = "Workers: no ingress (SSM only); out to the APIs, S3, Redshift and luigid"
  vpc_id      = var.vpc_id
  egress {
    description = "HTTPS out: Spotify, Deezer, S3, package registries, SSM"
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"] #checkov:skip=CKV_AWS_382:the workers must reach Spotify's and Deezer's APIs and package registries on the internet
  }
  egress {
    description = "Redshift inside the VPC"
    from_port   = 5439
    to_port     = 5439
    protocol    = "tcp"
    cidr_blocks = [data.aws_vpc.this.cidr_block]
  }
  egress {
    description = "luigid on the scheduler host"
    from_port   = local.luigid_port
    to_port     = local.luigid_port
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
    description     = "Redshift from the scheduler host and the workers"
    from_port       = 5439
    to_port         = 5439
    protocol        = "tcp"
    security_groups = [aws_security_group.instance.id, aws_security_group.worker.id]
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
    # Answers are written and read, never deleted by the pipeline (make forget-answers is a person's act).
    sid       = "ReadWriteAnswers"
    actions   = ["s3:GetObject", "s3:PutObject"]
    resources = ["${module.staging.bucket_arn}/${module.staging.answers_prefix}/*"]
  }
  statement {
    sid       = "ReadWarehousePassword"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [module.warehouse.admin_secret_arn]
  }
  dynamic "statement" {
    for_each = var.msd_s3_uri == "" ? [] : [1]
    content {
      sid       = "ListMsd"
      actions   = ["s3:ListBucket"]
      resources = ["arn:aws:s3:::${local.msd_bucket}"]
      condition {
        test     = "StringLike"
        variable = "s3:prefix"
        values   = [local.msd_prefix == "" ? "*" : "${local.msd_prefix}/*"]
      }
    }
  }
  dynamic "statement" {
    for_each = var.msd_s3_uri == "" ? [] : [1]
    content {
      sid       = "ReadMsd"
      actions   = ["s3:GetObject"]
      resources = [local.msd_prefix == "" ? "arn:aws:s3:::${local.msd_bucket}/*" : "arn:aws:s3:::${local.msd_bucket}/${local.msd_prefix}/*"]
    }
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
    answers_root     = module.staging.answers_root
    warehouse_url    = module.warehouse.warehouse_url
    iam_role_arn     = module.warehouse.iam_role_arn
    admin_secret_arn = module.warehouse.admin_secret_arn
    region           = var.region
    refresh_time     = var.refresh_time
    refresh_timezone = var.refresh_timezone
  })
  tags = merge(local.tags, { Name = var.name })
}

resource "aws_launch_template" "worker" {
  name_prefix            = "${var.name}-worker-"
  image_id               = var.ami_id
  instance_type          = var.worker_instance_type
  key_name               = var.key_name
  vpc_security_group_ids = [aws_security_group.worker.id]
  ebs_optimized          = true
  iam_instance_profile {
    name = aws_iam_instance_profile.instance.name
  }
  monitoring {
    enabled = true
  }
  metadata_options {
    http_tokens   = "required" # IMDSv2 only
    http_endpoint = "enabled"
  }
  block_device_mappings {
    device_name = "/dev/xvda"
    ebs {
      volume_size = 50
      volume_type = "gp3"
      encrypted   = true
    }
  }
  # Without an S3 copy, each worker reads a volume of its own made from the public snapshot.
  dynamic "block_device_mappings" {
    for_each = var.msd_s3_uri == "" ? [1] : []
    content {
      device_name = "/dev/sdf"
      ebs {
        snapshot_id = var.msd_snapshot_id
        volume_type = "gp3"
        encrypted   = true
      }
    }
  }
  user_data = base64encode(templatefile("${path.module}/worker_user_data.sh.tftpl", {
    repository_url   = var.repository_url
    staging_root     = module.staging.staging_root
    answers_root     = module.staging.answers_root
    warehouse_url    = module.warehouse.warehouse_url
    iam_role_arn     = module.warehouse.iam_role_arn
    admin_secret_arn = module.warehouse.admin_secret_arn
    region           = var.region
    msd_root         = local.worker_msd_root
    mount_snapshot   = var.msd_s3_uri == "" ? "yes" : "no"
    scheduler_host   = aws_instance.pipeline.private_ip
    scheduler_port   = local.luigid_port
    worker_processes = var.worker_processes
  }))
  tag_specifications {
    resource_type = "instance"
    tags          = merge(local.tags, { Name = "${var.name}-worker" })
  }
  tags = local.tags
}

resource "aws_autoscaling_group" "worker" {
  name                = "${var.name}-workers"
  desired_capacity    = var.worker_count
  min_size            = var.worker_count
  max_size            = var.worker_count
  vpc_zone_identifier = [var.instance_subnet_id]
  health_check_type   = "EC2"
  launch_template {
    id      = aws_launch_template.worker.id
    version = aws_launch_template.worker.latest_version
  }
  dynamic "tag" {
    for_each = local.tags
    content {
      key                 = tag.key
      value               = tag.value
      propagate_at_launch = true
    }
  }
}

resource "aws_volume_attachment" "msd" {
  device_name = "/dev/sdf"
  volume_id   = aws_ebs_volume.msd.id
  instance_id = aws_instance.pipeline.id
}

output "answers_root" {
  value       = module.staging.answers_root
  description = "Value for [answers] root (MUSIC_ETL_ANSWERS_ROOT)"
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

output "scheduler_private_ip" {
  value       = aws_instance.pipeline.private_ip
  description = "luigid for the workers: --scheduler-host"
}

output "instance_id" {
  value       = aws_instance.pipeline.id
  description = "For SSM: aws ssm start-session --target <id> (port forward 8082 for the visualiser)"
}
