# Music ETL. `make demo` and `make test` do all set-up on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

# Demo sample: a few thousand MSD-format tracks in five partitions, with real MSD artist and title
# strings (SAMPLE_NAMES=synthetic for made-up ones).
DATA ?= data
SAMPLE_SONGS ?= 2000
SAMPLE_SEED ?= 7
SAMPLE_NAMES ?= real
SAMPLE_PARTITIONS ?= A/A,A/B,A/C,B/A,B/B
WORKERS ?= 2

SCHEDULER_PORT ?= 8082
SCHEDULER_URL ?= http://127.0.0.1:$(SCHEDULER_PORT)

.PHONY: setup-env test test-fast config-reference forget-answers demo refresh-demo sample extract-msd-data status report export bench lint clean-data forget-spotify-answers forget-deezer-answers scheduler scheduler-stop \
	run-etl-dev run-etl-prod download-msd-subset prod-config refresh refresh-prod bench-scale

setup-env: $(INSTALLED)

# Reinstalls when setup.py changes; the stamp keeps repeated `make test` fast.
$(INSTALLED): setup.py
	@echo "installing the project's packages into $(VENV) (once; a minute or more, longer where pip must download them)"
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	@# pip's own lines (one per package) are the progress of this minute; no progress bars in logs. Its warnings
	@# (a machine's index settings, setuptools' notes on editable installs) go to a file, shown if the install fails.
	set -o pipefail; $(BIN)/python -m pip install --progress-bar off -e '.[dev]' 2>$(VENV)/pip-install.log \
		| { grep --line-buffered -E '^(Collecting|Installing|Successfully)' || true; } \
		|| { cat $(VENV)/pip-install.log >&2; echo "pip install failed: its messages are above and in $(VENV)/pip-install.log" >&2; exit 1; }
	touch $@

# checkov (terraform/ policy checks) lives in its own environment: its pins clash with the project's.
CHECKOV := .venv-checkov/bin/checkov
$(CHECKOV):
	$(PYTHON) -m venv .venv-checkov
	.venv-checkov/bin/python -m pip install --quiet --upgrade pip
	.venv-checkov/bin/python -m pip install --quiet 'checkov>=3.2,<4'

# Tests run on TEST_WORKERS processes (pytest-xdist): most of their time is spent waiting on sandboxes,
# moto, PostgreSQL and subprocesses. TEST_WORKERS=0 runs them in this one process.
TEST_WORKERS ?= 2

# The whole suite: what .ci/run and the README run (about 5 minutes on 2 cores: README, "Tests and benchmarks").
test: setup-env $(CHECKOV)
	$(BIN)/python -m pytest -n $(TEST_WORKERS)

# To run every few minutes while working (under a minute on 2 cores): everything but the tests marked
# slow (subprocesses, luigid, whole demo and warehouse runs, big samples).
test-fast: setup-env
	$(BIN)/python -m pytest -n $(TEST_WORKERS) -m "not slow" -q

# docs/CONFIGURATION.md from pipeline/config.py and the sources' settings.py (a test fails when they differ).
config-reference: setup-env
	$(BIN)/python -m pipeline.config_reference --write

lint: setup-env
	$(BIN)/ruff check pipeline tests bench

sample: setup-env
	$(BIN)/python -m pipeline.standins.msd_sample --out $(DATA)/msd --songs $(SAMPLE_SONGS) --seed $(SAMPLE_SEED) \
		--partitions $(SAMPLE_PARTITIONS) --names $(SAMPLE_NAMES)

# The demo runs on the embedded default: the sample under data/msd, staging under data/staging,
# the DuckDB warehouse data/warehouse.duckdb, every source played by its stand-in (started and stopped by the demo):
# the Spotify and Deezer sandboxes, the MusicBrainz canonical dump and Echo Nest profiles, the ListenBrainz sandbox.
DEMO_ENV := MUSIC_ETL_MSD_ROOT=$(DATA)/msd MUSIC_ETL_STAGING_ROOT=$(DATA)/staging \
	MUSIC_ETL_WAREHOUSE_URL=duckdb:///$(DATA)/warehouse.duckdb
SPOTIFY_MODE ?= development

demo: sample
	$(DEMO_ENV) $(BIN)/python -m pipeline.demo --mode $(SPOTIFY_MODE) --workers $(WORKERS)

# One more day of the daily refresh against the demo's warehouse (after make demo): the sandboxes started as the demo
# starts them, playing that day (ranks, popularity, fans and listens moved), DailyRefresh, the report written again.
# The day after the last one refreshed; the first time a week before today (pipeline/demo_refresh.py).
refresh-demo: setup-env
	$(DEMO_ENV) $(BIN)/python -m pipeline.demo_refresh --mode $(SPOTIFY_MODE) --workers $(WORKERS)

# Extraction of every partition under [msd] root (luigi.cfg / MUSIC_ETL_MSD_ROOT).
extract-msd-data: setup-env
	$(BIN)/python -m pipeline extract --workers $(WORKERS)
	$(BIN)/python -m pipeline status

# luigid in the background; state and logs under $(LUIGID_DIR) (the state is a cache: targets are the truth).
# "started" is said only once it answers; a luigid that died at once (a busy port) is reported with its log.
LUIGID_DIR ?= var/luigid
scheduler: setup-env
	@mkdir -p $(LUIGID_DIR)/log
	@if [ -f $(LUIGID_DIR)/luigid.pid ] && kill -0 $$(cat $(LUIGID_DIR)/luigid.pid) 2>/dev/null; then \
		echo "luigid already running (pid $$(cat $(LUIGID_DIR)/luigid.pid))"; \
	else \
		rm -f $(LUIGID_DIR)/luigid.pid; \
		nohup $(BIN)/luigid --address 127.0.0.1 --port $(SCHEDULER_PORT) --state-path $(LUIGID_DIR)/state.pickle \
			> $(LUIGID_DIR)/log/luigid.log 2>&1 & echo $$! > $(LUIGID_DIR)/luigid.pid; \
		if $(BIN)/python -m pipeline.luigid wait $(SCHEDULER_URL) $$(cat $(LUIGID_DIR)/luigid.pid); then \
			echo "luigid started (pid $$(cat $(LUIGID_DIR)/luigid.pid)), log $(LUIGID_DIR)/log/luigid.log"; \
			echo "visualiser: $(SCHEDULER_URL)"; \
		else \
			kill $$(cat $(LUIGID_DIR)/luigid.pid) 2>/dev/null; rm -f $(LUIGID_DIR)/luigid.pid; \
			echo "luigid did not answer at $(SCHEDULER_URL) (port $(SCHEDULER_PORT) busy? set SCHEDULER_PORT); its log:" >&2; \
			tail -n 5 $(LUIGID_DIR)/log/luigid.log >&2; exit 1; \
		fi; \
	fi

scheduler-stop:
	@if [ ! -f $(LUIGID_DIR)/luigid.pid ]; then echo "luigid is not running (no $(LUIGID_DIR)/luigid.pid)"; \
	elif kill -0 $$(cat $(LUIGID_DIR)/luigid.pid) 2>/dev/null; then \
		kill $$(cat $(LUIGID_DIR)/luigid.pid) && rm -f $(LUIGID_DIR)/luigid.pid && echo "luigid stopped"; \
	else rm -f $(LUIGID_DIR)/luigid.pid; echo "luigid was not running; removed its stale pid file"; fi

# RunAll against luigid with WORKERS workers (make scheduler first). Spotify credentials from the environment.
run-etl-dev: setup-env
	$(BIN)/python -m pipeline run --scheduler-url $(SCHEDULER_URL) --workers $(WORKERS)

# The values config/prod.cfg refers to, from the applied Terraform (no secrets).
prod-config: setup-env
	terraform -chdir=terraform/prod output -json | $(BIN)/python -m pipeline.prod_env > config/prod.env
	@echo "wrote config/prod.env"

# The same with the production configuration (S3 staging, Redshift): config/prod.cfg on top of luigi.cfg,
# its values from config/prod.env (make prod-config), the Redshift password from PGPASSWORD.
run-etl-prod: setup-env
	@test -f config/prod.env || { echo "config/prod.env missing: run make prod-config" >&2; exit 2; }
	set -a && . config/prod.env && set +a && \
		LUIGI_CONFIG_PATH=config/prod.cfg $(BIN)/python -m pipeline run --scheduler-url $(SCHEDULER_URL) --workers $(WORKERS)

# The daily refresh (DailyRefresh through RangeDaily): today's snapshot in [refresh] timezone, missed days caught up.
refresh: setup-env
	$(BIN)/python -m pipeline refresh

# The same in production, against luigid (the systemd timer the Terraform user data installs runs this at 07:00).
refresh-prod: setup-env
	@test -f config/prod.env || { echo "config/prod.env missing: run make prod-config" >&2; exit 2; }
	set -a && . config/prod.env && set +a && \
		LUIGI_CONFIG_PATH=config/prod.cfg $(BIN)/python -m pipeline refresh --scheduler-url $(SCHEDULER_URL) --workers $(WORKERS)

# The real 10,000-track subset (1.8 GB) into $(DATA)/; resumes an interrupted download, refuses to redo a finished one.
download-msd-subset: setup-env
	$(BIN)/python -m pipeline.msd.download --dest $(DATA) $(if $(MSD_SUBSET_SHA256),--sha256 $(MSD_SUBSET_SHA256))

# After `make demo`, the settings its sources ran with (data/demo.env: the four sources, the stand-in dumps), so
# that status, report and export see the demo's data as it made it.
DEMO_SETTINGS = set -a; [ ! -f $(DATA)/demo.env ] || . $(DATA)/demo.env; set +a;

status: setup-env
	$(DEMO_SETTINGS) $(BIN)/python -m pipeline status

# The run report (one HTML page) and the warehouse as files, for the configured warehouse.
report: setup-env
	$(DEMO_SETTINGS) $(BIN)/python -m pipeline report --out $(DATA)/report.html

EXPORT_FORMAT ?= parquet
export: setup-env
	$(DEMO_SETTINGS) $(BIN)/python -m pipeline export --format $(EXPORT_FORMAT) --out $(DATA)/export

# The commands BENCHMARKS.md reports (several minutes each; PostgreSQL on 127.0.0.1:5432 for bench/load.py).
bench: setup-env
	$(BIN)/python bench/extract.py --songs 2000 --seed 11 --rounds 3 --json var/bench/extract.json
	$(BIN)/python bench/enrich.py --songs 1000 --seed 11 --latency-ms 10 --json var/bench/enrich.json
	$(BIN)/python bench/load.py --songs 1000 --seed 11 --json var/bench/load.json
	$(BIN)/python bench/load_growth.py --copies 50 --json var/bench/load_growth.json
	$(BIN)/python bench/orchestration.py --partitions 676 --json var/bench/orchestration.json
	$(BIN)/python bench/daily.py --partitions 676 --songs-per-partition 2 --json var/bench/daily.json
	$(BIN)/python bench/extract_s3.py --songs 2000 --seed 11 --json var/bench/extract_s3.json

# The scale simulation (about 45 minutes on 2 cores): 676 partitions through luigid with 1, 2 and 4 worker processes.
bench-scale: setup-env
	$(BIN)/python bench/scale.py --partitions 676 --songs-per-partition 1 --workers 1,2,4 --json var/bench/scale.json

# Staged files and the DuckDB warehouse go; the Spotify answers (answers/, and spotify/*/*/journal/ of
# earlier versions) stay: they were paid for, and the next run rebuilds everything from them without asking again.
clean-data:
	@if [ -d $(DATA)/staging ]; then \
		find $(DATA)/staging -type f -not -path '*/journal/*' -not -path '$(DATA)/staging/answers/*' -delete; \
		find $(DATA)/staging -mindepth 1 -type d -empty -delete; \
	fi
	rm -f $(DATA)/warehouse.duckdb $(DATA)/warehouse.duckdb.wal $(DATA)/demo.env
	@echo "removed staged files and $(DATA)/warehouse.duckdb; kept every source's answers under $(DATA)/answers/ (and $(DATA)/staging/answers/ of earlier versions; make forget-answers SOURCE=<name> removes one source's)"

# Only by name: answers cost quota or hours of a source's rate to get again.
forget-answers:
	@test -n "$(SOURCE)" || { echo "forget-answers: name the source whose answers to delete: make forget-answers SOURCE=<name> (python -m pipeline status lists them)"; exit 2; }
	rm -rf $(DATA)/answers/$(SOURCE) $(DATA)/staging/answers/$(SOURCE) $(DATA)/staging/$(SOURCE)/*/*/journal

forget-spotify-answers:
	$(MAKE) forget-answers SOURCE=spotify

forget-deezer-answers:
	$(MAKE) forget-answers SOURCE=deezer
