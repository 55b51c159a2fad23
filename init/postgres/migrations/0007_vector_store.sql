-- Vector search (seed §1) with pgvector: collections of embeddings, searched by cosine distance
-- through an HNSW index:
--   SELECT external_id, embedding <=> $1 AS distance FROM vector_store.embeddings
--   WHERE collection_id = $2 ORDER BY embedding <=> $1 LIMIT 10;
--
-- Dimension 768: the output size of the common open text-embedding models (BERT-base family,
-- sentence-transformers all-mpnet-base-v2, multilingual-e5-base, nomic-embed-text, the default
-- text2vec-transformers models Weaviate runs). A column of a fixed dimension is what an HNSW index
-- needs, and 768 stays well under pgvector's 2000-dimension limit for indexed `vector` columns
-- (3 KB a row). A model of another dimension needs a new migration (another table, or a column
-- `vector(N)` with its own HNSW index), never an edit of this one: collections.dimension records it.
CREATE SCHEMA vector_store;
COMMENT ON SCHEMA vector_store IS 'Embeddings for similarity search (pgvector, HNSW, cosine distance).';

CREATE TABLE vector_store.collections (
  id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name            text NOT NULL UNIQUE CHECK (name ~ '^[a-z0-9][a-z0-9._-]{0,127}$'),
  description     text,
  -- The model that made the embeddings: vectors of different models are not comparable.
  embedding_model text NOT NULL,
  dimension       integer NOT NULL DEFAULT 768 CHECK (dimension = 768),
  distance        text NOT NULL DEFAULT 'cosine' CHECK (distance = 'cosine'),
  -- The model version that produced the vectors, when it is in the registry.
  model_version_id bigint REFERENCES model_registry.model_versions (id) ON DELETE SET NULL,
  metadata        jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX collections_model_version_id_idx ON vector_store.collections (model_version_id)
  WHERE model_version_id IS NOT NULL;
CREATE TRIGGER collections_touch_updated_at BEFORE UPDATE ON vector_store.collections
  FOR EACH ROW EXECUTE FUNCTION platform.touch_updated_at();

CREATE TABLE vector_store.embeddings (
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  collection_id bigint NOT NULL REFERENCES vector_store.collections (id) ON DELETE CASCADE,
  -- The caller's id of the embedded thing (document chunk, image), unique in its collection.
  external_id   text NOT NULL,
  content       text,
  metadata      jsonb NOT NULL DEFAULT '{}'::jsonb,
  embedding     public.vector(768) NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  UNIQUE (collection_id, external_id)
);
-- Approximate nearest neighbours by cosine distance (the `<=>` operator). m and ef_construction are
-- pgvector's defaults, written out; raise `SET hnsw.ef_search` per query for better recall.
CREATE INDEX embeddings_embedding_hnsw_idx ON vector_store.embeddings
  USING hnsw (embedding public.vector_cosine_ops) WITH (m = 16, ef_construction = 64);
-- Metadata filters (`metadata @> '{"lang": "en"}'`).
CREATE INDEX embeddings_metadata_idx ON vector_store.embeddings USING gin (metadata jsonb_path_ops);
CREATE TRIGGER embeddings_touch_updated_at BEFORE UPDATE ON vector_store.embeddings
  FOR EACH ROW EXECUTE FUNCTION platform.touch_updated_at();
