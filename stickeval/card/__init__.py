"""Model cards: a run's metrics into a card's `model-index` (byte-preserving YAML edits), the Hub's `.eval_results` entries,
and where a card is read from and written to (a local README.md, a variant's Hub repo)."""
