"""Files: metadata and versions, deduplicated contents, export, full-text search."""

from .chunking import CDCChunker, CDCParams, Chunker, FixedChunker, default_chunker
from .content import ContentStore, content_from_path
from .export import safe_relative_path
from .records import (
    INDEX_LIMIT,
    ContentStream,
    DedupStats,
    ExportResult,
    FileRecord,
    GCResult,
    StorageStats,
    VerifyResult,
    go_default_checksum,
    index_state,
)
from .search import (
    SearchHit,
    SearchResult,
    search_files,
    snippet_html,
    snippet_plain,
    snippet_spans,
    to_fts_query,
)
from .search_index import IndexCheck, IndexStatus, SearchIndex
from .store import FileStore

__all__ = [
    "INDEX_LIMIT", "CDCChunker", "CDCParams", "Chunker", "ContentStore", "ContentStream",
    "DedupStats", "ExportResult", "FileRecord", "FileStore", "FixedChunker",
    "GCResult", "IndexCheck", "IndexStatus", "SearchHit", "SearchIndex", "SearchResult",
    "StorageStats", "VerifyResult", "content_from_path", "default_chunker", "go_default_checksum", "index_state",
    "safe_relative_path", "search_files", "snippet_html", "snippet_plain", "snippet_spans",
    "to_fts_query",
]
