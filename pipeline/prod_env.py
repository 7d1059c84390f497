"""``terraform output -json`` → the environment file ``make run-etl-prod`` reads (``config/prod.env``).

    terraform -chdir=terraform/prod output -json | python -m pipeline.prod_env > config/prod.env

Only what ``config/prod.cfg`` refers to, none of it secret: the Redshift password stays in
Secrets Manager (its ARN is written as a comment, with the command that reads it at run time).
"""

from __future__ import annotations

import json
import shlex
import sys

FROM_OUTPUT = {
    "staging_root": "MUSIC_ETL_STAGING_ROOT",
    "answers_root": "MUSIC_ETL_ANSWERS_ROOT",
    "warehouse_url": "MUSIC_ETL_WAREHOUSE_URL",
    "redshift_iam_role": "MUSIC_ETL_REDSHIFT_IAM_ROLE",
}


def render(outputs: dict, msd_root: str = "/mnt/snap/data") -> str:
    missing = [name for name in FROM_OUTPUT if name not in outputs]
    if missing:
        raise SystemExit(f"terraform output lacks {', '.join(missing)}: run `terraform apply` in terraform/prod first")
    lines = ["# written by `make prod-config` from `terraform output -json`; no secrets in it",
             f"export MUSIC_ETL_MSD_ROOT={shlex.quote(msd_root)}"]
    lines += [f"export {env}={shlex.quote(str(outputs[name]['value']))}" for name, env in FROM_OUTPUT.items()]
    if "admin_secret_arn" in outputs:
        arn = outputs["admin_secret_arn"]["value"]
        lines.append(f"# PGPASSWORD at run time: aws secretsmanager get-secret-value --secret-id {arn} "
                     f"--query SecretString --output text | jq -r .password")
    return "\n".join(lines) + "\n"


def main() -> int:
    sys.stdout.write(render(json.load(sys.stdin)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
