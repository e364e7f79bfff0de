"""Knowledge base: articles with versions, import/export, search (BM25 with Sudachi and Snowball,
optional semantic re-rank), used by the bot and suggested to agents."""
