"""Data sources for the local engine: loaders (CSV/Parquet, DuckDB files, PostgreSQL dumps) and the defog importer."""
