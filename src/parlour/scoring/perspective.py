"""Perspective's AnalyzeComment, answered by the local model: existing Perspective clients point here unchanged.

Google's Perspective API stops serving at the end of 2026. Coral Talk, Commento++ and many in-house tools speak its
JSON; this module reads that request and writes that response (attribute names, summary and span scores, errors in
Google's format), scored by whatever Scorer the server runs. Nothing here knows HTTP: the view passes the raw body.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from starlette.responses import Response

from parlour.errors import google_error
from parlour.scoring.protocol import Scorer, Scores
from parlour.scoring.thresholds import CATEGORIES

# The languages the local model was trained and evaluated on; Perspective refuses a language an attribute lacks.
SUPPORTED_LANGUAGES = ("en",)
# Perspective's own limit on comment.text (20 KB).
MAX_TEXT_BYTES = 20_480


class PerspectiveError(Exception):
    """An error as Google APIs report it: {"error": {"code", "message", "status"}}."""

    def __init__(self, code: int, status: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.status = status
        self.message = message

    def response(self) -> Response:
        return google_error(self.code, self.status, self.message)


def invalid(message: str) -> PerspectiveError:
    return PerspectiveError(400, "INVALID_ARGUMENT", message)


class _Lenient(BaseModel):
    # Perspective accepts fields this server does not use (sessionId, communityId, context…): ignore, not refuse.
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    @model_validator(mode="before")
    @classmethod
    def _null_is_the_default(cls, data: Any) -> Any:
        # Google's JSON mapping reads an explicit null as the field's default value.
        return {k: v for k, v in data.items() if v is not None} if isinstance(data, dict) else data


class TextEntry(_Lenient):
    text: str
    type: Literal["PLAIN_TEXT"] = "PLAIN_TEXT"


class AttributeParameters(_Lenient):
    score_type: Literal["PROBABILITY"] = Field("PROBABILITY", alias="scoreType")
    score_threshold: float = Field(0.0, alias="scoreThreshold", ge=0, le=1)


class AnalyzeRequest(_Lenient):
    comment: TextEntry
    requested_attributes: dict[str, AttributeParameters] = Field(alias="requestedAttributes")
    languages: list[str] = Field(default_factory=list)
    span_annotations: bool = Field(False, alias="spanAnnotations")
    do_not_store: bool = Field(False, alias="doNotStore")  # Parlour stores nothing from this endpoint anyway
    client_token: str | None = Field(None, alias="clientToken", max_length=1000)

    @field_validator("requested_attributes", mode="before")
    @classmethod
    def _null_parameters_are_defaults(cls, value: Any) -> Any:
        return {k: ({} if v is None else v) for k, v in value.items()} if isinstance(value, dict) else value


@dataclass(frozen=True)
class Analysis:
    """What the response needs: the scores, and the request's choices."""

    request: AnalyzeRequest
    scores: Scores
    languages: list[str]


def parse(body: bytes) -> AnalyzeRequest:
    """The request, or the error Perspective would give for it."""
    # The text's length is checked once decoded: a client that escapes "é" as \u00e9 sends six bytes for two.
    # The request body as a whole is bounded before it is read (max_request_bytes).
    try:
        request = AnalyzeRequest.model_validate_json(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "request"
        raise invalid(f"Invalid JSON payload received. {where}: {first['msg']}") from exc
    if not request.comment.text.strip():
        raise invalid("Comment must be non-empty.")
    if len(request.comment.text.encode()) > MAX_TEXT_BYTES:
        raise invalid(f"Comment text too long: at most {MAX_TEXT_BYTES} bytes.")
    if not request.requested_attributes:
        raise invalid("No requested attributes: ask for at least one, e.g. TOXICITY.")
    return request


def analyze(*, scorer: Scorer, request: AnalyzeRequest) -> Analysis:
    unknown = sorted(set(request.requested_attributes) - set(CATEGORIES))
    if unknown:
        raise invalid(f"Unknown attribute: {unknown[0]}. Supported: {', '.join(CATEGORIES)}.")
    languages = [language.lower().split("-")[0] for language in request.languages] or list(SUPPORTED_LANGUAGES)
    unsupported = [language for language in languages if language not in SUPPORTED_LANGUAGES]
    if unsupported:
        attribute = next(iter(request.requested_attributes))
        raise invalid(f"Attribute {attribute} does not support request languages: {', '.join(unsupported)}")
    return Analysis(request, scorer.score(request.comment.text), languages)


def response_body(analysis: Analysis) -> dict[str, Any]:
    request, scores = analysis.request, analysis.scores
    attribute_scores: dict[str, Any] = {}
    for name, parameters in request.requested_attributes.items():
        value = round(float(scores.categories.get(name, 0.0)), 6)
        if value < parameters.score_threshold:
            continue  # as Perspective does: attributes under their threshold are left out
        entry: dict[str, Any] = {"summaryScore": _score(value)}
        if request.span_annotations:
            entry["spanScores"] = _span_scores(scores, name, value, len(request.comment.text))
        attribute_scores[name] = entry
    body: dict[str, Any] = {"attributeScores": attribute_scores, "languages": analysis.languages}
    if request.client_token is not None:
        body["clientToken"] = request.client_token
    return body


def _span_scores(scores: Scores, name: str, value: float, length: int) -> list[dict[str, Any]]:
    # The model explains a category by the words that drove it; each of those spans carries the category's
    # score. With no such words, the whole text is one span, as Perspective answers for a single sentence.
    spans = scores.spans.get(name) or []
    if not spans:
        return [{"begin": 0, "end": length, "score": _score(value)}]
    return [{"begin": span.start, "end": span.end, "score": _score(value)} for span in spans]


def _score(value: float) -> dict[str, Any]:
    return {"value": value, "type": "PROBABILITY"}
