"""``madoguchi kb import`` and ``madoguchi kb search`` against a database the command migrates."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from madoguchi.cli import main

FIXTURE = Path(__file__).parent / "faq_fixture.json"


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "cli.db"
    monkeypatch.setenv("MADOGUCHI_DATABASE_URL", f"sqlite:///{path}")
    monkeypatch.setenv("MADOGUCHI_LOG_LEVEL", "WARNING")
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().out


def test_import_then_search_json_and_reimport_updates(database: Path, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(capsys, "kb", "import", str(FIXTURE))
    assert code == 0
    summary = json.loads(out)
    assert (summary["created"], summary["updated"], summary["unchanged"]) == (20, 0, 0)

    code, out = run(capsys, "kb", "search", "商品を返品したいです", "--language", "ja", "--top", "3", "--json")
    assert code == 0
    hits = json.loads(out)
    assert len(hits) == 3 and set(hits[0]) == {"article_id", "external_id", "title", "score"}
    assert hits[0]["external_id"] == "ja-return" and hits[0]["title"] == "返品の方法を教えてください"
    assert hits[0]["score"] >= hits[1]["score"] >= hits[2]["score"]

    changed = json.loads(FIXTURE.read_text(encoding="utf-8"))
    changed[2]["answer"] = "返品はマイページから受け付けます。"
    csv_path = tmp_path / "faq.csv"
    csv_path.write_text("id,question,answer,language,category\n" + "\n".join(
        f'{r["id"]},"{r["question"]}","{r["answer"]}",{r["language"]},{r["category"]}' for r in changed) + "\n",
        encoding="utf-8")
    code, out = run(capsys, "kb", "import", str(csv_path))
    assert code == 0
    summary = json.loads(out)
    assert (summary["created"], summary["updated"], summary["unchanged"]) == (0, 1, 19)


def test_search_many_queries_in_one_process(database: Path, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "kb", "import", str(FIXTURE))[0] == 0
    queries = tmp_path / "queries.txt"
    queries.write_text("forgot password\nパスワードを忘れた\nstore hours\n", encoding="utf-8")
    code, out = run(capsys, "kb", "search", "--queries", str(queries), "--top", "2", "--json")
    assert code == 0
    lines = [json.loads(line) for line in out.splitlines()]
    assert [line["query"] for line in lines] == ["forgot password", "パスワードを忘れた", "store hours"]
    assert [line["results"][0]["external_id"] for line in lines] == ["en-password", "ja-password", "en-store"]
    assert all(len(line["results"]) == 2 for line in lines)


def test_bad_import_reports_rows_and_writes_nothing(database: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"question": "q", "answer": "a", "language": "de"}]), encoding="utf-8")
    assert main(["kb", "import", str(bad)]) == 2
    assert "row 1: language" in capsys.readouterr().err
    code, out = run(capsys, "kb", "search", "q", "--json")
    assert code == 0 and json.loads(out) == []


def test_unreadable_files_get_a_clear_error(database: Path, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    latin = tmp_path / "latin1.csv"
    latin.write_bytes("id,question,answer,language,category\n1,caf\xe9?,oui,en,x\n".encode("latin-1"))
    cases = [(["kb", "import", str(tmp_path / "missing.json")], "cannot read"),
             (["kb", "import", str(tmp_path)], "cannot read"),
             (["kb", "import", str(latin)], "not UTF-8"),
             (["kb", "search", "--queries", str(tmp_path / "none.txt"), "--json"], "cannot read")]
    for argv, said in cases:
        assert main(argv) == 2
        captured = capsys.readouterr()
        assert said in captured.err and captured.out == ""
