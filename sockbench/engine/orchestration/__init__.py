"""A run from start to result: its steps (:mod:`.runner`), what it measured
(:mod:`.measurement`), and the coordinator that lines workers up on one window and
merges what they measured (:mod:`.coordinator`), whichever backend runs them.
"""
