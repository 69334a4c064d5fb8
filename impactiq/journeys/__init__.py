"""The journeys layer: multi-touch attribution over touchpoint logs.

Which touchpoints a converting person saw, and how much of the conversion each earns. Logs are
mapped and checked (`events`), linked to people through phones, e-mails and customer ids
(`identity`), cut into each conversion's path (`paths`), and credited by rule (`heuristics`),
by Markov removal effect (`markov`) and by Shapley value (`shapley`), side by side
(`attribution`). It sits above `decisions`, so that the causal check can hold credit against the
lift the experiment layers measure, and below `present`.
"""
