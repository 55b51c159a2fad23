-- pgvector, for the vector_store schema (0007).
--
-- The provider checks pg_available_extensions before it runs this migration and stops with an error
-- that names the image setting (ai-platform-data:postgres.images.postgresql) when the server's image
-- lacks the extension: the Bitnami PostgreSQL image does not ship pgvector (REFERENCE §3).
-- `vector` is not a trusted extension: creating it needs a superuser (rds_superuser on RDS,
-- azure_pg_admin on Azure, with the extension allow-listed there).
-- IF NOT EXISTS: a managed database may have it installed already.
CREATE EXTENSION IF NOT EXISTS vector WITH SCHEMA public;
