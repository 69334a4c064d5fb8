"""The decisions layer: what a model's estimates mean for whom to contact and where money goes.

Profiles, persuadability classes, profit, what-if, explanations, segments, budget allocation and
targeting strategies. Returns numbers and tables of numbers; turning them into text and charts is
the present layer's job.
"""
