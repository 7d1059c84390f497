"""terraform/ checked without AWS: every file parses, variables are declared and used, providers
pinned, nothing public, no secret in variables or outputs; and the prod environment file."""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import subprocess

import hcl2
import pytest

from pipeline.prod_env import render
from tests.conftest import PROJECT_ROOT

TERRAFORM = os.path.join(PROJECT_ROOT, "terraform")
FOLDERS = sorted({os.path.dirname(p) for p in glob.glob(os.path.join(TERRAFORM, "**", "*.tf"), recursive=True)})


def load(folder: str) -> tuple[dict, str]:
    """The folder's .tf files parsed (merged by block kind) and their text (for references)."""
    merged: dict[str, list] = {}
    text = ""
    for path in sorted(glob.glob(os.path.join(folder, "*.tf"))):
        with open(path, encoding="utf-8") as fh:
            source = fh.read()
        text += source
        for kind, blocks in _plain(hcl2.loads(source)).items():
            merged.setdefault(kind, []).extend(blocks if isinstance(blocks, list) else [blocks])
    return merged, text


def _plain(value):
    """python-hcl2 8 keeps HCL's quotes on labels and strings, and adds bookkeeping keys: drop both."""
    if isinstance(value, dict):
        return {_plain(k): _plain(v) for k, v in value.items() if k not in ("__is_block__", "__comments__")}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def resources(parsed: dict, kind: str) -> list[dict]:
    return [body for block in parsed.get("resource", []) for k, named in block.items() if k == kind
            for body in named.values()]


def test_the_expected_roots_and_modules_exist():
    names = {os.path.relpath(f, TERRAFORM) for f in FOLDERS}
    assert {"dev", "prod", "modules/staging", "modules/warehouse"} <= names


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda f: os.path.relpath(f, TERRAFORM))
def test_variables_are_declared_used_and_described(folder):
    parsed, text = load(folder)
    declared = {name for block in parsed.get("variable", []) for name in block}
    templates = "".join(open(p, encoding="utf-8").read() for p in glob.glob(os.path.join(folder, "*.tftpl")))
    referenced = set(re.findall(r"\bvar\.(\w+)", text + templates))
    assert referenced <= declared, f"undeclared: {referenced - declared}"
    assert declared <= referenced, f"declared but unused: {declared - referenced}"
    for block in parsed.get("variable", []):
        for name, body in block.items():
            assert body.get("description"), f"variable {name} has no description"
            assert "password" not in name and "secret" not in name, f"variable {name} would hold a secret in clear"


@pytest.mark.parametrize("root", ["dev", "prod"])
def test_roots_pin_terraform_and_the_aws_provider(root):
    parsed, _ = load(os.path.join(TERRAFORM, root))
    terraform = parsed["terraform"][0]
    assert terraform["required_version"]
    aws = terraform["required_providers"][0]["aws"]
    assert re.fullmatch(r"~> \d+\.\d+", aws["version"])
    outputs = {name for block in parsed["output"] for name in block}
    assert {"staging_root", "answers_root", "redshift_iam_role", "warehouse_url", "admin_secret_arn"} <= outputs


def test_nothing_is_public_and_nothing_secret_is_output():
    for folder in FOLDERS:
        parsed, text = load(folder)
        for group in resources(parsed, "aws_security_group"):
            for rule in group.get("ingress", []):
                assert "0.0.0.0/0" not in json.dumps(rule), f"{folder}: open ingress {rule}"
        for workgroup in resources(parsed, "aws_redshiftserverless_workgroup"):
            assert workgroup["publicly_accessible"] is False
        for namespace in resources(parsed, "aws_redshiftserverless_namespace"):
            assert namespace["manage_admin_password"] is True and "admin_user_password" not in namespace
        for block in resources(parsed, "aws_s3_bucket_public_access_block"):
            assert all(block[k] is True for k in ("block_public_acls", "block_public_policy", "ignore_public_acls",
                                                 "restrict_public_buckets"))
        for instance in resources(parsed, "aws_instance"):
            assert instance["metadata_options"][0]["http_tokens"] == "required"
        for block in parsed.get("output", []):
            for name, body in block.items():
                assert "password" not in name and body.get("description"), name
        assert not re.search(r"(?i)(aws_secret_access_key|aws_access_key_id)\s*=", text)


def test_the_copy_role_reads_only_the_staging_prefix():
    parsed, text = load(os.path.join(TERRAFORM, "modules", "warehouse"))
    assert '"s3:GetObject"' in text and "s3:PutObject" not in text and "s3:*" not in text
    assert "${var.staging_bucket_arn}/${var.staging_prefix}/*" in text


def test_prod_environment_file_from_terraform_output():
    outputs = {"staging_root": {"value": "s3://bucket/staging"}, "answers_root": {"value": "s3://bucket/answers"},
               "warehouse_url": {"value": "redshift://etl_admin@wg.123.us-east-1.redshift-serverless.amazonaws.com:5439/music"},
               "redshift_iam_role": {"value": "arn:aws:iam::123456789012:role/music-etl-prod-redshift-copy"},
               "admin_secret_arn": {"value": "arn:aws:secretsmanager:us-east-1:123456789012:secret:rs-admin"}}
    text = render(outputs)
    assert "export MUSIC_ETL_STAGING_ROOT=s3://bucket/staging" in text
    assert "export MUSIC_ETL_ANSWERS_ROOT=s3://bucket/answers" in text  # beside the staging prefix, not in it
    assert "export MUSIC_ETL_REDSHIFT_IAM_ROLE=arn:aws:iam::123456789012:role/music-etl-prod-redshift-copy" in text
    assert "PGPASSWORD" in text and "export PGPASSWORD" not in text  # how to read it, never the value
    with pytest.raises(SystemExit, match="lacks warehouse_url"):
        render({k: v for k, v in outputs.items() if k != "warehouse_url"})


@pytest.mark.slow
def test_checkov_finds_nothing_failed_and_every_skip_says_why():
    checkov = os.path.join(PROJECT_ROOT, ".venv-checkov", "bin", "checkov")
    checkov = checkov if os.path.exists(checkov) else shutil.which("checkov")
    if checkov is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true but checkov is not installed (make test installs it into .venv-checkov)")
        pytest.skip("checkov not installed: `make test` installs it into .venv-checkov")
    run = subprocess.run([checkov, "-d", TERRAFORM, "--framework", "terraform", "--output", "json", "--quiet"],
                         capture_output=True, text=True, timeout=600)
    report = json.loads(run.stdout)
    reports = report if isinstance(report, list) else [report]
    summary = reports[0]["summary"]
    failed = [f"{c['check_id']} {c['resource']} ({c['file_path']})" for r in reports for c in r["results"]["failed_checks"]]
    assert summary["failed"] == 0 and not failed, failed
    assert summary["passed"] > 50
    for path in glob.glob(os.path.join(TERRAFORM, "**", "*.tf"), recursive=True):
        for skip in re.findall(r"#checkov:skip=.*", open(path, encoding="utf-8").read()):
            assert re.fullmatch(r"#checkov:skip=CKV2?_AWS_\d+:.{20,}", skip), f"{path}: a skip without a reason: {skip}"


def test_the_warehouse_scales_for_many_analysts_under_a_usage_limit():
    parsed, _ = load(os.path.join(TERRAFORM, "modules", "warehouse"))
    workgroup = resources(parsed, "aws_redshiftserverless_workgroup")[0]
    assert workgroup["base_capacity"] == "${var.base_capacity}" and workgroup["max_capacity"] == "${var.max_capacity}"
    defaults = {name: body["default"] for block in parsed["variable"] for name, body in block.items() if "default" in body}
    assert defaults["base_capacity"] < defaults["max_capacity"]
    (limit,) = resources(parsed, "aws_redshiftserverless_usage_limit")
    assert limit["usage_type"] == "serverless-compute" and limit["resource_arn"].endswith("workgroup.this.arn}")
    assert defaults["usage_limit_breach_action"] in ("log", "emit-metric", "deactivate")
    prod, _ = load(os.path.join(TERRAFORM, "prod"))
    module = next(body for block in prod["module"] for name, body in block.items() if name == "warehouse")
    assert module["max_capacity"] == "${var.warehouse_max_capacity}"


def render_user_data(**values: str) -> str:
    """The prod user data as Terraform's templatefile renders it (``${name}`` substituted, ``$${`` unescaped)."""
    with open(os.path.join(TERRAFORM, "prod", "user_data.sh.tftpl"), encoding="utf-8") as fh:
        text = fh.read()
    return re.sub(r"(?<!\$)\$\{(\w+)\}", lambda m: values[m.group(1)], text).replace("$${", "${")


def test_the_daily_refresh_timer_starts_at_the_configured_local_time():
    text = render_user_data(repository_url="https://example.org/music-etl.git", staging_root="s3://bucket/staging",
                            answers_root="s3://bucket/answers",
                            warehouse_url="redshift://etl_admin@wg:5439/music", iam_role_arn="arn:aws:iam::1:role/r",
                            admin_secret_arn="arn:aws:secretsmanager:us-east-1:1:secret:rs", region="us-east-1",
                            refresh_time="07:00", refresh_timezone="Europe/Berlin")
    assert subprocess.run(["bash", "-n"], input=text, text=True).returncode == 0
    calendar = re.search(r"^OnCalendar=(.+)$", text, re.MULTILINE).group(1)
    assert calendar == "*-*-* 07:00:00 Europe/Berlin"
    if shutil.which("systemd-analyze"):
        assert subprocess.run(["systemd-analyze", "calendar", calendar], capture_output=True).returncode == 0
    assert "Persistent=true" in text and "exec make refresh-prod" in text
    assert "export MUSIC_ETL_REFRESH_TIMEZONE=Europe/Berlin" in text  # the days are named in the timer's zone
    # The password is read when the refresh starts, in a script bash does not expand at boot.
    assert "cat > /home/etl/music-etl-refresh.sh <<'SCRIPT'" in text and "PGPASSWORD=$(aws secretsmanager" in text
    parsed, _ = load(os.path.join(TERRAFORM, "prod"))
    variables = {name: body for v in parsed["variable"] for name, body in v.items()}
    assert variables["refresh_time"]["default"] == "07:00" and variables["refresh_timezone"]["default"] == "UTC"


def render_template(name: str, **values) -> str:
    with open(os.path.join(TERRAFORM, "prod", name), encoding="utf-8") as fh:
        text = fh.read()
    return re.sub(r"(?<!\$)\$\{(\w+)\}", lambda m: str(values[m.group(1)]), text).replace("$${", "${")


COMMON = {"repository_url": "https://example.org/music-etl.git", "staging_root": "s3://bucket/staging",
          "answers_root": "s3://bucket/answers",
          "warehouse_url": "redshift://etl_admin@wg:5439/music", "iam_role_arn": "arn:aws:iam::1:role/r",
          "admin_secret_arn": "arn:aws:secretsmanager:us-east-1:1:secret:rs", "region": "us-east-1"}


@pytest.mark.parametrize("msd_root, mount", [("s3://msd-copy/msd", "no"), ("/mnt/snap/data", "yes")])
def test_workers_run_runall_against_the_scheduler_hosts_luigid_under_systemd(msd_root, mount):
    text = render_template("worker_user_data.sh.tftpl", **COMMON, msd_root=msd_root, mount_snapshot=mount,
                           scheduler_host="10.0.1.5", scheduler_port=8082, worker_processes=2)
    assert subprocess.run(["bash", "-n"], input=text, text=True).returncode == 0
    assert f"export MUSIC_ETL_MSD_ROOT={msd_root}" in text
    assert "export MUSIC_ETL_ANSWERS_ROOT=s3://bucket/answers" in text  # every worker shares one answer store
    assert ".venv/bin/luigi --module pipeline RunAll --workers 2 \\\n  --scheduler-host 10.0.1.5 --scheduler-port 8082" in text
    assert "Restart=on-failure" in text and "systemctl enable --now music-etl-worker.service" in text
    parsed, _ = load(os.path.join(TERRAFORM, "prod"))
    (group,) = resources(parsed, "aws_autoscaling_group")
    assert group["desired_capacity"] == group["min_size"] == group["max_size"] == "${var.worker_count}"
    (template,) = resources(parsed, "aws_launch_template")
    assert template["instance_type"] == "${var.worker_instance_type}"


def test_the_scheduler_host_runs_luigid_under_systemd_with_state_on_disk_and_cluster_caps():
    text = render_user_data(**COMMON, refresh_time="07:00", refresh_timezone="UTC")
    unit = text[text.index("cat > /etc/systemd/system/luigid.service"):]
    assert "--state-path /var/lib/luigid/state.pickle" in unit and "StateDirectory=luigid" in unit
    assert "WorkingDirectory=/home/etl/music-etl" in unit  # where luigi.cfg's [resources] is read
    parsed, _ = load(os.path.join(TERRAFORM, "prod"))
    groups = {name: body for block in parsed["resource"] for kind, named in block.items()
              if kind == "aws_security_group" for name, body in named.items()}
    luigid_ingress = [i for i in groups["instance"]["ingress"] if i["from_port"] == "${local.luigid_port}"]
    assert luigid_ingress and luigid_ingress[0]["security_groups"] == ["${aws_security_group.worker.id}"]
    assert "ingress" not in groups["worker"]
    import configparser

    cfg = configparser.ConfigParser()
    cfg.read(os.path.join(PROJECT_ROOT, "luigi.cfg"))
    assert {"spotify_api", "deezer_api", "warehouse_load", "duckdb_warehouse"} <= set(cfg["resources"])
