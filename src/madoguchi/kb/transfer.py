"""Import and export files: a JSON list of objects, or CSV with the same column names."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from pydantic import ValidationError

from madoguchi.kb.models import Article
from madoguchi.kb.schemas import ArticleIn
from madoguchi.kernel.errors import InvalidInput

COLUMNS = ("id", "question", "answer", "language", "category", "title", "questions", "tags", "status")
LIST_SEPARATOR = " | "
MAX_ROWS = 50_000


def parse_rows(text: str, *, kind: str | None = None) -> list[dict[str, Any]]:
    """Rows from JSON (a list) or CSV (a header row); ``kind`` "json" / "csv", else guessed."""
    text = text.lstrip("\ufeff")
    if kind == "json" or (kind is None and text.lstrip()[:1] in ("[", "{")):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise InvalidInput(f"not valid JSON: {error}") from None
        if not isinstance(data, list) or not all(isinstance(row, dict) for row in data):
            raise InvalidInput("a JSON import is a list of objects")
        rows: list[dict[str, Any]] = data
    else:
        reader = csv.DictReader(io.StringIO(text))
        if not reader.fieldnames or "question" not in reader.fieldnames or "answer" not in reader.fieldnames:
            raise InvalidInput("a CSV import needs a header row with at least question, answer and language")
        rows = []
        for row in reader:
            item: dict[str, Any] = {k: v for k, v in row.items() if k and v not in (None, "")}
            for name in ("questions", "tags"):
                if name in item:
                    item[name] = [part.strip() for part in str(item[name]).split("|") if part.strip()]
            rows.append(item)
    if len(rows) > MAX_ROWS:
        raise InvalidInput(f"at most {MAX_ROWS} articles per import")
    return rows


def to_articles(rows: list[dict[str, Any]]) -> list[ArticleIn]:
    """Validated articles; every problem of every row at once (row numbers from 1)."""
    articles: list[ArticleIn] = []
    problems: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for number, row in enumerate(rows, start=1):
        unknown = sorted(set(row) - set(COLUMNS))
        if unknown:
            problems.append({"row": number, "field": ",".join(unknown), "problem": "unknown field"})
            continue
        external = row.get("id")
        if external is not None:
            external = str(external).strip() or None
        question = str(row.get("question") or "").strip()
        questions = [question] + [str(q) for q in row.get("questions") or [] if str(q).strip() != question]
        data = {"external_id": external, "title": row.get("title"), "questions": questions,
                "answer": row.get("answer"), "language": row.get("language"), "category": row.get("category"),
                "tags": row.get("tags") or [], "status": row.get("status") or "published"}
        if not question:
            problems.append({"row": number, "field": "question", "problem": "is required"})
            continue
        try:
            article = ArticleIn.model_validate(data)
        except ValidationError as error:
            for item in error.errors():
                field = ".".join(str(p) for p in item["loc"]) or "row"
                problems.append({"row": number, "field": "id" if field == "external_id" else field,
                                 "problem": item["msg"]})
            continue
        if external is not None:
            if external in seen:
                problems.append({"row": number, "field": "id", "problem": f"repeats row {seen[external]}"})
                continue
            seen[external] = number
        articles.append(article)
    if problems:
        first = problems[0]
        raise InvalidInput(f"{len(problems)} problem(s); row {first['row']}, {first['field']}: {first['problem']}",
                           problems=problems[:200])
    return articles


def export_row(article: Article) -> dict[str, Any]:
    return {"id": article.external_id, "question": article.questions[0] if article.questions else article.title,
            "answer": article.answer, "language": article.language, "category": article.category,
            "title": article.title, "questions": list(article.questions[1:]), "tags": list(article.tags),
            "status": article.status}


def export_text(articles: list[Article], kind: str) -> str:
    rows = [export_row(a) for a in articles]
    if kind == "json":
        return json.dumps(rows, ensure_ascii=False, indent=1)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(COLUMNS), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({**row, "questions": LIST_SEPARATOR.join(row["questions"]),
                         "tags": LIST_SEPARATOR.join(row["tags"]), "category": row["category"] or ""})
    return out.getvalue()
