"""The engine's own words, in both languages. A flow's ``texts`` overrides any of them."""

from __future__ import annotations

DEFAULTS: dict[str, dict[str, str]] = {
    "feedback": {"ja": "この回答で解決しましたか？", "en": "Did this answer your question?"},
    "yes": {"ja": "はい", "en": "Yes"},
    "no": {"ja": "いいえ", "en": "No"},
    "did_you_mean": {"ja": "次のどれについてのご質問ですか？", "en": "Which of these is your question about?"},
    "none_of_these": {"ja": "どれでもない", "en": "None of these"},
    "rephrase": {"ja": "申し訳ありません、お答えが見つかりませんでした。別の言葉でもう一度お聞かせください。",
                 "en": "Sorry, I could not find an answer. Could you put it another way?"},
    "glad": {"ja": "お役に立ててよかったです。ほかにご質問があればどうぞ。",
             "en": "Glad that helped. Anything else I can help with?"},
    "choose": {"ja": "選択肢から選んでください。", "en": "Please choose one of the options."},
    "digits": {"ja": "数字で入力してください。", "en": "Please enter the number in digits."},
    "empty": {"ja": "もう一度入力してください。", "en": "Please type your answer."},
}
