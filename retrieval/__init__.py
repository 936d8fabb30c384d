"""Hybrid passage retrieval: dense (sentence-transformers + FAISS) fused with BM25 (bm25s)."""
