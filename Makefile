# Music ETL. `make demo` and `make test` do all set-up on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

# Demo sample: a few thousand MSD-format tracks in five partitions.
DATA ?= data
SAMPLE_SONGS ?= 2000
SAMPLE_SEED ?= 7
SAMPLE_PARTITIONS ?= A/A,A/B,A/C,B/A,B/B
WORKERS ?= 2

.PHONY: setup-env test demo sample extract-msd-data status bench lint clean-data

setup-env: $(INSTALLED)

# Reinstalls when setup.py changes; the stamp keeps repeated `make test` fast.
$(INSTALLED): setup.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

test: setup-env
	$(BIN)/python -m pytest

lint: setup-env
	$(BIN)/ruff check pipeline tests bench

sample: setup-env
	$(BIN)/python -m pipeline.msd.sample --out $(DATA)/msd --songs $(SAMPLE_SONGS) --seed $(SAMPLE_SEED) \
		--partitions $(SAMPLE_PARTITIONS)

# The demo runs on the embedded default: the sample under data/msd, staging under data/staging,
# the DuckDB warehouse data/warehouse.duckdb, Spotify played by the sandbox (started and stopped by the demo).
DEMO_ENV := MUSIC_ETL_MSD_ROOT=$(DATA)/msd MUSIC_ETL_STAGING_ROOT=$(DATA)/staging \
	MUSIC_ETL_WAREHOUSE_URL=duckdb:///$(DATA)/warehouse.duckdb
SPOTIFY_MODE ?= development

demo: sample
	$(DEMO_ENV) $(BIN)/python -m pipeline.demo --mode $(SPOTIFY_MODE) --workers $(WORKERS)

# Extraction of every partition under [msd] root (luigi.cfg / MUSIC_ETL_MSD_ROOT).
extract-msd-data: setup-env
	$(BIN)/luigi --module pipeline ExtractAll --local-scheduler --workers $(WORKERS)
	$(BIN)/python -m pipeline.status

status: setup-env
	$(BIN)/python -m pipeline.status

# The commands BENCHMARKS.md reports (several minutes each; PostgreSQL on 127.0.0.1:5432 for bench/load.py).
bench: setup-env
	$(BIN)/python bench/extract.py --songs 2000 --seed 11 --rounds 3 --json var/bench/extract.json
	$(BIN)/python bench/enrich.py --songs 1000 --seed 11 --latency-ms 10 --json var/bench/enrich.json
	$(BIN)/python bench/load.py --songs 1000 --seed 11 --json var/bench/load.json

clean-data:
	rm -rf $(DATA)/staging $(DATA)/warehouse.duckdb
