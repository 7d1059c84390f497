"""Music ETL: the Million Song Dataset joined to today's music catalogs (one folder per source), as a Luigi pipeline."""

from setuptools import find_packages, setup

setup(
    name="music-etl",
    version="0.1.0",
    description="Luigi pipeline that joins the Million Song Dataset to today's music catalogs (Spotify, Deezer, …)",
    # GPL-3.0-or-later: the matcher and the MusicBrainz key import Unidecode (GPL-2.0-or-later), and the Apache-2.0
    # dependencies (Luigi, boto3, pyarrow, requests) combine with GPLv3, not GPLv2 (README, "Licence").
    license="GPL-3.0-or-later",
    license_files=["LICENSE"],
    classifiers=["License :: OSI Approved :: GNU General Public License v3 or later (GPLv3+)"],
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    packages=find_packages(include=["pipeline", "pipeline.*"]),
    # the real MSD subset names the sample generator's real-names mode draws from
    # each source's folder carries its DDL, view columns, dictionary and report template beside its code
    package_data={"pipeline.standins": ["data/*.txt", "data/*.md"], "pipeline.report": ["templates/*.j2"],
                  "pipeline.sources": ["*/*.sql", "*/*.md", "*/*.j2"]},
    python_requires=">=3.11,<3.14",
    install_requires=[
        # Luigi 3.8.1 is the version the tests verify (pipeline/scheduling.py relies on its scheduler's internals).
        "luigi==3.8.1",
        "h5py>=3.11,<4",
        "numpy>=1.26,<3",
        "boto3>=1.34,<2",
        "spotipy>=2.25,<3",
        "requests>=2.31,<3",
        "psycopg2-binary>=2.9,<3",
        "duckdb>=1.1,<3",
        # JSON Lines encoding on the extraction hot path (see pipeline/staging/jsonl.py)
        "orjson>=3.9,<4",
        # libdeflate: gzip for staged files and the MSD chunks' zlib, ~2x zlib's speed (see pipeline/msd/reader.py)
        "deflate>=0.9,<1",
        # matching: fuzzy title/artist similarity and ASCII folding of names
        "rapidfuzz>=3.6,<4",
        "Unidecode>=1.3,<2",
        # `python -m pipeline report`: figures drawn offline (inline SVG), the page laid out by a template
        "matplotlib>=3.8,<4",
        "Jinja2>=3.1,<4",
        # `python -m pipeline export`: Parquet with the data dictionary as column metadata
        "pyarrow>=15",
        # progress bars on a terminal (quiet when output is not one)
        "tqdm>=4.66,<5",
    ],
    extras_require={
        "dev": [
            "pytest>=8,<10",
            # the export test reads the files back the way researchers do; the product itself does not use it
            "pandas>=2.2,<4",
            # server mode gives tests a real HTTP S3 endpoint on 127.0.0.1
            "moto[server,s3]>=5.0,<6",
            # PyTables is the library that wrote the real MSD files: tests use it to prove
            # the generator's files read back the way the originals do.
            "tables>=3.9,<4",
            "ruff>=0.6",
            # reads Spotify's OpenAPI file to check the sandbox's response shapes
            "pyyaml>=6",
            # parses the generated Redshift SQL, which no local server can run
            "sqlglot>=25",
            # parses terraform/ in the tests (no AWS needed)
            "python-hcl2>=7",
            # the export test reads the Parquet files back with a second engine
            "polars>=1",
            # make test runs the suite on both cores (most tests wait on sandboxes, moto and subprocesses)
            "pytest-xdist>=3.6,<4",
        ],
    },
    entry_points={
        "console_scripts": [
            "music-etl-sample=pipeline.standins.msd_sample:main",
        ],
    },
)
