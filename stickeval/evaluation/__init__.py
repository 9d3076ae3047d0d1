"""The evaluation pipeline: a suite's prompts -> generation (cached on disk) -> scores -> results.json.

`run` (evaluate, score, RunSettings), `scoring` (every metric on the cached rollouts), `cache` (rollouts on disk),
`results` (the results.json schema), `baselines` (the context rows and the memorisation flag), `validity`
(the metric-validity study behind `stickeval validate-metrics`) and `validity_markdown` (its tables as Markdown).
"""
