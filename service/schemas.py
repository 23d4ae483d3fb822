"""Request and response models: they make the OpenAPI schema say what the
endpoints take and return (records are described, not re-validated, on the way
out: the library builds them)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Script = Literal["original", "simplified", "traditional"]


class Document(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(..., min_length=1, max_length=512, description="names the document in sources[].file")
    text: str = Field(..., description="the raw text (already decoded)")
    meta: dict[str, Any] | None = Field(None, description="passed through to the record's meta")


class DocumentsRequest(BaseModel):
    """JSON alternative to a multipart upload: the JSONL contract's records."""

    model_config = ConfigDict(extra="forbid")
    documents: list[Document] = Field(..., min_length=1)


class SourceModel(BaseModel):
    file: str
    article: int
    start: int
    end: int
    title: str
    similarity: float


class SpanModel(BaseModel):
    file: str
    start: int
    end: int
    part: bool = Field(False, description="present (true) when the span holds only part of the paragraph")


class ParagraphModel(BaseModel):
    start: int
    end: int
    sources: list[SpanModel]


class RemovalModel(BaseModel):
    file: str
    start: int
    end: int
    text: str
    reason: str
    rule: str
    replacement: str | None = None


class ArticleRecord(BaseModel):
    """A canonical article record (docs/output-format.md)."""

    id: str
    title: str
    meta: dict[str, Any]
    text: str
    sources: list[SourceModel]
    paragraphs: list[ParagraphModel]
    removed: list[RemovalModel]
    repairs: list[dict[str, Any]]
    cluster: str | None = None


class CleanResponse(BaseModel):
    articles: list[ArticleRecord]
    report: dict[str, Any] = Field(..., description="report.json of the run")


class DocumentOutcome(BaseModel):
    name: str = Field(..., description="the name the document is stored (and cited) under")
    status: Literal["added", "duplicate", "rejected"]
    sha256: str
    stored_as: str | None = Field(None, description="for a duplicate: the stored document with the same content")
    uploaded_as: str | None = Field(None, description="the upload's own name when it had to be renamed")


class IngestResponse(BaseModel):
    collection: str
    created: list[ArticleRecord] = Field(..., description="records that did not exist before")
    updated: list[ArticleRecord] = Field(..., description="stored records that gained sources (ids kept)")
    merged: list[str] = Field(..., description="ids of stored records merged into an updated one")
    documents: list[DocumentOutcome]
    report: dict[str, Any]


class CollectionInfo(BaseModel):
    name: str
    documents: int
    bytes: int
    records: int
    learned_rules: int
    created: float
    updated: float
    version: int


class CollectionList(BaseModel):
    collections: list[CollectionInfo]


class ArticleSummary(BaseModel):
    id: str
    title: str
    chars: int
    sources: int
    created: float
    updated: float


class ArticlePage(BaseModel):
    collection: str
    articles: list[ArticleSummary]
    next_cursor: str | None = Field(None, description="pass as ?cursor= for the next page; null on the last")


class Deleted(BaseModel):
    deleted: str


class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorBody(BaseModel):
    error: ErrorDetail


class Health(BaseModel):
    status: str


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": desc}
    for status, desc in {
        400: "malformed request",
        401: "missing or wrong API key",
        404: "unknown collection, article or route",
        413: "body too large or too many files",
        415: "unsupported media type",
        422: "invalid request or unprocessable file",
    }.items()
}

UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "files": {
                            "type": "array",
                            "items": {"type": "string", "format": "binary"},
                            "description": ".txt/.html files (any encoding) or .zip/.tar/.tar.gz archives",
                        }
                    },
                    "required": ["files"],
                }
            },
            "application/json": {"schema": {"$ref": "#/components/schemas/DocumentsRequest"}},
        },
    }
}
